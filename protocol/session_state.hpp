#pragma once
// The state of one Double Ratchet session and the record that keeps a device's current session
// with a peer plus a bounded number of archived ones (a peer may still send on an older session
// after a simultaneous initiation or a reinstall).
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "base/bytes.hpp"
#include "base/result.hpp"
#include "crypto/keys.hpp"
#include "protocol/chain_key.hpp"

namespace pp::protocol {

// Bounds, as in libsignal: they cap memory and the work a hostile sender can make us do.
inline constexpr std::size_t kMaxReceiverChains = 5;
inline constexpr std::size_t kMaxSkippedMessageKeys = 2000;  // stored per receiver chain
inline constexpr std::uint32_t kMaxForwardJump = 2000;       // counters we will ratchet ahead
inline constexpr std::size_t kMaxArchivedSessions = 40;

struct ReceiverChain {
    crypto::PublicKey sender_ratchet_key;
    ChainKey chain_key;
    std::deque<MessageKeys> skipped;  // oldest first
};

// Until the initiator hears back, every message it sends repeats the X3DH parameters.
struct PendingPreKey {
    std::optional<std::uint32_t> prekey_id;
    std::uint32_t signed_prekey_id = 0;
    crypto::PublicKey base_key;
};

struct SessionState {
    std::uint32_t version = 3;
    crypto::PublicKey local_identity;
    crypto::PublicKey remote_identity;
    std::uint32_t local_registration_id = 0;
    std::uint32_t remote_registration_id = 0;
    crypto::PublicKey alice_base_key;

    RootKey root_key;
    std::uint32_t previous_counter = 0;
    crypto::KeyPair sender_ratchet;
    ChainKey sender_chain;
    std::vector<ReceiverChain> receiver_chains;  // newest first
    std::optional<PendingPreKey> pending_prekey;

    ReceiverChain* find_receiver_chain(const crypto::PublicKey& sender_ratchet_key);
    void add_receiver_chain(const crypto::PublicKey& sender_ratchet_key, ChainKey chain);
};

class SessionRecord {
  public:
    bool has_current() const { return current_.has_value(); }
    SessionState* current() { return current_ ? &*current_ : nullptr; }
    const SessionState* current() const { return current_ ? &*current_ : nullptr; }
    std::deque<SessionState>& previous() { return previous_; }
    const std::deque<SessionState>& previous() const { return previous_; }

    // True when this record already holds the session a PreKeySignalMessage would create.
    bool has_session_state(std::uint32_t version, const crypto::PublicKey& alice_base_key) const;
    // Moves the current session to the archive (dropping the oldest past the bound).
    void archive_current();
    // Makes `state` current, archiving the one it replaces.
    void promote(SessionState state);

    // Versioned serialization for clients to persist. The bytes contain secrets: keep them in
    // encrypted storage only.
    SecretBytes serialize() const;
    static Result<SessionRecord> deserialize(ByteView bytes);

  private:
    std::optional<SessionState> current_;
    std::deque<SessionState> previous_;  // newest first
};

}  // namespace pp::protocol

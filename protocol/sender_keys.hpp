#pragma once
// Signal Sender Keys (group messaging), byte-compatible with libsignal-protocol-c 2.3.3.
//
// Each group member owns one sending chain per group and hands it to the others in a
// SenderKeyDistributionMessage (sent over the pairwise sessions). Messages are then encrypted
// once for the whole group:
//   chain step        seed = HMAC(CK, 0x01), next CK = HMAC(CK, 0x02)
//   message keys      HKDF-SHA256(seed, 32 zero bytes, "WhisperGroup", 48) = iv 16 || key 32
//   ciphertext        AES-256-CBC/PKCS#7, carried in a SenderKeyMessage signed with the
//                     chain's signing key (there is no MAC; the signature is the integrity check).
//
// A SenderKeyRecord holds the states for one (group, sender) pair: our own sending state, or the
// states a peer distributed to us. Naming records and persisting them is the caller's business.
// Removing a member means rotating our own state (new key id, chain and signing key) and
// distributing it to the remaining members only.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "base/bytes.hpp"
#include "base/result.hpp"
#include "crypto/keys.hpp"
#include "protocol/chain_key.hpp"
#include "protocol/messages.hpp"

namespace pp::protocol {

// States kept per record; the oldest is dropped when a sixth arrives (as the reference does).
inline constexpr std::size_t kMaxSenderKeyStates = 5;
// Message keys kept per state for late messages; the oldest is dropped beyond this.
inline constexpr std::size_t kMaxSenderMessageKeys = 2000;
// The furthest a message may be ahead of the chain. The reference refuses a jump of more than
// 2000 iterations, so exactly 2000 is still accepted.
inline constexpr std::uint32_t kMaxSenderKeyForwardJump = 2000;
// First byte of SenderKeyRecord::serialize(); bump when the layout changes.
inline constexpr std::uint8_t kSenderKeyRecordFormat = 1;
// Leaves room for the message framing, padding and signature within kMaxMessageSize, so that
// every message we send is one a receiver accepts.
inline constexpr std::size_t kMaxGroupPlaintextSize = kMaxMessageSize - 256;
// Key ids are 31-bit like the reference's (a positive Java int on other clients).
inline constexpr std::uint32_t kMaxSenderKeyId = 0x7fffffff;

// The keys for one group message.
class SenderMessageKey {
  public:
    static SenderMessageKey derive(std::uint32_t iteration, ByteView seed);

    std::uint32_t iteration() const { return iteration_; }
    const SecretArray<16>& iv() const { return iv_; }
    const SecretArray<32>& cipher_key() const { return cipher_key_; }

  private:
    std::uint32_t iteration_ = 0;
    SecretArray<16> iv_;
    SecretArray<32> cipher_key_;
};

// A position in a sending chain: the iteration the key produces the next message for.
class SenderChainKey {
  public:
    SenderChainKey() = default;
    SenderChainKey(std::uint32_t iteration, ByteView key) : chain_(key, iteration) {}

    std::uint32_t iteration() const { return chain_.index(); }
    const SecretArray<32>& key() const { return chain_.key(); }
    SenderChainKey next() const;
    SecretArray<32> message_seed() const { return chain_.message_seed(); }
    SenderMessageKey message_key() const;

  private:
    explicit SenderChainKey(ChainKey c) : chain_(std::move(c)) {}
    ChainKey chain_;
};

// A message key kept for a message that has not arrived yet. Only the seed is stored; the
// keys are derived from it when the message comes.
struct SkippedSenderKey {
    std::uint32_t iteration = 0;
    SecretArray<32> seed;
};

class SenderKeyState {
  public:
    SenderKeyState(std::uint32_t key_id, SenderChainKey chain,
                   const crypto::PublicKey& signing_public,
                   std::optional<crypto::PrivateKey> signing_private = std::nullopt);

    std::uint32_t key_id() const { return key_id_; }
    const SenderChainKey& chain_key() const { return chain_; }
    const crypto::PublicKey& signing_public() const { return signing_public_; }
    // Present only in our own sending state.
    const std::optional<crypto::PrivateKey>& signing_private() const { return signing_private_; }
    // Ordered by iteration, oldest first; all below chain_key().iteration().
    const std::vector<SkippedSenderKey>& skipped_keys() const { return skipped_; }

    void set_chain_key(SenderChainKey chain) { chain_ = std::move(chain); }
    bool has_skipped_key(std::uint32_t iteration) const;
    // Appends keys of increasing iteration and drops the oldest beyond kMaxSenderMessageKeys.
    void add_skipped_keys(std::vector<SkippedSenderKey> keys);
    // Decrypts a late message with the key stored for `iteration`, deriving it once, and
    // removes that key only if the message decrypts. kDuplicateMessage if no key is stored
    // (it was used already, or dropped).
    Result<Bytes> decrypt_with_skipped_key(std::uint32_t iteration, ByteView ciphertext);

  private:
    friend class SenderKeyRecord;  // deserialization fills skipped_ after validating it
    std::uint32_t key_id_;
    SenderChainKey chain_;
    crypto::PublicKey signing_public_;
    std::optional<crypto::PrivateKey> signing_private_;
    std::vector<SkippedSenderKey> skipped_;
};

class SenderKeyRecord {
  public:
    bool empty() const { return states_.empty(); }
    // Newest first.
    const std::vector<SenderKeyState>& states() const { return states_; }
    SenderKeyState* current() { return states_.empty() ? nullptr : &states_.front(); }
    const SenderKeyState* current() const { return states_.empty() ? nullptr : &states_.front(); }
    SenderKeyState* find(std::uint32_t key_id);
    const SenderKeyState* find(std::uint32_t key_id) const;

    // Puts `state` first, dropping the oldest states beyond kMaxSenderKeyStates.
    void add_state(SenderKeyState state);
    // Replaces every state by `state` (our own record after a rotation).
    void set_state(SenderKeyState state);

    // Format version byte, then protobuf-style fields. The output contains chain keys and
    // possibly a signing private key: callers must encrypt it at rest.
    SecretBytes serialize() const;
    // Strict: anything malformed, oversized or inconsistent gives kMalformed; an unknown format
    // byte gives kInvalidVersion.
    static Result<SenderKeyRecord> deserialize(ByteView bytes);

  private:
    std::vector<SenderKeyState> states_;
};

// --- Sender side (our own record for a group) ---

// Creates our sending state if the record is empty (random 31-bit key id, random chain key at
// iteration 0, fresh signing key pair) and returns the distribution message for the current
// chain position. kInvalidKey if the record holds a state without a signing private key.
Result<SenderKeyDistributionMessage> create_sender_key_distribution(SenderKeyRecord& own);

// Replaces our sending state with a fresh one (a key id different from the old one) and returns
// its distribution message. Used when a member leaves: they cannot follow the new chain.
SenderKeyDistributionMessage rotate_sender_key(SenderKeyRecord& own);

// Encrypts with the current state and advances its chain. kNoSession without a state,
// kInvalidKey if it is not ours (no private key), kLimitExceeded if the chain is exhausted.
Result<Bytes> group_encrypt(SenderKeyRecord& own, ByteView plaintext);

// --- Receiver side (the record for one sender in one group) ---

// Adds the sender's state. A repeated distribution message for a chain we already follow (same
// key id and signing key) keeps our state if it is not behind the message, so a replayed or
// stale message cannot rewind the chain and re-open already used message keys.
Result<void> process_sender_key_distribution(SenderKeyRecord& theirs,
                                             const SenderKeyDistributionMessage& message);
Result<void> process_sender_key_distribution(SenderKeyRecord& theirs, ByteView serialized);

// Checks the signature first (kInvalidSignature), then finds the message key: stored for a late
// message, or derived forward (at most kMaxSenderKeyForwardJump). kNoSession for an unknown key
// id, kDuplicateMessage for a key already used, kTooFarInFuture beyond the jump limit. The
// record changes only when the message decrypts.
Result<Bytes> group_decrypt(SenderKeyRecord& theirs, ByteView serialized);

}  // namespace pp::protocol

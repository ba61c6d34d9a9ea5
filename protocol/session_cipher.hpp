#pragma once
// Pairwise sessions: starting one from a prekey bundle, and encrypting and decrypting with the
// Double Ratchet. Every function works on a copy of the record and writes it back only on
// success, so a message that fails to decrypt leaves stored state exactly as it was.
#include <cstdint>
#include <optional>

#include "base/bytes.hpp"
#include "base/result.hpp"
#include "protocol/messages.hpp"
#include "protocol/prekeys.hpp"
#include "protocol/session_state.hpp"

namespace pp::protocol {

// The keys a responder needs to answer a PreKeySignalMessage; the caller's store behind it.
class LocalPreKeys {
  public:
    virtual ~LocalPreKeys() = default;
    virtual const IdentityKeyPair& identity() const = 0;
    virtual std::uint32_t registration_id() const = 0;
    virtual const SignedPreKeyRecord* signed_prekey(std::uint32_t id) const = 0;
    virtual const PreKeyRecord* prekey(std::uint32_t id) const = 0;
};

struct CiphertextMessage {
    MessageType type;
    Bytes bytes;
};

struct PreKeyDecryption {
    Bytes plaintext;
    // The one-time prekey this message consumed: delete it from the store now.
    std::optional<std::uint32_t> consumed_prekey_id;
    crypto::PublicKey remote_identity;
    std::uint32_t remote_registration_id = 0;
};

// Alice's side of X3DH. `trusted_identity`, when given, must equal the bundle's identity key
// (the key from a contact link or an earlier conversation): otherwise kUntrustedIdentity.
Result<void> process_prekey_bundle(SessionRecord& record, const IdentityKeyPair& our_identity,
                                   std::uint32_t our_registration_id, const PreKeyBundle& bundle,
                                   const std::optional<crypto::PublicKey>& trusted_identity);

Result<CiphertextMessage> encrypt(SessionRecord& record, ByteView plaintext);

Result<Bytes> decrypt_signal_message(SessionRecord& record, ByteView serialized);

Result<PreKeyDecryption> decrypt_prekey_message(
    SessionRecord& record, const LocalPreKeys& keys, ByteView serialized,
    const std::optional<crypto::PublicKey>& trusted_identity);

}  // namespace pp::protocol

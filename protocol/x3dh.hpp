#pragma once
// X3DH key agreement (Signal's specification) producing the first Double Ratchet state.
//   master secret = 0xFF * 32 || DH1 || DH2 || DH3 [|| DH4]
//   root key, chain key = HKDF-SHA256(master, salt = 32 zero bytes, "WhisperText", 64)
#include <optional>

#include "base/result.hpp"
#include "crypto/keys.hpp"
#include "protocol/prekeys.hpp"
#include "protocol/session_state.hpp"

namespace pp::protocol {

struct AliceParameters {
    const IdentityKeyPair& our_identity;
    const crypto::KeyPair& our_base_key;
    crypto::PublicKey their_identity;
    crypto::PublicKey their_signed_prekey;
    std::optional<crypto::PublicKey> their_one_time_prekey;
};

struct BobParameters {
    const IdentityKeyPair& our_identity;
    const crypto::KeyPair& our_signed_prekey;
    const crypto::KeyPair* our_one_time_prekey;  // null when the message named none
    crypto::PublicKey their_identity;
    crypto::PublicKey their_base_key;
};

// The initiator: Bob's signed prekey doubles as his first ratchet key, so Alice performs one
// DH ratchet step at once and can send before hearing back.
Result<SessionState> initialize_alice_session(const AliceParameters& p);
// The responder: his signed prekey is his first sending ratchet key.
Result<SessionState> initialize_bob_session(const BobParameters& p);

}  // namespace pp::protocol

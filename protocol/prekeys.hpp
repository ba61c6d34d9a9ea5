#pragma once
// Long-term and medium-term keys a device publishes: its identity key, a signed prekey and a
// batch of one-time prekeys, plus the bundle a peer fetches to start a session (X3DH).
#include <cstdint>
#include <optional>
#include <vector>

#include "base/bytes.hpp"
#include "base/result.hpp"
#include "crypto/keys.hpp"
#include "crypto/xeddsa.hpp"

namespace pp::protocol {

// The identity key both agrees (X3DH) and signs (XEdDSA); one X25519 key pair does both.
using IdentityKeyPair = crypto::KeyPair;

struct PreKeyRecord {
    std::uint32_t id = 0;
    crypto::KeyPair key_pair;
};

struct SignedPreKeyRecord {
    std::uint32_t id = 0;
    crypto::KeyPair key_pair;
    crypto::Signature signature{};
    std::uint64_t timestamp_ms = 0;  // handed in by the caller: this layer reads no clock
};

// What a server hands out for one device of an account.
struct PreKeyBundle {
    std::uint32_t registration_id = 0;
    std::uint32_t device_id = 1;
    std::optional<std::uint32_t> prekey_id;
    std::optional<crypto::PublicKey> prekey;
    std::uint32_t signed_prekey_id = 0;
    crypto::PublicKey signed_prekey;
    crypto::Signature signed_prekey_signature{};
    crypto::PublicKey identity_key;
};

// Versioned binary forms for the client's key store. Private keys are inside: keep the bytes in
// encrypted storage only. Parsing is strict (kMalformed / kInvalidVersion).
SecretBytes serialize_identity(const IdentityKeyPair& identity);
Result<IdentityKeyPair> deserialize_identity(ByteView bytes);
SecretBytes serialize_prekey(const PreKeyRecord& record);
Result<PreKeyRecord> deserialize_prekey(ByteView bytes);
SecretBytes serialize_signed_prekey(const SignedPreKeyRecord& record);
Result<SignedPreKeyRecord> deserialize_signed_prekey(ByteView bytes);

// The public bundle a device publishes: its identity, signed prekey and (optionally) one
// one-time prekey.
PreKeyBundle make_bundle(const IdentityKeyPair& identity, std::uint32_t registration_id,
                         const SignedPreKeyRecord& signed_prekey, const PreKeyRecord* one_time);

// Registration ids are 14-bit, non-zero, as in libsignal.
std::uint32_t generate_registration_id();

SignedPreKeyRecord generate_signed_prekey(const IdentityKeyPair& identity, std::uint32_t id,
                                          std::uint64_t timestamp_ms);

// Ids wrap within libsignal's "medium" range [1, 0xFFFFFE] so they stay valid on every peer.
std::vector<PreKeyRecord> generate_prekeys(std::uint32_t start_id, std::uint32_t count);

// Checks the identity key's XEdDSA signature over the 33-byte serialized signed prekey.
bool verify_signed_prekey(const crypto::PublicKey& identity, const crypto::PublicKey& signed_prekey,
                          ByteView signature);

}  // namespace pp::protocol

#pragma once
// Device authentication and proof-of-work registration: pure functions, no I/O.
#include <cstdint>

#include "base/bytes.hpp"
#include "crypto/keys.hpp"
#include "store/store.hpp"

namespace pp::server {

inline constexpr std::size_t kNonceBytes = 32;

// The bytes a device signs: "paperplane-auth-v1" || nonce || account id || device id (BE).
Bytes auth_message(ByteView nonce, const store::AccountId& account, std::uint32_t device);

bool verify_auth_signature(const crypto::PublicKey& identity, ByteView nonce,
                           const store::AccountId& account, std::uint32_t device,
                           ByteView signature);

// True when SHA-256(challenge || nonce) starts with `difficulty` zero bits.
bool pow_satisfied(ByteView challenge, ByteView nonce, unsigned difficulty);

}  // namespace pp::server

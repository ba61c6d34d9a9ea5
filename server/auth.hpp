#pragma once
// Device authentication and proof-of-work registration: pure functions, no I/O. The byte
// strings themselves are the wire contract (wire/auth.hpp), shared with the client.
#include <cstdint>

#include "base/bytes.hpp"
#include "crypto/keys.hpp"
#include "store/store.hpp"
#include "wire/auth.hpp"

namespace pp::server {

inline constexpr std::size_t kNonceBytes = 32;

// The bytes a device signs: "paperplane-auth-v1" || nonce || account id || device id (BE).
inline Bytes auth_message(ByteView nonce, const store::AccountId& account, std::uint32_t device) {
    return wire::auth_message(nonce, account, device);
}

bool verify_auth_signature(const crypto::PublicKey& identity, ByteView nonce,
                           const store::AccountId& account, std::uint32_t device,
                           ByteView signature);

using wire::pow_satisfied;

}  // namespace pp::server

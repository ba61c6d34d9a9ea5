#include "server/auth.hpp"

#include "crypto/xeddsa.hpp"

namespace pp::server {

bool verify_auth_signature(const crypto::PublicKey& identity, ByteView nonce,
                           const store::AccountId& account, std::uint32_t device,
                           ByteView signature) {
    return crypto::xeddsa_verify(identity, auth_message(nonce, account, device), signature);
}

}  // namespace pp::server

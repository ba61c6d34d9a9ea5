#pragma once
// Encryption at rest for a profile: the profile key (from a passphrase with Argon2id, or random
// in a 0600 key file) and sealing of individual database values with XChaCha20-Poly1305.
// Every sealed value is bound to where it lives (associated data: table and row key), so a
// value copied into another row or table does not open.
#include <cstdint>
#include <string_view>

#include "base/bytes.hpp"
#include "base/result.hpp"

namespace pp::client {

using ProfileKey = SecretArray<32>;

struct PassphraseParams {
    Bytes salt;                  // crypto_pwhash_SALTBYTES, random per profile
    std::uint64_t opslimit = 0;  // crypto_pwhash_OPSLIMIT_INTERACTIVE unless configured
    std::uint64_t memlimit = 0;  // crypto_pwhash_MEMLIMIT_INTERACTIVE unless configured
};

PassphraseParams new_passphrase_params();
// Argon2id13. kInternal if libsodium refuses (out of memory); kMalformed if the salt is not
// SALTBYTES long or a limit lies outside [MIN, SENSITIVE] (parameters read from a file).
Result<ProfileKey> derive_profile_key(std::string_view passphrase, const PassphraseParams& p);
ProfileKey random_profile_key();

// nonce (24) || ciphertext || tag (16).
Bytes seal(const ProfileKey& key, ByteView plaintext, std::string_view associated);
// kBadMac when the value was not sealed by this key for this place (or was altered).
Result<SecretBytes> unseal(const ProfileKey& key, ByteView sealed, std::string_view associated);

}  // namespace pp::client

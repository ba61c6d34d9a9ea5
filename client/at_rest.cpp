#include "client/at_rest.hpp"

#include <sodium.h>

#include "crypto/init.hpp"

namespace pp::client {
namespace {

constexpr std::size_t kNonceSize = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t kTagSize = crypto_aead_xchacha20poly1305_ietf_ABYTES;
static_assert(ProfileKey::size() == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);

const unsigned char* ad_ptr(std::string_view ad) {
    return reinterpret_cast<const unsigned char*>(ad.data());
}

}  // namespace

PassphraseParams new_passphrase_params() {
    crypto::ensure_initialized();
    PassphraseParams p;
    p.salt.resize(crypto_pwhash_SALTBYTES);
    randombytes_buf(p.salt.data(), p.salt.size());
    p.opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    p.memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    return p;
}

Result<ProfileKey> derive_profile_key(std::string_view passphrase, const PassphraseParams& p) {
    crypto::ensure_initialized();
    if (p.salt.size() != crypto_pwhash_SALTBYTES) {
        return make_error(ErrorCode::kMalformed, "passphrase salt has the wrong size");
    }
    // The parameters come from the profile file: bound them, so a tampered file cannot make an
    // open take hours or all memory. SENSITIVE is the most any profile is created with.
    if (p.opslimit < crypto_pwhash_OPSLIMIT_MIN || p.opslimit > crypto_pwhash_OPSLIMIT_SENSITIVE ||
        p.memlimit < crypto_pwhash_MEMLIMIT_MIN || p.memlimit > crypto_pwhash_MEMLIMIT_SENSITIVE) {
        return make_error(ErrorCode::kMalformed, "passphrase parameters out of range");
    }
    ProfileKey key;
    if (crypto_pwhash(key.data(), key.size(), passphrase.data(), passphrase.size(), p.salt.data(),
                      p.opslimit, static_cast<std::size_t>(p.memlimit),
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
        return make_error(ErrorCode::kInternal, "argon2id failed (out of memory)");
    }
    return key;
}

ProfileKey random_profile_key() {
    crypto::ensure_initialized();
    ProfileKey key;
    crypto_aead_xchacha20poly1305_ietf_keygen(key.data());
    return key;
}

Bytes seal(const ProfileKey& key, ByteView plaintext, std::string_view associated) {
    crypto::ensure_initialized();
    Bytes out(kNonceSize + plaintext.size() + kTagSize);
    randombytes_buf(out.data(), kNonceSize);
    unsigned long long written = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out.data() + kNonceSize, &written, plaintext.data(),
                                               plaintext.size(), ad_ptr(associated),
                                               associated.size(), nullptr, out.data(), key.data());
    out.resize(kNonceSize + static_cast<std::size_t>(written));
    return out;
}

Result<SecretBytes> unseal(const ProfileKey& key, ByteView sealed, std::string_view associated) {
    crypto::ensure_initialized();
    if (sealed.size() < kNonceSize + kTagSize) {
        return make_error(ErrorCode::kBadMac, "sealed value too short");
    }
    SecretBytes out(sealed.size() - kNonceSize - kTagSize);
    unsigned long long written = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            out.data(), &written, nullptr, sealed.data() + kNonceSize, sealed.size() - kNonceSize,
            ad_ptr(associated), associated.size(), sealed.data(), key.data()) != 0) {
        return make_error(ErrorCode::kBadMac, "sealed value does not open");
    }
    return out;
}

}  // namespace pp::client

#include "crypto/signing.hpp"

#include <sodium.h>

#include <algorithm>

#include "crypto/init.hpp"

namespace pp::crypto {

static_assert(crypto_sign_PUBLICKEYBYTES == kVerifyKeySize);
static_assert(crypto_sign_SECRETKEYBYTES == kSigningKeySize);
static_assert(crypto_sign_SEEDBYTES == kSigningSeedSize);
static_assert(crypto_sign_BYTES == kEd25519SignatureSize);

Result<VerifyKey> VerifyKey::from_bytes(ByteView raw) {
    if (raw.size() != kVerifyKeySize) {
        return make_error(ErrorCode::kInvalidKey, "verify key must be 32 bytes");
    }
    VerifyKey k;
    std::copy(raw.begin(), raw.end(), k.key_.begin());
    return k;
}

SigningKey SigningKey::generate() {
    ensure_initialized();
    SigningKey k;
    std::uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    crypto_sign_keypair(pk, k.key_.data());
    return k;
}

Result<SigningKey> SigningKey::from_seed(ByteView seed) {
    if (seed.size() != kSigningSeedSize) {
        return make_error(ErrorCode::kInvalidKey, "signing key seed must be 32 bytes");
    }
    ensure_initialized();
    SigningKey k;
    std::uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    crypto_sign_seed_keypair(pk, k.key_.data(), seed.data());
    return k;
}

VerifyKey SigningKey::verify_key() const {
    ensure_initialized();
    std::array<std::uint8_t, kVerifyKeySize> pk{};
    crypto_sign_ed25519_sk_to_pk(pk.data(), key_.data());
    return VerifyKey::from_bytes(pk).value();
}

SecretArray<kSigningSeedSize> SigningKey::seed() const {
    SecretArray<kSigningSeedSize> s;
    crypto_sign_ed25519_sk_to_seed(s.data(), key_.data());
    return s;
}

Ed25519Signature sign(const SigningKey& key, ByteView message) {
    ensure_initialized();
    Ed25519Signature sig{};
    crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), key.secret().data());
    return sig;
}

Result<void> verify(const VerifyKey& key, ByteView message, ByteView signature) {
    ensure_initialized();
    if (signature.size() != kEd25519SignatureSize ||
        crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                    key.raw().data()) != 0) {
        return make_error(ErrorCode::kInvalidSignature, "Ed25519 signature does not verify");
    }
    return {};
}

}  // namespace pp::crypto

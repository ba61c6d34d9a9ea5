#include "crypto/keys.hpp"

#include <sodium.h>

#include <algorithm>

#include "crypto/init.hpp"
#include "crypto/random.hpp"

namespace pp::crypto {

PublicKey PublicKey::from_raw(std::span<const std::uint8_t, kKeySize> raw) {
    PublicKey k;
    std::copy(raw.begin(), raw.end(), k.key_.begin());
    return k;
}

Result<PublicKey> PublicKey::deserialize(ByteView serialized) {
    if (serialized.size() != kSerializedPublicKeySize)
        return make_error(ErrorCode::kInvalidKey, "public key is not 33 bytes");
    if (serialized[0] != kDjbKeyType)
        return make_error(ErrorCode::kInvalidKey, "public key type byte is not 0x05");
    return from_raw(serialized.subspan<1, kKeySize>());
}

std::array<std::uint8_t, kSerializedPublicKeySize> PublicKey::serialize() const {
    std::array<std::uint8_t, kSerializedPublicKeySize> out{};
    out[0] = kDjbKeyType;
    std::copy(key_.begin(), key_.end(), out.begin() + 1);
    return out;
}

static void clamp(std::uint8_t* k) {
    k[0] &= 248;
    k[31] &= 127;
    k[31] |= 64;
}

PrivateKey PrivateKey::generate() {
    PrivateKey k;
    random_bytes(k.key_.span());
    clamp(k.key_.data());
    return k;
}

Result<PrivateKey> PrivateKey::from_raw(ByteView raw) {
    if (raw.size() != kKeySize)
        return make_error(ErrorCode::kInvalidKey, "private key is not 32 bytes");
    PrivateKey k;
    k.key_ = SecretArray<kKeySize>(raw);
    clamp(k.key_.data());
    return k;
}

PublicKey PrivateKey::public_key() const {
    ensure_initialized();
    std::array<std::uint8_t, kKeySize> pub{};
    crypto_scalarmult_curve25519_base(pub.data(), key_.data());
    return PublicKey::from_raw(pub);
}

KeyPair KeyPair::generate() {
    return from_private(PrivateKey::generate());
}

KeyPair KeyPair::from_private(PrivateKey priv) {
    KeyPair kp;
    kp.public_key = priv.public_key();
    kp.private_key = std::move(priv);
    return kp;
}

Result<SharedSecret> agree(const PrivateKey& ours, const PublicKey& theirs) {
    ensure_initialized();
    SharedSecret out;
    if (crypto_scalarmult_curve25519(out.data(), ours.secret().data(), theirs.raw().data()) != 0)
        return make_error(ErrorCode::kInvalidKey, "X25519 produced the all-zero secret");
    return out;
}

}  // namespace pp::crypto

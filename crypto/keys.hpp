#pragma once
// Curve25519 keys in the Signal wire form. A public key serializes as 0x05 || 32 bytes
// (the "DJB" type byte); private keys are 32-byte clamped X25519 scalars wiped on destruction.
#include <array>
#include <compare>
#include <cstdint>

#include "base/bytes.hpp"
#include "base/result.hpp"

namespace pp::crypto {

inline constexpr std::uint8_t kDjbKeyType = 0x05;
inline constexpr std::size_t kKeySize = 32;
inline constexpr std::size_t kSerializedPublicKeySize = 33;

class PublicKey {
  public:
    PublicKey() { key_.fill(0); }
    static PublicKey from_raw(std::span<const std::uint8_t, kKeySize> raw);
    // Accepts exactly 33 bytes with the 0x05 type byte.
    static Result<PublicKey> deserialize(ByteView serialized);

    std::array<std::uint8_t, kSerializedPublicKeySize> serialize() const;
    const std::array<std::uint8_t, kKeySize>& raw() const { return key_; }
    ByteView view() const { return {key_.data(), key_.size()}; }

    friend bool operator==(const PublicKey&, const PublicKey&) = default;
    friend auto operator<=>(const PublicKey&, const PublicKey&) = default;

  private:
    std::array<std::uint8_t, kKeySize> key_;
};

class PrivateKey {
  public:
    PrivateKey() = default;
    static PrivateKey generate();
    // Clamps the scalar the way X25519 does, so any 32 bytes make a valid key.
    static Result<PrivateKey> from_raw(ByteView raw);

    PublicKey public_key() const;
    const SecretArray<kKeySize>& secret() const { return key_; }

  private:
    SecretArray<kKeySize> key_;
};

struct KeyPair {
    PublicKey public_key;
    PrivateKey private_key;

    static KeyPair generate();
    static KeyPair from_private(PrivateKey priv);
};

using SharedSecret = SecretArray<32>;

// X25519. A result of all zeros (a low-order peer key) is refused: libsodium checks it, and a
// session built on a known secret would be no session at all.
Result<SharedSecret> agree(const PrivateKey& ours, const PublicKey& theirs);

}  // namespace pp::crypto

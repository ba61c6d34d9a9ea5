#pragma once
// Ed25519 signatures (RFC 8032, via libsodium) for keys that only sign: the server's endpoint
// list key. Identity keys sign with XEdDSA instead (crypto/xeddsa.hpp), because they also agree.
#include <array>
#include <cstdint>

#include "base/bytes.hpp"
#include "base/result.hpp"

namespace pp::crypto {

inline constexpr std::size_t kVerifyKeySize = 32;
inline constexpr std::size_t kSigningKeySize = 64;  // libsodium's seed || public key
inline constexpr std::size_t kSigningSeedSize = 32;
inline constexpr std::size_t kEd25519SignatureSize = 64;

using Ed25519Signature = std::array<std::uint8_t, kEd25519SignatureSize>;

class VerifyKey {
  public:
    VerifyKey() { key_.fill(0); }
    // Exactly 32 bytes; the point itself is checked when a signature is verified.
    static Result<VerifyKey> from_bytes(ByteView raw);

    const std::array<std::uint8_t, kVerifyKeySize>& raw() const { return key_; }
    ByteView view() const { return {key_.data(), key_.size()}; }

    friend bool operator==(const VerifyKey&, const VerifyKey&) = default;

  private:
    std::array<std::uint8_t, kVerifyKeySize> key_;
};

// The secret half, wiped on destruction. It has no printing or formatting operator on purpose;
// `seed()` exists only so the key can be stored (in a 0600 file).
class SigningKey {
  public:
    SigningKey() = default;
    static SigningKey generate();
    // The 32-byte RFC 8032 private key (the seed); the public half is derived from it.
    static Result<SigningKey> from_seed(ByteView seed);

    VerifyKey verify_key() const;
    SecretArray<kSigningSeedSize> seed() const;
    // libsodium's 64-byte form, for crypto_sign_detached.
    const SecretArray<kSigningKeySize>& secret() const { return key_; }

  private:
    SecretArray<kSigningKeySize> key_;
};

Ed25519Signature sign(const SigningKey& key, ByteView message);
// kInvalidSignature unless `signature` is 64 bytes and a valid signature of `message` by `key`.
Result<void> verify(const VerifyKey& key, ByteView message, ByteView signature);

}  // namespace pp::crypto

#include "crypto/xeddsa.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include "crypto/random.hpp"

namespace pp::crypto {
namespace {

TEST(XEdDsa, SignVerifyRoundTrip) {
    for (int i = 0; i < 64; ++i) {
        auto kp = KeyPair::generate();
        Bytes msg(static_cast<std::size_t>(i * 7));
        random_bytes(msg);
        auto sig = xeddsa_sign(kp.private_key, msg);
        EXPECT_TRUE(xeddsa_verify(kp.public_key, msg, sig));
        EXPECT_EQ(sig[63] & 0x80, 0) << "spec XEdDSA signatures keep s < q";
    }
}

TEST(XEdDsa, RejectsWrongMessageKeyOrSignature) {
    auto kp = KeyPair::generate();
    auto other = KeyPair::generate();
    Bytes msg = {1, 2, 3, 4};
    auto sig = xeddsa_sign(kp.private_key, msg);
    Bytes wrong = {1, 2, 3, 5};
    EXPECT_FALSE(xeddsa_verify(kp.public_key, wrong, sig));
    EXPECT_FALSE(xeddsa_verify(other.public_key, msg, sig));
    for (std::size_t i = 0; i < 64; ++i) {
        auto bad = sig;
        bad[i] ^= 0x01;
        EXPECT_FALSE(xeddsa_verify(kp.public_key, msg, bad)) << "bit flip at byte " << i;
    }
    EXPECT_FALSE(xeddsa_verify(kp.public_key, msg, ByteView(sig).first(63)));
}

TEST(XEdDsa, DeterministicForFixedNonce) {
    auto kp = KeyPair::generate();
    std::array<std::uint8_t, 64> z{};
    z.fill(7);
    Bytes msg = {9, 9};
    EXPECT_EQ(xeddsa_sign(kp.private_key, msg, z), xeddsa_sign(kp.private_key, msg, z));
}

// The Edwards key computed by XEdDSA must be the Ed25519 public key of the same scalar, up to
// sign: checks the Montgomery-to-Edwards conversion against libsodium's own.
TEST(XEdDsa, AgreesWithLibsodiumEdwardsToMontgomery) {
    for (int i = 0; i < 32; ++i) {
        unsigned char ed_pk[32], ed_sk[64], x_pk[32], x_sk[32];
        crypto_sign_keypair(ed_pk, ed_sk);
        ASSERT_EQ(crypto_sign_ed25519_pk_to_curve25519(x_pk, ed_pk), 0);
        crypto_sign_ed25519_sk_to_curve25519(x_sk, ed_sk);
        auto priv = PrivateKey::from_raw(ByteView(x_sk, 32));
        ASSERT_TRUE(priv.ok());
        EXPECT_EQ(priv->public_key().raw(),
                  PublicKey::from_raw(std::span<const std::uint8_t, 32>(x_pk, 32)).raw());
        Bytes msg = {42};
        EXPECT_TRUE(xeddsa_verify(priv->public_key(), msg, xeddsa_sign(*priv, msg)));
    }
}

// An Ed25519 signature made by libsodium is a valid XEdDSA signature for the Montgomery form of
// its key once the Edwards sign bit travels in bit 7 of the last byte (the form libsignal uses).
// This checks our Montgomery-to-Edwards conversion against an independent implementation.
TEST(XEdDsa, VerifiesLibsodiumEd25519SignaturesOfTheSameKey) {
    int with_sign_bit = 0;
    for (int i = 0; i < 64; ++i) {
        unsigned char ed_pk[32], ed_sk[64], x_pk[32];
        crypto_sign_keypair(ed_pk, ed_sk);
        ASSERT_EQ(crypto_sign_ed25519_pk_to_curve25519(x_pk, ed_pk), 0);
        Bytes msg = {static_cast<std::uint8_t>(i), 1, 2, 3};
        std::array<std::uint8_t, 64> sig{};
        crypto_sign_detached(sig.data(), nullptr, msg.data(), msg.size(), ed_sk);
        const bool sign_bit = (ed_pk[31] & 0x80) != 0;
        with_sign_bit += sign_bit;
        sig[63] = static_cast<std::uint8_t>(sig[63] | (sign_bit ? 0x80 : 0));
        auto pub = PublicKey::from_raw(std::span<const std::uint8_t, 32>(x_pk, 32));
        EXPECT_TRUE(xeddsa_verify(pub, msg, sig)) << "key " << i;
        sig[63] ^= 0x80;  // the wrong sign bit names the other Edwards point
        EXPECT_FALSE(xeddsa_verify(pub, msg, sig)) << "key " << i;
    }
    EXPECT_GT(with_sign_bit, 0);
    EXPECT_LT(with_sign_bit, 64);
}

TEST(X25519, RejectsLowOrderPoint) {
    auto kp = KeyPair::generate();
    std::array<std::uint8_t, 32> zero{};
    EXPECT_FALSE(agree(kp.private_key, PublicKey::from_raw(zero)).ok());
}

TEST(PublicKeySerialization, RequiresTypeByteAndLength) {
    auto kp = KeyPair::generate();
    auto ser = kp.public_key.serialize();
    EXPECT_EQ(ser[0], 0x05);
    EXPECT_TRUE(PublicKey::deserialize(ser).ok());
    auto bad = ser;
    bad[0] = 0x06;
    EXPECT_EQ(PublicKey::deserialize(bad).error().code, ErrorCode::kInvalidKey);
    EXPECT_FALSE(PublicKey::deserialize(ByteView(ser).first(32)).ok());
}

}  // namespace
}  // namespace pp::crypto

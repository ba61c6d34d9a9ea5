#include "crypto/signing.hpp"

#include <gtest/gtest.h>

#include "base/hex.hpp"

namespace pp::crypto {
namespace {

Bytes hex(std::string_view s) {
    return *from_hex(s);
}

struct Rfc8032Vector {
    std::string_view secret, public_key, message, signature;
};

// RFC 8032 section 7.1, TEST 1 (empty message) and TEST 2 (one byte).
constexpr Rfc8032Vector kVectors[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b"
     "4"
     "6bd25bf5f0595bbe24655141438e7a100b"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11"
     "d"
     "8c387b2eaeb4302aeeb00d291612bb0c00"},
};

TEST(Ed25519, Rfc8032Vectors) {
    for (const auto& v : kVectors) {
        auto key = SigningKey::from_seed(hex(v.secret));
        ASSERT_TRUE(key.ok());
        EXPECT_EQ(to_hex(key->verify_key().view()), v.public_key);
        EXPECT_EQ(to_hex(key->seed().view()), v.secret);
        const Bytes msg = hex(v.message);
        const auto sig = sign(*key, msg);
        EXPECT_EQ(to_hex(sig), v.signature);
        auto pub = VerifyKey::from_bytes(hex(v.public_key));
        ASSERT_TRUE(pub.ok());
        EXPECT_TRUE(verify(*pub, msg, sig).ok());
    }
}

TEST(Ed25519, RejectsWrongMessageKeyOrSignature) {
    const auto key = SigningKey::generate();
    const auto other = SigningKey::generate();
    const Bytes msg = {1, 2, 3, 4};
    const auto sig = sign(key, msg);
    EXPECT_TRUE(verify(key.verify_key(), msg, sig).ok());

    const Bytes wrong = {1, 2, 3, 5};
    auto r = verify(key.verify_key(), wrong, sig);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidSignature);
    EXPECT_FALSE(verify(other.verify_key(), msg, sig).ok());
    for (std::size_t i = 0; i < sig.size(); ++i) {
        auto bad = sig;
        bad[i] ^= 0x01;
        EXPECT_EQ(verify(key.verify_key(), msg, bad).error().code, ErrorCode::kInvalidSignature);
    }
    EXPECT_FALSE(verify(key.verify_key(), msg, ByteView(sig.data(), 63)).ok());
    EXPECT_FALSE(verify(key.verify_key(), msg, ByteView{}).ok());
    EXPECT_FALSE(verify(VerifyKey{}, msg, sig).ok()) << "the all-zero key verifies nothing";
}

TEST(Ed25519, KeysHaveExactSizesAndSeedsRoundTrip) {
    EXPECT_FALSE(VerifyKey::from_bytes(Bytes(31)).ok());
    EXPECT_FALSE(VerifyKey::from_bytes(Bytes(33)).ok());
    EXPECT_FALSE(SigningKey::from_seed(Bytes(31)).ok());
    EXPECT_FALSE(SigningKey::from_seed(Bytes(64)).ok());
    const auto key = SigningKey::generate();
    auto again = SigningKey::from_seed(key.seed().view());
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->verify_key(), key.verify_key());
    EXPECT_NE(SigningKey::generate().verify_key(), key.verify_key());
}

}  // namespace
}  // namespace pp::crypto

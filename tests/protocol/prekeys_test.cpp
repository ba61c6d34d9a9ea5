#include "protocol/prekeys.hpp"

#include <gtest/gtest.h>

namespace pp::protocol {
namespace {

TEST(PreKeys, SignedPrekeyVerifiesUnderItsIdentityOnly) {
    auto identity = crypto::KeyPair::generate();
    auto spk = generate_signed_prekey(identity, 5, 1234);
    EXPECT_TRUE(verify_signed_prekey(identity.public_key, spk.key_pair.public_key, spk.signature));
    EXPECT_FALSE(verify_signed_prekey(crypto::KeyPair::generate().public_key,
                                      spk.key_pair.public_key, spk.signature));
    EXPECT_FALSE(verify_signed_prekey(identity.public_key, crypto::KeyPair::generate().public_key,
                                      spk.signature));
}

TEST(PreKeys, IdsStayInTheMediumRange) {
    auto keys = generate_prekeys(0xFFFFFD, 4);
    ASSERT_EQ(keys.size(), 4u);
    for (const auto& k : keys) {
        EXPECT_GE(k.id, 1u);
        EXPECT_LE(k.id, 0xFFFFFEu);
    }
    EXPECT_NE(keys[0].id, keys[3].id);
}

TEST(PreKeys, RegistrationIdIs14BitNonZero) {
    for (int i = 0; i < 1000; ++i) {
        auto id = generate_registration_id();
        EXPECT_GE(id, 1u);
        EXPECT_LE(id, 16380u);
    }
}

template <typename T>
Bytes bytes_of(const T& secret) {
    return Bytes(secret.view().begin(), secret.view().end());
}

TEST(PreKeyRecords, RoundTrip) {
    auto identity = crypto::KeyPair::generate();
    auto id2 = deserialize_identity(serialize_identity(identity).view());
    ASSERT_TRUE(id2);
    EXPECT_EQ(id2->public_key, identity.public_key);

    auto pk = generate_prekeys(42, 1).front();
    auto pk2 = deserialize_prekey(serialize_prekey(pk).view());
    ASSERT_TRUE(pk2);
    EXPECT_EQ(pk2->id, 42u);
    EXPECT_EQ(pk2->key_pair.public_key, pk.key_pair.public_key);

    auto spk = generate_signed_prekey(identity, 9, 1700000000000);
    auto spk2 = deserialize_signed_prekey(serialize_signed_prekey(spk).view());
    ASSERT_TRUE(spk2);
    EXPECT_EQ(spk2->id, 9u);
    EXPECT_EQ(spk2->timestamp_ms, 1700000000000u);
    EXPECT_EQ(spk2->signature, spk.signature);
    EXPECT_TRUE(
        verify_signed_prekey(identity.public_key, spk2->key_pair.public_key, spk2->signature));
}

TEST(PreKeyRecords, RejectTruncationCorruptionAndMismatchedKeys) {
    auto spk = generate_signed_prekey(crypto::KeyPair::generate(), 9, 1);
    Bytes good = bytes_of(serialize_signed_prekey(spk));
    for (std::size_t n = 0; n < good.size(); ++n)
        EXPECT_FALSE(deserialize_signed_prekey(ByteView(good).first(n))) << n;
    Bytes wrong_version = good;
    wrong_version[0] = 2;
    EXPECT_EQ(deserialize_signed_prekey(wrong_version).error().code, ErrorCode::kInvalidVersion);
    // Flip a bit of the stored public key: it no longer matches the private key.
    Bytes mismatched = good;
    mismatched[5] ^= 1;
    EXPECT_EQ(deserialize_signed_prekey(mismatched).error().code, ErrorCode::kMalformed);
    // A prekey record is not an identity record.
    auto pk = generate_prekeys(1, 1).front();
    EXPECT_FALSE(deserialize_identity(serialize_prekey(pk).view()));
}

}  // namespace
}  // namespace pp::protocol

#include "protocol/fingerprint.hpp"

#include <gtest/gtest.h>

#include "base/hex.hpp"
#include "crypto/kdf.hpp"

namespace pp::protocol {
namespace {

crypto::PublicKey key_from_hex(std::string_view h) {
    return *crypto::PublicKey::deserialize(*from_hex(h));
}

// Known-answer vectors from the reference's own test suite (tests/test_fingerprint.c).
const char* const kAliceIdentity =
    "0506863bc66d02b40d27b8d49ca7c09e9239236f9d7d25d6fcca5ce13c7064d868";
const char* const kBobIdentity =
    "05f781b6fb32fed9ba1cf2de978d4d5da28dc34046ae814402b5c0dbd96fda907b";
const char* const kAliceId = "+14152222222";
const char* const kBobId = "+14153333333";
const char* const kDisplayable = "300354477692869396892869876765458257569162576843440918079131";
const char* const kAliceScannableV0 =
    "080012310a210506863bc66d02b40d27b8d49ca7c09e9239236f9d7d25d6fcca5ce13c7064d868120c2b3134313532"
    "3232323232321a310a2105f781b6fb32fed9ba1cf2de978d4d5da28dc34046ae814402b5c0dbd96fda907b120c2b31"
    "34313533333333333333";
const char* const kBobScannableV0 =
    "080012310a2105f781b6fb32fed9ba1cf2de978d4d5da28dc34046ae814402b5c0dbd96fda907b120c2b3134313533"
    "3333333333331a310a210506863bc66d02b40d27b8d49ca7c09e9239236f9d7d25d6fcca5ce13c7064d868120c2b31"
    "34313532323232323232";
const char* const kAliceScannableV1 =
    "080112220a201e301a0353dce3dbe7684cb8336e85136cdc0ee96219494ada305d62a7bd61df1a220a20d62cbf73a1"
    "1592015b6b9f1682ac306fea3aaf3885b84d12bca631e9d4fb3a4d";
const char* const kBobScannableV1 =
    "080112220a20d62cbf73a11592015b6b9f1682ac306fea3aaf3885b84d12bca631e9d4fb3a4d1a220a201e301a0353"
    "dce3dbe7684cb8336e85136cdc0ee96219494ada305d62a7bd61df";

struct Pair {
    Fingerprint alice, bob;
};

Pair fingerprints_for(ScannableVersion v,
                      std::uint32_t iterations = kDefaultFingerprintIterations) {
    FingerprintGenerator gen(iterations, v);
    auto a = key_from_hex(kAliceIdentity), b = key_from_hex(kBobIdentity);
    auto fa = gen.create(kAliceId, a, kBobId, b);
    auto fb = gen.create(kBobId, b, kAliceId, a);
    EXPECT_TRUE(fa.ok() && fb.ok());
    return {*fa, *fb};
}

TEST(Fingerprint, KnownAnswerV0) {
    auto p = fingerprints_for(ScannableVersion::kV0);
    EXPECT_EQ(p.alice.displayable.text(), kDisplayable);
    EXPECT_EQ(p.bob.displayable.text(), kDisplayable);
    EXPECT_EQ(to_hex(p.alice.scannable.serialize()), kAliceScannableV0);
    EXPECT_EQ(to_hex(p.bob.scannable.serialize()), kBobScannableV0);
}

TEST(Fingerprint, KnownAnswerV1) {
    auto p = fingerprints_for(ScannableVersion::kV1);
    EXPECT_EQ(p.alice.displayable.text(), kDisplayable);
    EXPECT_EQ(to_hex(p.alice.scannable.serialize()), kAliceScannableV1);
    EXPECT_EQ(to_hex(p.bob.scannable.serialize()), kBobScannableV1);
}

TEST(Fingerprint, DisplayableShape) {
    auto p = fingerprints_for(ScannableVersion::kV1);
    const auto& d = p.alice.displayable;
    EXPECT_EQ(d.local.size(), kFingerprintDigitsPerParty);
    EXPECT_EQ(d.remote.size(), kFingerprintDigitsPerParty);
    EXPECT_EQ(d.local, p.bob.displayable.remote);
    EXPECT_EQ(d.remote, p.bob.displayable.local);
    std::string t = d.text();
    EXPECT_EQ(t.size(), kFingerprintDigits);
    EXPECT_EQ(t.find_first_not_of("0123456789"), std::string::npos);
}

TEST(Fingerprint, GroupDigits) {
    EXPECT_EQ(group_digits(kDisplayable),
              "30035 44776 92869 39689 28698 76765 45825 75691 62576 84344 09180 79131");
    EXPECT_EQ(group_digits("1234567", '-'), "12345-67");
    EXPECT_EQ(group_digits(""), "");
}

TEST(Fingerprint, HashDefinition) {
    auto a = key_from_hex(kAliceIdentity);
    auto k = a.serialize();
    const std::uint8_t version[2] = {0, 0};
    auto h = crypto::sha512({ByteView(version, 2), k, as_bytes("id"), k});
    h = crypto::sha512({h, k});
    EXPECT_EQ(to_hex(*fingerprint_hash(2, "id", a)), to_hex(h));
    EXPECT_EQ(fingerprint_hash(0, "id", a).error().code, ErrorCode::kLimitExceeded);
    EXPECT_EQ(fingerprint_hash(1, std::string_view("a\0b", 3), a).error().code,
              ErrorCode::kMalformed);
}

TEST(Fingerprint, ChangesWhenAKeyOrIdentifierChanges) {
    FingerprintGenerator gen(kDefaultFingerprintIterations, ScannableVersion::kV1);
    auto a = key_from_hex(kAliceIdentity), b = key_from_hex(kBobIdentity);
    auto other = crypto::KeyPair::generate().public_key;
    auto base = *gen.create(kAliceId, a, kBobId, b);
    auto new_key = *gen.create(kAliceId, a, kBobId, other);
    auto new_id = *gen.create(kAliceId, a, "+14154444444", b);
    EXPECT_NE(base.displayable.text(), new_key.displayable.text());
    EXPECT_EQ(base.displayable.local, new_key.displayable.local);
    EXPECT_NE(base.displayable.text(), new_id.displayable.text());
    EXPECT_EQ(base.scannable.compare(new_key.scannable), FingerprintMatch::kMismatch);
    auto fewer = *FingerprintGenerator(1024, ScannableVersion::kV1).create(kAliceId, a, kBobId, b);
    EXPECT_NE(base.displayable.text(), fewer.displayable.text());
}

TEST(Fingerprint, CompareBothVersions) {
    for (auto v : {ScannableVersion::kV0, ScannableVersion::kV1}) {
        auto p = fingerprints_for(v, 16);
        EXPECT_EQ(p.alice.scannable.compare(p.bob.scannable), FingerprintMatch::kMatch);
        EXPECT_EQ(p.bob.scannable.compare(p.alice.scannable), FingerprintMatch::kMatch);
        // Scanning your own code is not a match: local and remote are swapped.
        EXPECT_NE(p.alice.scannable.compare(p.alice.scannable), FingerprintMatch::kMatch);
        auto back = ScannableFingerprint::deserialize(p.bob.scannable.serialize());
        ASSERT_TRUE(back.ok());
        EXPECT_EQ(p.alice.scannable.compare(*back), FingerprintMatch::kMatch);
        EXPECT_EQ(back->serialize(), p.bob.scannable.serialize());
    }
    auto v0 = fingerprints_for(ScannableVersion::kV0, 16);
    auto v1 = fingerprints_for(ScannableVersion::kV1, 16);
    EXPECT_EQ(v0.alice.scannable.compare(v1.bob.scannable), FingerprintMatch::kDifferentVersion);
    EXPECT_EQ(v1.alice.scannable.compare(v0.bob.scannable), FingerprintMatch::kDifferentVersion);
}

TEST(Fingerprint, CompareV0IdentifierMismatch) {
    FingerprintGenerator gen(16, ScannableVersion::kV0);
    auto a = key_from_hex(kAliceIdentity), b = key_from_hex(kBobIdentity);
    auto alice = *gen.create(kAliceId, a, kBobId, b);
    auto carol_as_bob = *gen.create("+14155555555", b, kAliceId, a);
    EXPECT_EQ(alice.scannable.compare(carol_as_bob.scannable),
              FingerprintMatch::kIdentifierMismatch);
}

TEST(Fingerprint, UnknownVersionDeserializesAndComparesAsDifferent) {
    auto p = fingerprints_for(ScannableVersion::kV1, 16);
    Bytes b = p.bob.scannable.serialize();
    ASSERT_EQ(b[1], 0x01);
    b[1] = 0x02;
    auto back = ScannableFingerprint::deserialize(b);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->version(), 2u);
    EXPECT_EQ(p.alice.scannable.compare(*back), FingerprintMatch::kDifferentVersion);
}

TEST(Fingerprint, DeserializeRejectsTruncationAndGarbage) {
    for (auto v : {ScannableVersion::kV0, ScannableVersion::kV1}) {
        Bytes all = fingerprints_for(v, 16).alice.scannable.serialize();
        for (std::size_t n = 0; n < all.size(); ++n) {
            auto r = ScannableFingerprint::deserialize(ByteView(all).first(n));
            EXPECT_FALSE(r.ok()) << n;
            if (!r.ok()) {
                EXPECT_EQ(r.error().code, ErrorCode::kMalformed);
            }
        }
    }
    EXPECT_FALSE(ScannableFingerprint::deserialize(Bytes{0xff, 0xff, 0xff}).ok());
    EXPECT_EQ(
        ScannableFingerprint::deserialize(Bytes(kMaxScannableFingerprintSize + 1, 0)).error().code,
        ErrorCode::kLimitExceeded);
    // Version 1 content cut to 31 bytes.
    Bytes v1 = *from_hex(kAliceScannableV1);
    v1[5] = 0x1f;
    v1[3] = 0x21;
    v1.erase(v1.begin() + 6);
    EXPECT_EQ(ScannableFingerprint::deserialize(v1).error().code, ErrorCode::kMalformed);
}

TEST(Fingerprint, InvalidGeneratorSettings) {
    auto a = key_from_hex(kAliceIdentity);
    EXPECT_FALSE(FingerprintGenerator(0).create("x", a, "y", a).ok());
    EXPECT_EQ(FingerprintGenerator(16, static_cast<ScannableVersion>(2))
                  .create("x", a, "y", a)
                  .error()
                  .code,
              ErrorCode::kInvalidVersion);
}

}  // namespace
}  // namespace pp::protocol

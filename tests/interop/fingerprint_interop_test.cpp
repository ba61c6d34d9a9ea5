// Safety numbers and XEdDSA signatures between our implementation and libsignal-protocol-c:
// identical displayable and scannable fingerprints, the same verdicts when comparing scanned
// codes, and signatures made by either side verified by the other.
#include <gtest/gtest.h>
#include <sodium.h>

#include <string>
#include <vector>

#include "crypto/keys.hpp"
#include "crypto/random.hpp"
#include "crypto/xeddsa.hpp"
#include "protocol/fingerprint.hpp"
#include "tests/interop/ref_party.hpp"

namespace pp::interop {
namespace {

using protocol::FingerprintGenerator;
using protocol::FingerprintMatch;
using protocol::ScannableFingerprint;
using protocol::ScannableVersion;

ref::Bytes to_ref(ByteView v) {
    return ref::Bytes(v.begin(), v.end());
}
ref::Bytes key33(const crypto::PublicKey& k) {
    return to_ref(k.serialize());
}

struct Identity {
    std::string id;
    crypto::PublicKey key;
};

Identity random_identity(const char* prefix) {
    std::string id(prefix);
    id += std::to_string(crypto::random_uint32());
    return {id, crypto::KeyPair::generate().public_key};
}

protocol::Fingerprint ours(std::uint32_t iterations, ScannableVersion v, const Identity& local,
                           const Identity& remote) {
    auto fp =
        FingerprintGenerator(iterations, v).create(local.id, local.key, remote.id, remote.key);
    EXPECT_TRUE(fp.ok());
    return *fp;
}

ref::Bytes theirs_scannable(std::uint32_t iterations, ScannableVersion v, const Identity& local,
                            const Identity& remote) {
    return ref::RefParty::scannable_fingerprint(static_cast<int>(iterations), static_cast<int>(v),
                                                local.id, key33(local.key), remote.id,
                                                key33(remote.key));
}

std::string theirs_displayable(std::uint32_t iterations, const Identity& local,
                               const Identity& remote) {
    return ref::RefParty::displayable_fingerprint(static_cast<int>(iterations), local.id,
                                                  key33(local.key), remote.id, key33(remote.key));
}

TEST(FingerprintInterop, DisplayableIdenticalBothDirections) {
    for (std::uint32_t iterations : {1u, 2u, 1024u, protocol::kDefaultFingerprintIterations}) {
        for (int trial = 0; trial < 3; ++trial) {
            auto a = random_identity("+1415"), b = random_identity("+4930");
            auto ab = ours(iterations, ScannableVersion::kV1, a, b);
            auto ba = ours(iterations, ScannableVersion::kV1, b, a);
            EXPECT_EQ(ab.displayable.text(), theirs_displayable(iterations, a, b)) << iterations;
            EXPECT_EQ(ba.displayable.text(), theirs_displayable(iterations, b, a)) << iterations;
            EXPECT_EQ(ab.displayable.text(), ba.displayable.text());
        }
    }
}

TEST(FingerprintInterop, UnusualIdentifiers) {
    auto k1 = crypto::KeyPair::generate().public_key, k2 = crypto::KeyPair::generate().public_key;
    for (const char* id : {"", "alice@example.org", "\xc3\xa9t\xc3\xa9 \xe2\x9c\x93",
                           "a-very-long-identifier-that-goes-on-and-on-and-on-0123456789"}) {
        Identity a{id, k1}, b{"bob", k2};
        EXPECT_EQ(ours(64, ScannableVersion::kV0, a, b).displayable.text(),
                  theirs_displayable(64, a, b));
        EXPECT_EQ(ours(64, ScannableVersion::kV0, a, b).scannable.serialize(),
                  theirs_scannable(64, ScannableVersion::kV0, a, b));
    }
}

TEST(FingerprintInterop, ScannableByteIdenticalBothVersions) {
    for (auto v : {ScannableVersion::kV0, ScannableVersion::kV1}) {
        for (std::uint32_t iterations : {1u, 1024u, protocol::kDefaultFingerprintIterations}) {
            auto a = random_identity("+1415"), b = random_identity("+4930");
            EXPECT_EQ(ours(iterations, v, a, b).scannable.serialize(),
                      theirs_scannable(iterations, v, a, b));
            EXPECT_EQ(ours(iterations, v, b, a).scannable.serialize(),
                      theirs_scannable(iterations, v, b, a));
        }
    }
}

TEST(FingerprintInterop, CompareVerdictsAgree) {
    const std::uint32_t it = 256;
    for (auto v : {ScannableVersion::kV0, ScannableVersion::kV1}) {
        auto a = random_identity("a"), b = random_identity("b");
        auto mine = ours(it, v, a, b);
        auto their_code = theirs_scannable(it, v, b, a);  // what b's (reference) phone shows
        // We scan theirs ...
        auto scanned = ScannableFingerprint::deserialize(their_code);
        ASSERT_TRUE(scanned.ok());
        EXPECT_EQ(mine.scannable.compare(*scanned), FingerprintMatch::kMatch);
        // ... and they scan ours.
        EXPECT_EQ(
            ref::RefParty::compare_scannable_fingerprints(their_code, mine.scannable.serialize()),
            1);

        // b's phone holds a different key for a: both report a mismatch.
        Identity a_other{a.id, crypto::KeyPair::generate().public_key};
        auto wrong = theirs_scannable(it, v, b, a_other);
        EXPECT_EQ(mine.scannable.compare(*ScannableFingerprint::deserialize(wrong)),
                  FingerprintMatch::kMismatch);
        EXPECT_EQ(ref::RefParty::compare_scannable_fingerprints(wrong, mine.scannable.serialize()),
                  0);
    }
    // Different scannable versions.
    auto a = random_identity("a"), b = random_identity("b");
    auto mine_v0 = ours(it, ScannableVersion::kV0, a, b);
    auto their_v1 = theirs_scannable(it, ScannableVersion::kV1, b, a);
    EXPECT_EQ(mine_v0.scannable.compare(*ScannableFingerprint::deserialize(their_v1)),
              FingerprintMatch::kDifferentVersion);
    EXPECT_EQ(
        ref::RefParty::compare_scannable_fingerprints(their_v1, mine_v0.scannable.serialize()),
        ref::kErrFpVersionMismatch);
    // Version 0 codes made for another pair of users.
    Identity c{"c", b.key};
    auto their_for_c = theirs_scannable(it, ScannableVersion::kV0, c, a);
    EXPECT_EQ(mine_v0.scannable.compare(*ScannableFingerprint::deserialize(their_for_c)),
              FingerprintMatch::kIdentifierMismatch);
    EXPECT_EQ(
        ref::RefParty::compare_scannable_fingerprints(their_for_c, mine_v0.scannable.serialize()),
        ref::kErrFpIdentMismatch);
}

// The Edwards sign bit of the key XEdDSA signs with: the bit the two signature variants treat
// differently, so both values must be exercised.
bool edwards_sign_bit(const crypto::PrivateKey& k) {
    std::uint8_t ed[32];
    crypto_scalarmult_ed25519_base_noclamp(ed, k.secret().data());
    return (ed[31] & 0x80) != 0;
}

TEST(SignatureInterop, OursVerifiedByReference) {
    int sign_bit_set = 0, total = 0;
    for (int key_i = 0; key_i < 40; ++key_i) {
        auto kp = crypto::KeyPair::generate();
        sign_bit_set += edwards_sign_bit(kp.private_key) ? 1 : 0;
        for (std::size_t len :
             {std::size_t{0}, std::size_t{1}, std::size_t{33}, 100 + std::size_t(key_i)}) {
            ref::Bytes msg(len);
            crypto::random_bytes(msg);
            auto sig = crypto::xeddsa_sign(kp.private_key, msg);
            EXPECT_TRUE(ref::RefParty::verify_signature(key33(kp.public_key), msg, to_ref(sig)))
                << key_i << "/" << len;
            // A wrong message is refused by both.
            msg.push_back(1);
            EXPECT_FALSE(ref::RefParty::verify_signature(key33(kp.public_key), msg, to_ref(sig)));
            EXPECT_FALSE(crypto::xeddsa_verify(kp.public_key, msg, sig));
            ++total;
        }
    }
    // 40 random keys: each sign bit value occurs (failure chance 2^-39).
    EXPECT_GT(sign_bit_set, 0);
    EXPECT_LT(sign_bit_set, 40);
    EXPECT_EQ(total, 160);
}

TEST(SignatureInterop, TheirsVerifiedByUs) {
    int high_bit = 0, total = 0;
    for (int party_i = 0; party_i < 25; ++party_i) {
        std::string name("signer");
        name += std::to_string(party_i);
        ref::RefParty signer(name);
        auto pub = crypto::PublicKey::deserialize(signer.identity_public());
        ASSERT_TRUE(pub.ok());
        for (std::size_t len : {0u, 1u, 33u, 200u}) {
            ref::Bytes msg(len);
            crypto::random_bytes(msg);
            auto sig = signer.sign_with_identity(msg);
            ASSERT_EQ(sig.size(), 64u);
            high_bit += (sig[63] & 0x80) ? 1 : 0;
            ++total;
            EXPECT_TRUE(crypto::xeddsa_verify(*pub, msg, sig)) << party_i << "/" << len;
            ref::Bytes bad = sig;
            bad[10] ^= 0x04;
            EXPECT_FALSE(crypto::xeddsa_verify(*pub, msg, bad));
            bad = sig;
            bad[63] ^= 0x80;  // the carried sign bit matters
            EXPECT_FALSE(crypto::xeddsa_verify(*pub, msg, bad));
        }
    }
    // libsignal-protocol-c 2.3.3 carries the key's Edwards sign bit in sig[63]: about half.
    EXPECT_GT(high_bit, 0);
    EXPECT_LT(high_bit, total);
}

}  // namespace
}  // namespace pp::interop

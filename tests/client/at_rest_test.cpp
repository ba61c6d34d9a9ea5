#include "client/at_rest.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <string>

namespace pp::client {
namespace {

Bytes text(std::string_view s) {
    return Bytes(s.begin(), s.end());
}

TEST(ProfileAtRest, SealRoundTripsAndHidesThePlaintext) {
    auto key = random_profile_key();
    Bytes plain = text("the quick brown fox jumps over the lazy dog");
    Bytes sealed = seal(key, plain, "table/1");
    EXPECT_EQ(sealed.size(), 24 + plain.size() + 16);
    EXPECT_EQ(std::search(sealed.begin(), sealed.end(), plain.begin(), plain.end()), sealed.end());
    auto opened = unseal(key, sealed, "table/1");
    ASSERT_TRUE(opened.ok());
    EXPECT_EQ(Bytes(opened->view().begin(), opened->view().end()), plain);
    // Fresh nonce each time.
    EXPECT_NE(seal(key, plain, "table/1"), sealed);
}

TEST(ProfileAtRest, EmptyPlaintextRoundTrips) {
    auto key = random_profile_key();
    Bytes sealed = seal(key, {}, "x");
    auto opened = unseal(key, sealed, "x");
    ASSERT_TRUE(opened.ok());
    EXPECT_TRUE(opened->empty());
}

TEST(ProfileAtRest, WrongPlaceKeyOrTamperingIsBadMac) {
    auto key = random_profile_key();
    Bytes sealed = seal(key, text("secret"), "sessions/aa/1");
    EXPECT_EQ(unseal(key, sealed, "sessions/aa/2").error().code, ErrorCode::kBadMac);
    EXPECT_EQ(unseal(random_profile_key(), sealed, "sessions/aa/1").error().code,
              ErrorCode::kBadMac);
    for (std::size_t i : {std::size_t{0}, std::size_t{24}, sealed.size() - 1}) {
        Bytes bad = sealed;
        bad[i] ^= 0x01;
        EXPECT_EQ(unseal(key, bad, "sessions/aa/1").error().code, ErrorCode::kBadMac) << i;
    }
    EXPECT_EQ(unseal(key, Bytes(39, 0), "sessions/aa/1").error().code, ErrorCode::kBadMac);
    EXPECT_EQ(unseal(key, {}, "sessions/aa/1").error().code, ErrorCode::kBadMac);
}

TEST(ProfileAtRest, PassphraseKeyIsDeterministicPerSalt) {
    auto p = new_passphrase_params();
    EXPECT_EQ(p.salt.size(), crypto_pwhash_SALTBYTES);
    EXPECT_EQ(p.opslimit, crypto_pwhash_OPSLIMIT_INTERACTIVE);
    EXPECT_EQ(p.memlimit, crypto_pwhash_MEMLIMIT_INTERACTIVE);
    // Cheapest allowed cost: the test is about determinism, not strength.
    p.opslimit = crypto_pwhash_OPSLIMIT_MIN;
    p.memlimit = crypto_pwhash_MEMLIMIT_MIN;
    auto a = derive_profile_key("correct horse", p);
    auto b = derive_profile_key("correct horse", p);
    auto c = derive_profile_key("correct horsf", p);
    ASSERT_TRUE(a.ok() && b.ok() && c.ok());
    EXPECT_EQ(Bytes(a->view().begin(), a->view().end()), Bytes(b->view().begin(), b->view().end()));
    EXPECT_NE(Bytes(a->view().begin(), a->view().end()), Bytes(c->view().begin(), c->view().end()));
    auto q = p;
    q.salt = new_passphrase_params().salt;
    auto d = derive_profile_key("correct horse", q);
    ASSERT_TRUE(d.ok());
    EXPECT_NE(Bytes(a->view().begin(), a->view().end()), Bytes(d->view().begin(), d->view().end()));
}

TEST(ProfileAtRest, OutOfRangeParametersAreRefused) {
    auto p = new_passphrase_params();
    auto bad_salt = p;
    bad_salt.salt.pop_back();
    EXPECT_EQ(derive_profile_key("x", bad_salt).error().code, ErrorCode::kMalformed);
    auto huge_mem = p;
    huge_mem.memlimit = std::uint64_t{1} << 40;
    EXPECT_EQ(derive_profile_key("x", huge_mem).error().code, ErrorCode::kMalformed);
    auto huge_ops = p;
    huge_ops.opslimit = 1000000;
    EXPECT_EQ(derive_profile_key("x", huge_ops).error().code, ErrorCode::kMalformed);
}

}  // namespace
}  // namespace pp::client

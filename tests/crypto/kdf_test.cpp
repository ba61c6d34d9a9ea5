#include "crypto/kdf.hpp"

#include <gtest/gtest.h>

#include "base/hex.hpp"

namespace pp::crypto {
namespace {

Bytes hex(std::string_view s) {
    return *from_hex(s);
}

// RFC 5869 appendix A, test cases 1 and 3.
TEST(Hkdf, Rfc5869Case1) {
    auto okm = hkdf_sha256(hex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
                           hex("000102030405060708090a0b0c"), hex("f0f1f2f3f4f5f6f7f8f9"), 42);
    EXPECT_EQ(
        to_hex(okm.view()),
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

TEST(Hkdf, Rfc5869Case3EmptySaltAndInfo) {
    auto okm = hkdf_sha256(hex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"), {}, {}, 42);
    EXPECT_EQ(
        to_hex(okm.view()),
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

// RFC 4231 test case 2.
TEST(Hmac, Rfc4231Case2) {
    auto mac =
        hmac_sha256(as_bytes("Jefe"), {as_bytes("what do ya want "), as_bytes("for nothing?")});
    EXPECT_EQ(to_hex(mac.view()),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Sha512, Abc) {
    auto d = sha512({as_bytes("abc")});
    EXPECT_EQ(to_hex(d),
              "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba"
              "3c23a3feebbd"
              "454d4423643ce80e2a9ac94fa54ca49f");
}

}  // namespace
}  // namespace pp::crypto

#include "server/auth.hpp"

#include <gtest/gtest.h>

#include "crypto/xeddsa.hpp"

namespace pp::server {
namespace {

TEST(Auth, SignatureBindsNonceAccountAndDevice) {
    auto identity = crypto::KeyPair::generate();
    store::AccountId account{};
    account[0] = 1;
    Bytes nonce(kNonceBytes, 7);
    auto sig = crypto::xeddsa_sign(identity.private_key, auth_message(nonce, account, 1));
    EXPECT_TRUE(verify_auth_signature(identity.public_key, nonce, account, 1, sig));
    EXPECT_FALSE(verify_auth_signature(identity.public_key, nonce, account, 2, sig));
    Bytes other_nonce(kNonceBytes, 8);
    EXPECT_FALSE(verify_auth_signature(identity.public_key, other_nonce, account, 1, sig));
    store::AccountId other_account{};
    EXPECT_FALSE(verify_auth_signature(identity.public_key, nonce, other_account, 1, sig));
    EXPECT_FALSE(
        verify_auth_signature(crypto::KeyPair::generate().public_key, nonce, account, 1, sig));
}

TEST(Auth, AuthMessageLayout) {
    store::AccountId account{};
    for (std::size_t i = 0; i < account.size(); ++i) account[i] = static_cast<std::uint8_t>(i);
    Bytes nonce = {0xaa, 0xbb};
    auto m = auth_message(nonce, account, 0x01020304);
    const std::string_view context = "paperplane-auth-v1";
    ASSERT_EQ(m.size(), context.size() + 2 + 16 + 4);
    EXPECT_EQ(std::string(m.begin(), m.begin() + static_cast<std::ptrdiff_t>(context.size())),
              context);
    EXPECT_EQ(m[context.size()], 0xaa);
    EXPECT_EQ(m[context.size() + 2 + 15], 15);
    EXPECT_EQ(m[m.size() - 4], 0x01);
    EXPECT_EQ(m[m.size() - 1], 0x04);
}

TEST(Auth, ProofOfWork) {
    Bytes challenge(32, 3);
    // Find a nonce for 8 bits by brute force, then check it fails a much harder target.
    Bytes nonce(8, 0);
    std::uint64_t n = 0;
    for (; n < 1'000'000; ++n) {
        for (int i = 0; i < 8; ++i)
            nonce[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
        if (pow_satisfied(challenge, nonce, 8)) break;
    }
    ASSERT_LT(n, 1'000'000u);
    EXPECT_TRUE(pow_satisfied(challenge, nonce, 0));
    EXPECT_FALSE(pow_satisfied(challenge, nonce, 40));
}

}  // namespace
}  // namespace pp::server

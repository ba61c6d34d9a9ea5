#include <gtest/gtest.h>

#include "server/keyed_rate_limiter.hpp"

namespace pp::server {
namespace {

using namespace std::chrono_literals;

TEST(TokenBucket, AllowsBurstThenRefillsAtRate) {
    TokenBucket b(10, 5);
    auto t = TokenBucket::Clock::time_point{} + 1s;
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(b.take(t));
    EXPECT_FALSE(b.take(t));
    EXPECT_FALSE(b.take(t + 50ms));  // half a token
    EXPECT_TRUE(b.take(t + 100ms));
    EXPECT_TRUE(b.take(t + 10s));  // refills, but never beyond the burst
    for (int i = 0; i < 4; ++i) EXPECT_TRUE(b.take(t + 10s));
    EXPECT_FALSE(b.take(t + 10s));
}

TEST(KeyedRateLimiter, KeysAreIndependentAndTableIsBounded) {
    KeyedRateLimiter limiter(1, 2, /*max_keys=*/3);
    auto t = TokenBucket::Clock::time_point{} + 1s;
    EXPECT_TRUE(limiter.take("a", t));
    EXPECT_TRUE(limiter.take("a", t));
    EXPECT_FALSE(limiter.take("a", t));
    EXPECT_TRUE(limiter.take("b", t));  // another key has its own bucket
    EXPECT_TRUE(limiter.take("c", t));
    // A fourth key starts the table over rather than growing it.
    EXPECT_TRUE(limiter.take("d", t));
    EXPECT_TRUE(limiter.take("a", t));
}

}  // namespace
}  // namespace pp::server

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

TEST(TokenBucket, IdleOnceRefilled) {
    TokenBucket b(10, 5);
    auto t = TokenBucket::Clock::time_point{} + 1s;
    EXPECT_TRUE(b.idle(t));  // never used
    EXPECT_TRUE(b.take(t));
    EXPECT_FALSE(b.idle(t));
    EXPECT_FALSE(b.idle(t + 50ms));
    EXPECT_TRUE(b.idle(t + 100ms));  // one token back: full again
}

TEST(KeyedRateLimiter, KeysAreIndependentAndTableIsBounded) {
    KeyedRateLimiter limiter(1, 2, /*max_keys=*/3);
    auto t = TokenBucket::Clock::time_point{} + 1s;
    EXPECT_TRUE(limiter.take("a", t));
    EXPECT_TRUE(limiter.take("a", t));
    EXPECT_FALSE(limiter.take("a", t));
    EXPECT_TRUE(limiter.take("b", t));  // another key has its own bucket
    EXPECT_TRUE(limiter.take("c", t));
    EXPECT_EQ(limiter.size(), 3u);
    // A fourth key makes room by forgetting the least recently used one, not the table.
    EXPECT_FALSE(limiter.take("a", t + 100ms));  // still drained; now the most recent key
    EXPECT_TRUE(limiter.take("d", t + 100ms));
    EXPECT_EQ(limiter.size(), 3u);
    EXPECT_FALSE(limiter.take("a", t + 100ms));  // "b" went, not "a"
}

// The old limiter cleared its whole table when full: a flood of new keys reset the bucket of
// whoever was being limited. Now a drained, active key survives any number of new keys.
TEST(KeyedRateLimiter, FloodOfNewKeysCannotResetAnActiveBucket) {
    KeyedRateLimiter limiter(1, 5, /*max_keys=*/100);
    auto t = TokenBucket::Clock::time_point{} + 1s;
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.take("abuser", t));
    EXPECT_FALSE(limiter.take("abuser", t));
    for (int i = 0; i < 100'000; ++i) {
        limiter.take("flood-" + std::to_string(i), t);
        if (i % 50 == 0) {
            EXPECT_FALSE(limiter.take("abuser", t)) << i;
        }
    }
    EXPECT_LE(limiter.size(), 100u);
    EXPECT_FALSE(limiter.take("abuser", t));
    EXPECT_GT(limiter.evicted_busy(), 0u);  // the flood's own buckets were not refilled
}

TEST(KeyedRateLimiter, EvictsIdleKeysFirstInPractice) {
    KeyedRateLimiter limiter(10, 2, /*max_keys=*/2);
    auto t = TokenBucket::Clock::time_point{} + 1s;
    EXPECT_TRUE(limiter.take("old", t));
    EXPECT_TRUE(limiter.take("busy", t + 1s));
    EXPECT_TRUE(limiter.take("busy", t + 1s));
    EXPECT_FALSE(limiter.take("busy", t + 1s));
    // "old" refilled long ago: forgetting it changes nothing, and it is the one that goes.
    EXPECT_TRUE(limiter.take("new", t + 1s));
    EXPECT_FALSE(limiter.take("busy", t + 1s));
    EXPECT_EQ(limiter.evicted_busy(), 0u);
}

TEST(KeyedRateLimiter, SweepForgetsOnlyRefilledBuckets) {
    KeyedRateLimiter limiter(1, 2);
    auto t = TokenBucket::Clock::time_point{} + 1s;
    EXPECT_TRUE(limiter.take("a", t));
    EXPECT_TRUE(limiter.take("b", t + 10s));
    EXPECT_TRUE(limiter.take("b", t + 10s));
    EXPECT_EQ(limiter.sweep(t + 10s), 1u);  // "a" refilled; "b" is drained
    EXPECT_EQ(limiter.size(), 1u);
    EXPECT_FALSE(limiter.take("b", t + 10s));
    EXPECT_EQ(limiter.sweep(t + 20s), 1u);
    EXPECT_EQ(limiter.size(), 0u);
}

}  // namespace
}  // namespace pp::server

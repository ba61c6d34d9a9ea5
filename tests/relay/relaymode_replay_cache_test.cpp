// The relay's replay cache: a MAC is refused while live, forgotten after, and a full cache
// refuses rather than forgets.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "relay/replay_cache.hpp"

namespace pp::relay {
namespace {

wire::relay::AuthMac mac_of(std::uint32_t n) {
    wire::relay::AuthMac m{};
    for (int i = 0; i < 4; ++i)
        m[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
    return m;
}

using V = ReplayCache::Verdict;

TEST(RelayReplayCache, SecondUseIsReplay) {
    ReplayCache cache(16);
    EXPECT_EQ(cache.check_and_insert(mac_of(1), 1100, 1000), V::kFresh);
    EXPECT_EQ(cache.check_and_insert(mac_of(1), 1100, 1000), V::kReplay);
    EXPECT_EQ(cache.check_and_insert(mac_of(2), 1100, 1000), V::kFresh);
}

TEST(RelayReplayCache, RememberedUntilExpiryInclusive) {
    ReplayCache cache(16);
    EXPECT_EQ(cache.check_and_insert(mac_of(1), 1100, 1000), V::kFresh);
    EXPECT_EQ(cache.check_and_insert(mac_of(1), 1100, 1100), V::kReplay);
    EXPECT_EQ(cache.check_and_insert(mac_of(1), 1200, 1101), V::kFresh);
}

TEST(RelayReplayCache, FullOfLiveEntriesRefuses) {
    ReplayCache cache(3);
    for (std::uint32_t i = 0; i < 3; ++i) {
        EXPECT_EQ(cache.check_and_insert(mac_of(i), 1100, 1000), V::kFresh);
    }
    EXPECT_EQ(cache.check_and_insert(mac_of(9), 1100, 1000), V::kFull);
    // An old one is still known as a replay, not forgotten to make room.
    EXPECT_EQ(cache.check_and_insert(mac_of(0), 1100, 1000), V::kReplay);
    EXPECT_EQ(cache.size(), 3u);
    // Once they expire there is room again.
    EXPECT_EQ(cache.check_and_insert(mac_of(9), 1300, 1200), V::kFresh);
    EXPECT_EQ(cache.size(), 1u);
}

TEST(RelayReplayCache, ConcurrentInsertsOfOneMacAdmitOnce) {
    ReplayCache cache(1024);
    std::atomic<int> fresh{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (std::uint32_t i = 0; i < 200; ++i) {
                if (cache.check_and_insert(mac_of(i), 2000, 1000) == V::kFresh) ++fresh;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(fresh.load(), 200);
}

}  // namespace
}  // namespace pp::relay

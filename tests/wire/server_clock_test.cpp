#include "wire/server_clock.hpp"

#include <gtest/gtest.h>

namespace pp::wire {
namespace {

using namespace std::chrono_literals;
using Steady = ServerClock::Steady;

// An arbitrary point of the steady clock: it counts from no particular date.
const Steady t0 = Steady{} + 1000h;
constexpr std::uint64_t kServer = 1'800'000'000'000;

TEST(ServerClock, KnowsNothingBeforeTheServerSpeaks) {
    ServerClock c;
    EXPECT_FALSE(c.at(t0).has_value());
}

TEST(ServerClock, TakesTheServersReadingAsMadeHalfwayThroughTheRoundTrip) {
    ServerClock c;
    c.observe(kServer, t0, t0 + 40ms);
    EXPECT_EQ(c.at(t0 + 40ms), kServer + 20);
}

TEST(ServerClock, RunsOnFromTheReadingWithTheSteadyClock) {
    ServerClock c;
    c.observe(kServer, t0, t0);
    EXPECT_EQ(c.at(t0 + 4min + 59s), kServer + (4 * 60 + 59) * 1000);
}

// Past five minutes the drift could grow past what a round trip varies by (30 ms at 100 ppm):
// no estimate, so the client makes wholly random ids until an answer gives the clock again.
TEST(ServerClock, IsNotGivenOnceItsReadingIsOlderThanFiveMinutes) {
    ServerClock c;
    c.observe(kServer, t0, t0 + 20ms);
    EXPECT_TRUE(c.at(t0 + 20ms + ServerClock::kMaxAge).has_value());
    EXPECT_FALSE(c.at(t0 + 20ms + ServerClock::kMaxAge + 1ms).has_value());
    // Any later answer gives it again, however slow its round trip: the old one is past use.
    c.observe(kServer + 600'000, t0 + 599s, t0 + 601s);
    EXPECT_EQ(c.at(t0 + 601s), kServer + 600'000 + 1'000);
}

// Round trips of different lengths around the same reading give the same estimate: what is
// left of the network in an id is the asymmetry of one round trip, not a device's clock.
TEST(ServerClock, RoundTripsOfDifferentLengthsAroundOneReadingAgree) {
    ServerClock a;
    ServerClock b;
    a.observe(kServer, t0, t0 + 10ms);
    b.observe(kServer, t0 + 1ms, t0 + 9ms);
    EXPECT_EQ(a.at(t0 + 1s), b.at(t0 + 1s));
}

TEST(ServerClock, AnAnswerWithoutTheClockChangesNothing) {
    ServerClock c;
    c.observe(kServer, t0, t0);
    c.observe(0, t0 + 1s, t0 + 1s);
    EXPECT_EQ(c.at(t0 + 2s), kServer + 2000);
}

TEST(ServerClock, ForgetDropsTheEstimate) {
    ServerClock c;
    c.observe(kServer, t0, t0);
    c.forget();
    EXPECT_FALSE(c.at(t0 + 1s).has_value());
}

TEST(ServerClock, ReadingsNoClockCouldGiveAreIgnored) {
    ServerClock c;
    c.observe(~std::uint64_t{0}, t0, t0);
    EXPECT_FALSE(c.at(t0).has_value());
    c.observe(kServer, t0, t0);
    c.observe(~std::uint64_t{0}, t0 + 1s, t0 + 1s);
    EXPECT_EQ(c.at(t0 + 1s), kServer + 1000);
}

// A later answer replaces the estimate when it is the more certain one: when half its round
// trip is less than half the held one's plus 100 ppm of the held one's age.
TEST(ServerClock, AFresherReadingReplacesAnAgedOne) {
    ServerClock c;
    c.observe(kServer, t0, t0 + 20ms);  // +/- 10 ms
    // As fast, and the held one has aged: taken.
    c.observe(kServer + 5'003, t0 + 5s, t0 + 5s + 20ms);
    EXPECT_EQ(c.at(t0 + 5s + 20ms), kServer + 5'013);  // kept, it would give kServer + 5,010
}

TEST(ServerClock, ASlowRoundTripDoesNotReplaceAFastRecentOne) {
    // A reconnect or a long commit wait inside the round trip: half of it is a poor bound.
    ServerClock c;
    c.observe(kServer, t0, t0 + 20ms);                // +/- 10 ms
    c.observe(kServer + 60'000, t0 + 59s, t0 + 61s);  // +/- 1 s: not taken
    EXPECT_EQ(c.at(t0 + 61s), kServer + 10 + 61'000 - 20);
}

TEST(ServerClock, AnAgedEstimateGivesWayToASlowerButFreshReading) {
    ServerClock c;
    c.observe(kServer, t0, t0 + 20ms);  // +/- 10 ms, +100 ppm of its age: 22 ms after 120 s
    c.observe(kServer + 120'000 + 7, t0 + 120s, t0 + 120s + 40ms);  // +/- 20 ms: taken
    // Kept, it would give kServer + 10 + 120,020.
    EXPECT_EQ(c.at(t0 + 120s + 40ms), kServer + 120'000 + 7 + 20);
}

// Past half its life (150 s) the estimate gives way to any reading, however slow: a device
// whose round trips vary more than the drift allowance still keeps an estimate while it sends.
TEST(ServerClock, PastHalfItsLifeAnyReadingReplacesTheEstimate) {
    ServerClock c;
    c.observe(kServer, t0, t0 + 20ms);                   // +/- 10 ms
    c.observe(kServer + 149'000, t0 + 148s, t0 + 150s);  // +/- 1 s at 150 s: not taken
    EXPECT_EQ(c.at(t0 + 150s), kServer + 10 + 150'000 - 20);
    c.observe(kServer + 152'000, t0 + 151s, t0 + 153s);  // +/- 1 s at 153 s: taken
    EXPECT_EQ(c.at(t0 + 153s), kServer + 152'000 + 1'000);
}

}  // namespace
}  // namespace pp::wire

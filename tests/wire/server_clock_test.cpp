#include "wire/server_clock.hpp"

#include <gtest/gtest.h>

namespace pp::wire {
namespace {

using namespace std::chrono_literals;
using Steady = ServerClock::Steady;

// An arbitrary point of the steady clock: it counts from no particular date.
const Steady t0 = Steady{} + 1000h;

TEST(ServerClock, KnowsNothingBeforeTheServerSpeaks) {
    ServerClock c;
    EXPECT_FALSE(c.at(t0).has_value());
}

TEST(ServerClock, TakesTheServersReadingAsMadeHalfwayThroughTheRoundTrip) {
    ServerClock c;
    c.observe(1'800'000'000'000, t0, t0 + 40ms);
    EXPECT_EQ(c.at(t0 + 40ms), 1'800'000'000'020);
}

TEST(ServerClock, RunsOnFromTheReadingWithTheSteadyClock) {
    ServerClock c;
    c.observe(1'800'000'000'000, t0, t0);
    EXPECT_EQ(c.at(t0 + 90min), 1'800'000'000'000 + 90 * 60 * 1000);
}

// Round trips of different lengths around the same reading give the same estimate: what is
// left of the network in an id is the asymmetry of one round trip, not a device's clock.
TEST(ServerClock, RoundTripsOfDifferentLengthsAroundOneReadingAgree) {
    ServerClock a;
    ServerClock b;
    a.observe(1'800'000'000'000, t0, t0 + 10ms);
    b.observe(1'800'000'000'000, t0 + 1ms, t0 + 9ms);
    EXPECT_EQ(a.at(t0 + 1s), b.at(t0 + 1s));
}

TEST(ServerClock, AServerThatDoesNotSayForgetsTheEstimate) {
    ServerClock c;
    c.observe(1'800'000'000'000, t0, t0);
    c.observe(0, t0 + 1s, t0 + 2s);
    EXPECT_FALSE(c.at(t0 + 3s).has_value());
}

TEST(ServerClock, ALaterObservationReplacesAnEarlierOne) {
    ServerClock c;
    c.observe(1'800'000'000'000, t0, t0);
    c.observe(1'900'000'000'000, t0 + 1s, t0 + 1s);
    EXPECT_EQ(c.at(t0 + 2s), 1'900'000'001'000);
}

TEST(ServerClock, ReadingsNoClockCouldGiveAreRefused) {
    ServerClock c;
    c.observe(1'800'000'000'000, t0, t0);
    c.observe(~std::uint64_t{0}, t0, t0);
    EXPECT_FALSE(c.at(t0).has_value());
}

}  // namespace
}  // namespace pp::wire

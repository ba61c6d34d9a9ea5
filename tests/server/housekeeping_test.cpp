// The housekeeper refreshes the store gauges and expires messages on its own thread, and the
// HTTP endpoints render those gauges without touching the store.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "server/housekeeper.hpp"
#include "server/http_endpoints.hpp"
#include "tests/server/unused_store.hpp"

namespace pp::server {
namespace {

using namespace std::chrono_literals;

// Answers stats() and expire(); everything else is unused here.
class CountingStore final : public test_doubles::UnusedStore {
  public:
    std::atomic<int> stats_calls{0}, expire_calls{0}, chunks{0};

    Result<store::Stats> stats() override {
        ++stats_calls;
        store::Stats s;
        s.accounts = 7;
        s.queued_messages = 42;
        return s;
    }
    Result<std::size_t> expire(std::int64_t, const KeepGoing&) override {
        ++expire_calls;
        return std::size_t{0};
    }
};

template <typename Pred>
bool eventually(Pred pred) {
    for (int i = 0; i < 500; ++i) {
        if (pred()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

// An expiry sweep that would run for a long time: chunk after chunk while keep_going allows.
class SlowSweepStore final : public test_doubles::UnusedStore {
  public:
    std::atomic<bool> sweeping{false}, told_to_stop{false};
    std::atomic<int> stats_calls{0}, expire_calls{0}, chunks{0};

    Result<store::Stats> stats() override {
        ++stats_calls;
        return store::Stats{};
    }
    Result<std::size_t> expire(std::int64_t, const KeepGoing& keep_going) override {
        ++expire_calls;
        sweeping = true;
        for (int chunk = 0; chunk < 2'000; ++chunk) {  // 10 s unless told to stop
            if (!keep_going()) {
                told_to_stop = true;  // stopping, or giving way to the tick
                break;
            }
            ++chunks;
            std::this_thread::sleep_for(5ms);
        }
        return std::size_t{0};
    }
};

TEST(Housekeeper, RefreshesGaugesSweepsAndExpires) {
    CountingStore store;
    Metrics metrics;
    StoreGauges gauges;
    std::atomic<int> sweeps{0};
    Housekeeper::Options o;
    o.gauge_interval = 20ms;
    o.expire_interval = 50ms;
    {
        Housekeeper h(store, metrics, gauges, o, [&] { ++sweeps; });
        EXPECT_TRUE(eventually([&] { return gauges.queued_messages.load() == 42; }));
        EXPECT_EQ(gauges.accounts.load(), 7u);
        EXPECT_TRUE(eventually([&] { return store.expire_calls.load() >= 2; }));
        EXPECT_GE(sweeps.load(), 1);
    }  // stops promptly on destruction
    const int after = store.stats_calls.load();
    std::this_thread::sleep_for(60ms);
    EXPECT_EQ(store.stats_calls.load(), after);
}

TEST(HttpEndpoints, HealthMetricsWithGaugesAndNotFound) {
    Metrics metrics;
    StoreGauges gauges;
    gauges.queued_messages = 5;
    gauges.accounts = 3;
    HttpEndpoints endpoints(metrics, gauges);
    auto health = endpoints("/healthz");
    EXPECT_EQ(health.status, 200);
    EXPECT_EQ(health.body, "ok\n");
    auto m = endpoints("/metrics");
    EXPECT_EQ(m.status, 200);
    EXPECT_NE(
        m.body.find("# TYPE paperplane_queued_messages gauge\npaperplane_queued_messages 5\n"),
        std::string::npos);
    EXPECT_NE(m.body.find("paperplane_accounts 3\n"), std::string::npos);
    EXPECT_NE(m.body.find("paperplane_connections_total"), std::string::npos);
    // No network server attached: its counters are simply absent.
    EXPECT_EQ(m.body.find("paperplane_tls_handshake_failures_total"), std::string::npos);
    EXPECT_EQ(endpoints("/nope").status, 404);
}

// SIGTERM stops the housekeeper: a large expiry sweep in progress ends after its chunk, not
// after the whole backlog.
TEST(Housekeeper, StopInterruptsARunningExpirySweep) {
    SlowSweepStore store;
    Metrics metrics;
    StoreGauges gauges;
    Housekeeper::Options o;
    o.expire_interval = 10ms;
    Housekeeper h(store, metrics, gauges, o);
    ASSERT_TRUE(eventually([&] { return store.sweeping.load(); }));
    const auto start = std::chrono::steady_clock::now();
    h.stop();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
    EXPECT_TRUE(store.told_to_stop.load());
}

// The gauge tick (which also retries stalled drains) goes on during a long expiry sweep: the
// sweep gives way between chunks and resumes right after the tick, not an expiry interval
// later.
TEST(Housekeeper, ALongExpirySweepGivesWayToTheGaugeTick) {
    SlowSweepStore store;
    Metrics metrics;
    StoreGauges gauges;
    std::atomic<int> ticks{0};
    Housekeeper::Options o;
    o.gauge_interval = 20ms;
    o.expire_interval = 2s;
    Housekeeper h(store, metrics, gauges, o, [&] { ++ticks; });
    ASSERT_TRUE(eventually([&] { return store.sweeping.load(); }));
    const int ticks_then = ticks.load();
    // Both within 1.5 s: one uninterrupted sweep would take 10 s, and a sweep rescheduled by
    // its interval would come back after 2 s.
    const auto deadline = std::chrono::steady_clock::now() + 1500ms;
    while (std::chrono::steady_clock::now() < deadline &&
           (ticks.load() < ticks_then + 3 || store.expire_calls.load() < 4))
        std::this_thread::sleep_for(5ms);
    EXPECT_GE(ticks.load(), ticks_then + 3);
    EXPECT_GE(store.expire_calls.load(), 4);
    EXPECT_GE(store.stats_calls.load(), ticks_then + 3);
}

// A tick slower than its interval leaves the sweep's deadline already past when it starts;
// the sweep still goes forward a chunk at a time.
TEST(Housekeeper, ASweepAdvancesEvenWhenTheTickRunsLate) {
    SlowSweepStore store;
    Metrics metrics;
    StoreGauges gauges;
    Housekeeper::Options o;
    o.gauge_interval = 1ms;
    o.expire_interval = 1ms;
    // Each tick takes longer than the gauge interval.
    Housekeeper h(store, metrics, gauges, o, [] { std::this_thread::sleep_for(5ms); });
    EXPECT_TRUE(eventually([&] { return store.chunks.load() >= 5; }));
}

}  // namespace
}  // namespace pp::server

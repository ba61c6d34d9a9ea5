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
    std::atomic<int> stats_calls{0}, expire_calls{0};

    Result<store::Stats> stats() override {
        ++stats_calls;
        store::Stats s;
        s.accounts = 7;
        s.queued_messages = 42;
        return s;
    }
    Result<std::size_t> expire(std::int64_t) override {
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

}  // namespace
}  // namespace pp::server

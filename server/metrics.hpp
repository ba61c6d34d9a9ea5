#pragma once
// Server metrics in the Prometheus text format. Counters and histograms are lock-free so the
// hot paths only pay an atomic add; rendering reads them without stopping anyone.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace pp::server {

class LatencyHistogram {
  public:
    // Bucket upper bounds in seconds.
    static constexpr std::array<double, 12> kBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                       0.05,   0.1,   0.25,   0.5,   1.0,  2.5};
    void observe(std::chrono::nanoseconds d);
    void render(std::string& out, const std::string& name, const std::string& help) const;

  private:
    std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets_{};
    std::atomic<std::uint64_t> count_{0};
    std::atomic<std::uint64_t> sum_ns_{0};
};

struct Metrics {
    std::atomic<std::uint64_t> connections_total{0};
    std::atomic<std::int64_t> connections_open{0};
    std::atomic<std::int64_t> connections_authenticated{0};
    // Registration, prekey upload and bundle fetch requests running or queued on the workers,
    // and the frames their connections sent meanwhile, which wait for them in order.
    std::atomic<std::int64_t> requests_on_workers{0};
    std::atomic<std::int64_t> frames_waiting{0};
    std::atomic<std::uint64_t> frames_in{0};
    std::atomic<std::uint64_t> frames_rejected{0};
    std::atomic<std::uint64_t> registrations{0};
    std::atomic<std::uint64_t> auth_failures{0};
    std::atomic<std::uint64_t> sends{0};
    std::atomic<std::uint64_t> sends_duplicate{0};
    std::atomic<std::uint64_t> messages_stored{0};
    std::atomic<std::uint64_t> deliveries{0};
    std::atomic<std::uint64_t> acks{0};
    std::atomic<std::uint64_t> commits{0};
    std::atomic<std::uint64_t> rate_limited{0};
    std::atomic<std::uint64_t> busy_refusals{0};           // group committer full: "server busy"
    std::atomic<std::uint64_t> prekey_fetches_limited{0};  // bundles handed out without prekeys
    std::atomic<std::uint64_t> store_errors{0};
    LatencyHistogram commit_latency;   // send received -> durable
    LatencyHistogram request_latency;  // any request, received -> response queued

    // Renders everything; `extra` appends gauges owned elsewhere (queue depth, net counters).
    std::string render(const std::function<void(std::string&)>& extra = {}) const;
};

}  // namespace pp::server

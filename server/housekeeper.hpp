#pragma once
// Background upkeep of a running server, on one thread of its own: refreshes the store gauges
// (so a /metrics scrape never waits on the database), drops expired messages, and lets the
// caller forget idle rate-limit buckets and retry stalled drains. A long expiry sweep gives way
// between its chunks to the next gauge tick and goes on after it; stop() or destruction ends
// it after the chunk it is in.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "server/event_log.hpp"
#include "server/metrics.hpp"
#include "store/store.hpp"

namespace pp::server {

// Gauges read from the store by the housekeeper, rendered by /metrics.
struct StoreGauges {
    std::atomic<std::uint64_t> queued_messages{0};
    std::atomic<std::uint64_t> accounts{0};
    std::atomic<std::uint64_t> database_bytes{0};
    std::atomic<std::uint64_t> database_free_bytes{0};
    std::atomic<std::uint64_t> database_max_bytes{0};
};

class Housekeeper {
  public:
    struct Options {
        std::chrono::milliseconds gauge_interval{10'000};
        std::chrono::milliseconds expire_interval{60'000};
    };
    using Sweep = std::function<void()>;

    // Starts the thread. Each gauge tick also runs `sweep` when given (rate-limit buckets).
    Housekeeper(store::Store& store, Metrics& metrics, StoreGauges& gauges, Options options,
                Sweep sweep = {});
    ~Housekeeper();
    Housekeeper(const Housekeeper&) = delete;
    Housekeeper& operator=(const Housekeeper&) = delete;

    void stop();

  private:
    void run();
    void refresh_gauges();
    // Sweeps expired messages until done or yield_at (at least one chunk either way); true if
    // it stopped early for yield_at.
    bool expire(std::chrono::steady_clock::time_point yield_at);

    store::Store& store_;
    Metrics& metrics_;
    StoreGauges& gauges_;
    Options options_;
    Sweep sweep_;
    EventLog events_{false};
    std::mutex mutex_;
    std::condition_variable wake_;
    std::atomic<bool> stopping_{false};  // also read by a running sweep, between its chunks
    std::thread thread_;
};

}  // namespace pp::server

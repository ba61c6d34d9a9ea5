#include "server/housekeeper.hpp"

#include <utility>

#include "base/unix_time.hpp"

namespace pp::server {

Housekeeper::Housekeeper(store::Store& store, Metrics& metrics, StoreGauges& gauges,
                         Options options, Sweep sweep)
    : store_(store),
      metrics_(metrics),
      gauges_(gauges),
      options_(options),
      sweep_(std::move(sweep)) {
    thread_ = std::thread([this] { run(); });
}

Housekeeper::~Housekeeper() {
    stop();
}

void Housekeeper::stop() {
    {
        std::lock_guard lock(mutex_);  // so the wait below cannot miss it
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void Housekeeper::refresh_gauges() {
    auto st = store_.stats();
    if (!st) {
        metrics_.store_errors.fetch_add(1, std::memory_order_relaxed);
        events_.store_error("stats", st.error().detail);
        return;
    }
    gauges_.queued_messages = st->queued_messages;
    gauges_.accounts = st->accounts;
    gauges_.database_bytes = st->database_bytes;
    gauges_.database_free_bytes = st->database_free_bytes;
    gauges_.database_max_bytes = st->database_max_bytes;
}

bool Housekeeper::expire(std::chrono::steady_clock::time_point yield_at) {
    bool yielded = false;
    bool first = true;
    auto gone = store_.expire(unix_ms_now(), [&] {
        if (stopping_.load()) return false;
        // Every call sweeps at least one chunk: a tick slower than its interval leaves yield_at
        // already past, and the sweep must still advance between ticks.
        if (std::exchange(first, false)) return true;
        // The gauge tick retries stalled drains: a long sweep must not hold it up.
        yielded = std::chrono::steady_clock::now() >= yield_at;
        return !yielded;
    });
    if (!gone) {
        metrics_.store_errors.fetch_add(1, std::memory_order_relaxed);
        events_.store_error("expire", gone.error().detail);
        return false;  // the rest waits for the next interval, as after any error
    }
    return yielded;
}

void Housekeeper::run() {
    using Clock = std::chrono::steady_clock;
    auto next_gauges = Clock::now();
    auto next_expire = Clock::now() + options_.expire_interval;
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        const auto now = Clock::now();
        if (now >= next_gauges || now >= next_expire) {
            lock.unlock();
            if (now >= next_gauges) {
                refresh_gauges();
                if (sweep_) sweep_();
                next_gauges = now + options_.gauge_interval;
            }
            if (now >= next_expire) {
                // A sweep that stopped for the gauge tick goes on right after it.
                next_expire = expire(next_gauges) ? next_gauges : now + options_.expire_interval;
            }
            lock.lock();
            continue;
        }
        wake_.wait_until(lock, std::min(next_gauges, next_expire),
                         [this] { return stopping_.load(); });
    }
}

}  // namespace pp::server

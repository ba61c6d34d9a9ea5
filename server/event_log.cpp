#include "server/event_log.hpp"

#include <spdlog/spdlog.h>

namespace pp::server {

void EventLog::connection_open(std::uint64_t conn, std::string_view ip) const {
    if (log_addresses_)
        spdlog::info("event=conn_open conn={} addr={}", conn, ip);
    else
        spdlog::info("event=conn_open conn={}", conn);
}

void EventLog::connection_close(std::uint64_t conn, std::chrono::steady_clock::duration lived,
                                bool authenticated, std::uint64_t rate_limited) const {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(lived).count();
    spdlog::info("event=conn_close conn={} duration_s={} authenticated={} rate_limited={}", conn,
                 seconds, authenticated, rate_limited);
}

void EventLog::auth_ok(std::uint64_t conn, std::uint32_t device) const {
    spdlog::info("event=auth_ok conn={} device={}", conn, device);
}

void EventLog::auth_failed(std::uint64_t conn, std::string_view reason) const {
    spdlog::info("event=auth_failed conn={} reason={}", conn, reason);
}

void EventLog::registration(std::uint64_t conn, std::string_view policy) const {
    spdlog::info("event=register conn={} policy={}", conn, policy);
}

void EventLog::rate_limited(std::uint64_t conn, std::string_view limit) const {
    spdlog::warn("event=rate_limited conn={} limit={}", conn, limit);
}

void EventLog::backpressure_close(std::uint64_t conn, int queued_frames) const {
    spdlog::warn("event=backpressure_close conn={} queued_frames={}", conn, queued_frames);
}

bool EventLog::allow(std::atomic<std::int64_t>& last, std::atomic<std::uint64_t>& dropped,
                     std::uint64_t& suppressed) {
    const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count();
    std::int64_t prev = last.load(std::memory_order_relaxed);
    if (now - prev < 1000 || !last.compare_exchange_strong(prev, now)) {
        dropped.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    suppressed = dropped.exchange(0, std::memory_order_relaxed);
    return true;
}

void EventLog::busy(std::string_view what) {
    std::uint64_t suppressed = 0;
    if (!allow(last_busy_, dropped_busy_, suppressed)) return;
    spdlog::warn("event=server_busy refused={} suppressed={}", what, suppressed);
}

void EventLog::pushes_lost() const {
    spdlog::warn(
        "event=pushes_lost detail=\"a commit batch failed part way (out of memory); every "
        "session drains\"");
}

void EventLog::store_error(std::string_view op, std::string_view detail) {
    std::uint64_t suppressed = 0;
    if (!allow(last_store_error_, dropped_store_errors_, suppressed)) return;
    spdlog::error("event=store_error op={} detail=\"{}\" suppressed={}", op, detail, suppressed);
}

}  // namespace pp::server

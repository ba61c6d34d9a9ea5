#pragma once
// net/ internal: state shared by the Server and its sessions. Sessions hold it by shared_ptr,
// so it outlives every coroutine that still touches it.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "net/server.hpp"

namespace pp::net::detail {

class Session;

struct AtomicCounters {
    std::atomic<std::uint64_t> connections_open{0};
    std::atomic<std::uint64_t> connections_total{0};
    std::atomic<std::uint64_t> handshake_failures{0};
    std::atomic<std::uint64_t> frames_in{0};
    std::atomic<std::uint64_t> frames_out{0};
    std::atomic<std::uint64_t> bytes_in{0};
    std::atomic<std::uint64_t> bytes_out{0};
    std::atomic<std::uint64_t> rejected_over_limit{0};
};

struct ServerCore {
    ServerCore(ServerOptions o, TlsIdentity t, Handler& h, HttpRoute r)
        : opts(std::move(o)), tls(std::move(t)), handler(h), route(std::move(r)) {}

    const ServerOptions opts;
    const TlsIdentity tls;
    Handler& handler;
    const HttpRoute route;
    AtomicCounters counters;

    // Live sessions, so shutdown() can reach every one of them.
    void add(std::uint64_t id, const std::shared_ptr<Session>& s);
    void remove(std::uint64_t id);
    std::vector<std::shared_ptr<Session>> snapshot();
    // Calls fn(Session&) for each live session with the lock held, copying nothing: for the
    // keep-alive sweep, which would otherwise copy every session's pointer each tick. fn must
    // be quick (no posting) and must not call add(), remove() or snapshot().
    template <class Fn>
    void for_each_live(Fn&& fn) {
        std::lock_guard lock(mu_);
        for (auto& [id, weak] : live_) {
            if (auto s = weak.lock()) fn(*s);
        }
    }
    // Waits until no session is live or `timeout` passes; true if none is left.
    bool wait_all_closed(std::chrono::milliseconds timeout);

  private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::unordered_map<std::uint64_t, std::weak_ptr<Session>> live_;
};

}  // namespace pp::net::detail

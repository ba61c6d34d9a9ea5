#pragma once
// Counters both relay modes update and the admin listener renders as Prometheus text. Lock-free
// on the hot path (atomics); the per-user table takes a mutex only to find or add a user.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace pp::relay {

class Metrics {
  public:
    struct UserCounters {
        std::atomic<std::uint64_t> bytes_up{0};    // client -> destination
        std::atomic<std::uint64_t> bytes_down{0};  // destination -> client
        std::atomic<std::uint64_t> connections_total{0};
        std::atomic<std::int64_t> connections_open{0};
    };

    // Connections accepted on any listener, and those still open.
    std::atomic<std::uint64_t> connections_total{0};
    std::atomic<std::int64_t> connections_open{0};
    // Refused at accept because the global cap was reached.
    std::atomic<std::uint64_t> connections_over_cap{0};

    // SOCKS5 mode.
    std::atomic<std::uint64_t> socks5_auth_failures{0};
    std::atomic<std::uint64_t> socks5_handshake_failures{0};
    std::atomic<std::uint64_t> socks5_connects_ok{0};
    std::atomic<std::uint64_t> socks5_connects_failed{0};
    std::atomic<std::uint64_t> socks5_denied{0};
    std::atomic<std::uint64_t> socks5_udp_datagrams{0};

    // Relay mode.
    std::atomic<std::uint64_t> relay_authenticated{0};
    std::atomic<std::uint64_t> relay_decoy{0};  // everything sent to the decoy site
    std::atomic<std::uint64_t> relay_replays{0};
    // Authenticated but turned away because the replay cache was full of live entries.
    std::atomic<std::uint64_t> relay_busy{0};
    std::atomic<std::uint64_t> relay_upstream_failures{0};
    std::atomic<std::uint64_t> relay_bytes_up{0};
    std::atomic<std::uint64_t> relay_bytes_down{0};

    // Stable for the process's life: callers may keep the pointer for a connection's lifetime.
    std::shared_ptr<UserCounters> user(std::string_view name);

    // Prometheus text exposition format (version 0.0.4).
    std::string render_prometheus() const;

  private:
    mutable std::mutex users_mutex_;
    std::map<std::string, std::shared_ptr<UserCounters>, std::less<>> users_;
};

}  // namespace pp::relay

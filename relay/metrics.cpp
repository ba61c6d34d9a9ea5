#include "relay/metrics.hpp"

#include <fmt/format.h>

namespace pp::relay {

std::shared_ptr<Metrics::UserCounters> Metrics::user(std::string_view name) {
    std::lock_guard lock(users_mutex_);
    auto it = users_.find(name);
    if (it == users_.end())
        it = users_.emplace(std::string(name), std::make_shared<UserCounters>()).first;
    return it->second;
}

namespace {

void counter(std::string& out, const char* name, const char* help, std::uint64_t v) {
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} counter\n{0} {2}\n", name, help, v);
}

void gauge(std::string& out, const char* name, const char* help, std::int64_t v) {
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} gauge\n{0} {2}\n", name, help, v);
}

// User names come from the operator's users file; escape what the label syntax reserves.
std::string label_value(std::string_view v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

}  // namespace

std::string Metrics::render_prometheus() const {
    std::string out;
    counter(out, "paperplane_relay_connections_total", "Client connections accepted.",
            connections_total.load());
    gauge(out, "paperplane_relay_connections_open", "Client connections open now.",
          connections_open.load());
    counter(out, "paperplane_relay_connections_over_cap_total",
            "Connections refused because the global cap was reached.", connections_over_cap.load());
    counter(out, "paperplane_relay_socks5_auth_failures_total",
            "SOCKS5 username/password checks that failed.", socks5_auth_failures.load());
    counter(out, "paperplane_relay_socks5_handshake_failures_total",
            "SOCKS5 handshakes that were malformed, unsupported or timed out.",
            socks5_handshake_failures.load());
    counter(out, "paperplane_relay_socks5_connects_total", "SOCKS5 CONNECTs that succeeded.",
            socks5_connects_ok.load());
    counter(out, "paperplane_relay_socks5_connect_failures_total",
            "SOCKS5 CONNECTs whose destination could not be reached.",
            socks5_connects_failed.load());
    counter(out, "paperplane_relay_socks5_denied_total",
            "SOCKS5 requests refused by the destination policy.", socks5_denied.load());
    counter(out, "paperplane_relay_socks5_udp_datagrams_total",
            "UDP datagrams relayed for UDP ASSOCIATE.", socks5_udp_datagrams.load());
    counter(out, "paperplane_relay_relay_authenticated_total",
            "Relay-mode connections that authenticated.", relay_authenticated.load());
    counter(out, "paperplane_relay_relay_decoy_total",
            "Relay-mode connections handed to the decoy site.", relay_decoy.load());
    counter(out, "paperplane_relay_relay_replays_total",
            "Relay-mode authenticators seen before (replays).", relay_replays.load());
    counter(out, "paperplane_relay_relay_busy_total",
            "Relay-mode clients turned away busy (replay cache full).", relay_busy.load());
    counter(out, "paperplane_relay_relay_upstream_failures_total",
            "Authenticated relay connections whose home server could not be reached.",
            relay_upstream_failures.load());
    counter(out, "paperplane_relay_relay_bytes_up_total", "Relay-mode bytes client to server.",
            relay_bytes_up.load());
    counter(out, "paperplane_relay_relay_bytes_down_total", "Relay-mode bytes server to client.",
            relay_bytes_down.load());

    std::lock_guard lock(users_mutex_);
    out +=
        "# HELP paperplane_relay_user_bytes_total SOCKS5 bytes per user and direction.\n"
        "# TYPE paperplane_relay_user_bytes_total counter\n";
    for (const auto& [name, c] : users_) {
        const auto label = label_value(name);
        out += fmt::format("paperplane_relay_user_bytes_total{{user=\"{}\",direction=\"up\"}} {}\n",
                           label, c->bytes_up.load());
        out +=
            fmt::format("paperplane_relay_user_bytes_total{{user=\"{}\",direction=\"down\"}} {}\n",
                        label, c->bytes_down.load());
    }
    out +=
        "# HELP paperplane_relay_user_connections_open SOCKS5 connections open per user.\n"
        "# TYPE paperplane_relay_user_connections_open gauge\n";
    for (const auto& [name, c] : users_)
        out += fmt::format("paperplane_relay_user_connections_open{{user=\"{}\"}} {}\n",
                           label_value(name), c->connections_open.load());
    return out;
}

}  // namespace pp::relay

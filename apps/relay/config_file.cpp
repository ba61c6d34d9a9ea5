#include "apps/relay/config_file.hpp"

#include <toml++/toml.h>

#include <charconv>

namespace pp::apps {

std::optional<SplitHostPort> split_host_port(const std::string& value) {
    const auto colon = value.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == value.size()) return std::nullopt;
    std::string host = value.substr(0, colon);
    if (host.front() == '[') {
        if (host.size() < 3 || host.back() != ']') return std::nullopt;
        host = host.substr(1, host.size() - 2);
    } else if (host.find(':') != std::string::npos) {
        return std::nullopt;  // a bare IPv6 address needs brackets to be unambiguous
    }
    unsigned port = 0;
    const char* first = value.data() + colon + 1;
    const char* last = value.data() + value.size();
    auto [end, ec] = std::from_chars(first, last, port);
    if (ec != std::errc{} || end != last || port > 65535) return std::nullopt;
    return SplitHostPort{host, static_cast<std::uint16_t>(port)};
}

std::optional<std::string> check_host_port(const std::string& value) {
    if (!split_host_port(value)) return "\"" + value + "\" is not host:port (IPv6 as [addr]:port)";
    return std::nullopt;
}

namespace {

std::optional<std::string> read_list(toml::node_view<const toml::node> node, const char* name,
                                     std::vector<std::string>& out) {
    if (!node) return std::nullopt;
    const auto* array = node.as_array();
    if (!array) return std::string(name) + " must be an array of strings";
    out.clear();
    for (const auto& item : *array) {
        auto s = item.value<std::string>();
        if (!s) return std::string(name) + " must be an array of strings";
        out.push_back(*s);
    }
    return std::nullopt;
}

std::optional<std::string> read_seconds(toml::node_view<const toml::node> node, const char* name,
                                        std::chrono::seconds& out) {
    if (!node) return std::nullopt;
    auto v = node.value<std::int64_t>();
    if (!v || *v <= 0 || *v > 86400 * 7) return std::string(name) + " must be 1..604800 seconds";
    out = std::chrono::seconds(*v);
    return std::nullopt;
}

// A misspelt key would silently leave a default in force (say, "alow_no_auth" or "deny"
// lists that never apply): every key must be one this version knows.
std::optional<std::string> check_keys(const toml::table& t, const char* where,
                                      std::initializer_list<std::string_view> known) {
    for (const auto& [key, value] : t) {
        bool ok = false;
        for (auto k : known) ok = ok || key.str() == k;
        if (!ok) return "unknown setting \"" + std::string(key.str()) + "\" in " + where;
    }
    return std::nullopt;
}

std::optional<std::string> load_socks5(const toml::table& t, relay::Socks5Config& s) {
    if (auto e = check_keys(t, "[socks5]",
                            {"enabled", "listen", "users_file", "allow_no_auth", "udp_associate",
                             "max_connections_per_user", "allow", "deny", "handshake_timeout_s",
                             "connect_timeout_s", "idle_timeout_s"}))
        return e;
    s.enabled = t["enabled"].value_or(true);
    if (auto v = t["listen"].value<std::string>()) s.listen = *v;
    if (auto v = t["users_file"].value<std::string>()) s.users_file = *v;
    if (auto v = t["allow_no_auth"].value<bool>()) s.allow_no_auth = *v;
    if (auto v = t["udp_associate"].value<bool>()) s.udp_associate = *v;
    if (auto v = t["max_connections_per_user"].value<std::int64_t>()) {
        if (*v <= 0 || *v > 1'000'000) return "socks5.max_connections_per_user must be 1..1000000";
        s.max_connections_per_user = static_cast<unsigned>(*v);
    }
    if (auto e = read_list(t["allow"], "socks5.allow", s.allow)) return e;
    if (auto e = read_list(t["deny"], "socks5.deny", s.deny)) return e;
    if (auto e = read_seconds(t["handshake_timeout_s"], "socks5.handshake_timeout_s",
                              s.handshake_timeout))
        return e;
    if (auto e = read_seconds(t["idle_timeout_s"], "socks5.idle_timeout_s", s.idle_timeout))
        return e;
    if (auto e =
            read_seconds(t["connect_timeout_s"], "socks5.connect_timeout_s", s.connect_timeout))
        return e;
    return check_host_port(s.listen);
}

std::optional<std::string> load_relay_mode(const toml::table& t, relay::RelayModeConfig& r) {
    if (auto e = check_keys(t, "[relay]",
                            {"enabled", "listen", "tls_cert", "tls_key", "decoy", "decoy_root",
                             "upstreams", "clock_window_s", "handshake_timeout_s", "idle_timeout_s",
                             "decoy_keepalive_timeout_s", "replay_cache_entries"}))
        return e;
    r.enabled = t["enabled"].value_or(true);
    if (auto v = t["listen"].value<std::string>()) r.listen = *v;
    if (auto v = t["tls_cert"].value<std::string>()) r.tls_cert = *v;
    if (auto v = t["tls_key"].value<std::string>()) r.tls_key = *v;
    if (auto v = t["decoy"].value<std::string>()) r.decoy = *v;
    if (auto v = t["decoy_root"].value<std::string>()) r.decoy_root = *v;
    if (auto e = read_list(t["upstreams"], "relay.upstreams", r.upstreams)) return e;
    if (auto e = read_seconds(t["clock_window_s"], "relay.clock_window_s", r.clock_window))
        return e;
    if (auto e = read_seconds(t["handshake_timeout_s"], "relay.handshake_timeout_s",
                              r.handshake_timeout))
        return e;
    if (auto e = read_seconds(t["idle_timeout_s"], "relay.idle_timeout_s", r.idle_timeout))
        return e;
    if (auto e = read_seconds(t["decoy_keepalive_timeout_s"], "relay.decoy_keepalive_timeout_s",
                              r.decoy_keepalive_timeout))
        return e;
    if (auto v = t["replay_cache_entries"].value<std::int64_t>()) {
        if (*v < 1024 || *v > 10'000'000)
            return "relay.replay_cache_entries must be 1024..10000000";
        r.replay_cache_entries = static_cast<std::size_t>(*v);
    }
    if (auto e = check_host_port(r.listen)) return e;
    for (const auto& u : r.upstreams)
        if (auto e = check_host_port(u)) return "relay.upstreams: " + *e;
    if (!r.decoy.empty())
        if (auto e = check_host_port(r.decoy)) return "relay.decoy: " + *e;
    return std::nullopt;
}

}  // namespace

std::optional<std::string> load_relay_toml(const std::string& path, relay::Config& c) {
    // Debian's shared toml++ is built with exceptions: parse errors are thrown, not returned.
    toml::table t;
    try {
        t = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
        return "cannot read " + path + ": " + std::string(e.description());
    }
    if (auto e = check_keys(t, "the top level",
                            {"data_dir", "public_host", "admin_listen", "max_connections",
                             "threads", "socks5", "relay"}))
        return e;
    if (auto v = t["data_dir"].value<std::string>()) c.data_dir = *v;
    if (auto v = t["public_host"].value<std::string>()) c.public_host = *v;
    if (auto v = t["admin_listen"].value<std::string>()) c.admin_listen = *v;
    if (auto v = t["max_connections"].value<std::int64_t>()) {
        if (*v <= 0 || *v > 1'000'000) return "max_connections must be 1..1000000";
        c.max_connections = static_cast<unsigned>(*v);
    }
    if (auto v = t["threads"].value<std::int64_t>()) {
        if (*v < 0 || *v > 256) return "threads must be 0..256";
        c.threads = static_cast<unsigned>(*v);
    }
    if (!c.admin_listen.empty())
        if (auto e = check_host_port(c.admin_listen)) return "admin_listen: " + *e;
    if (const auto* s = t["socks5"].as_table())
        if (auto e = load_socks5(*s, c.socks5)) return e;
    if (const auto* r = t["relay"].as_table())
        if (auto e = load_relay_mode(*r, c.relay)) return e;
    return std::nullopt;
}

}  // namespace pp::apps

#include "client/routes.hpp"

#include <sodium.h>

#include <algorithm>
#include <charconv>

#include "client/links.hpp"
#include "wire/share_links.hpp"

namespace pp::client {

namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

net::Route proxy_route(net::RouteKind kind, const wire::Socks5Link& l) {
    net::Route r;
    r.kind = kind;
    r.host = l.host;
    r.port = l.port;
    r.username = l.user;
    r.password = l.password;
    return r;
}

}  // namespace

Result<net::Route> route_from_link(std::string_view link, const ServerAddress& server) {
    if (starts_with(link, "paperplane://relay")) {
        auto l = wire::parse_relay_link(link);
        if (!l) return l.error();
        net::Route r;
        r.kind = net::RouteKind::kRelay;
        r.relay.host = l->host;
        r.relay.port = l->port;
        r.relay.pin = l->pin;
        r.relay.secret = wire::relay::LinkSecret(l->secret.view());
        r.host = l->host;
        r.port = l->port;
        return r;
    }
    if (starts_with(link, "paperplane://server")) {
        auto s = parse_server_link(link);
        if (!s) return s.error();
        if (s->pin != server.pin)
            return make_error(ErrorCode::kInvalidKey, "this server link pins another certificate");
        net::Route r;
        r.host = s->host;
        r.port = s->port;
        return r;
    }
    if (starts_with(link, "socks5://")) {
        auto l = wire::parse_socks5_link(link);
        if (!l) return l.error();
        return proxy_route(net::RouteKind::kSocks5, *l);
    }
    if (starts_with(link, "tg://socks") || starts_with(link, "https://t.me/socks")) {
        auto l = wire::parse_telegram_socks_link(link);
        if (!l) return l.error();
        return proxy_route(net::RouteKind::kSocks5, *l);
    }
    if (starts_with(link, "http://")) {
        // An HTTP proxy link has exactly the socks5:// shape ([user:password@]host:port, RFC
        // 3986 userinfo), so the same strict parser reads it; browsers add an empty path.
        auto rest = link.substr(7);
        if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
        auto l = wire::parse_socks5_link("socks5://" + std::string(rest));
        if (!l) return l.error();
        return proxy_route(net::RouteKind::kHttpConnect, *l);
    }
    return make_error(ErrorCode::kMalformed,
                      "not a route link: paperplane://relay, paperplane://server, socks5://, "
                      "tg://socks or http://");
}

Result<net::Route> route_from_endpoint(std::string_view host_port) {
    std::string_view host, port;
    if (starts_with(host_port, "[")) {
        const auto close = host_port.find("]:");
        if (close == std::string_view::npos)
            return make_error(ErrorCode::kMalformed, "endpoint: [v6]:port expected");
        host = host_port.substr(1, close - 1);
        port = host_port.substr(close + 2);
    } else {
        const auto colon = host_port.rfind(':');
        if (colon == std::string_view::npos)
            return make_error(ErrorCode::kMalformed, "endpoint: host:port expected");
        host = host_port.substr(0, colon);
        port = host_port.substr(colon + 1);
        if (host.find(':') != std::string_view::npos)
            return make_error(ErrorCode::kMalformed, "endpoint: an IPv6 address needs brackets");
    }
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
        return make_error(ErrorCode::kMalformed, "endpoint: bad port");
    if (!wire::valid_host(host)) return make_error(ErrorCode::kMalformed, "endpoint: bad host");
    net::Route r;
    r.host = std::string(host);
    r.port = static_cast<std::uint16_t>(value);
    return r;
}

const char* route_kind_name(net::RouteKind kind) {
    switch (kind) {
        case net::RouteKind::kDirect:
            return "direct";
        case net::RouteKind::kSocks5:
            return "socks5";
        case net::RouteKind::kHttpConnect:
            return "http";
        case net::RouteKind::kRelay:
            return "relay";
    }
    return "unknown";
}

const char* route_source_name(RouteSource source) {
    switch (source) {
        case RouteSource::kUser:
            return "user";
        case RouteSource::kAccount:
            return "server";
        case RouteSource::kEndpointList:
            return "endpoint list";
    }
    return "unknown";
}

void put_last_winner_first(std::vector<Candidate>& candidates, std::string_view last_winner) {
    auto it = std::find_if(candidates.begin(), candidates.end(),
                           [&](const Candidate& c) { return c.key == last_winner; });
    if (it != candidates.end()) std::rotate(candidates.begin(), it, it + 1);
}

bool RouteBackoff::resting(const std::string& key, Clock::time_point now) const {
    auto it = state_.find(key);
    return it != state_.end() && now < it->second.until;
}

void RouteBackoff::failed(const std::string& key, Clock::time_point now) {
    auto& s = state_[key];
    s.failures = std::min(s.failures + 1, 20u);
    auto full = kBase * (1LL << std::min(s.failures - 1, 16u));
    if (full > kMax) full = kMax;
    // Uniform in [full/2, full]: randombytes_uniform is unbiased.
    const auto half = static_cast<std::uint32_t>(full.count() / 2);
    const auto jittered = std::chrono::milliseconds(half + randombytes_uniform(half + 1));
    s.until = now + jittered;
}

std::vector<Candidate> RouteBackoff::usable(const std::vector<Candidate>& all,
                                            Clock::time_point now) const {
    std::vector<Candidate> out;
    for (const auto& c : all)
        if (!resting(c.key, now)) out.push_back(c);
    return out.empty() ? all : out;
}

}  // namespace pp::client

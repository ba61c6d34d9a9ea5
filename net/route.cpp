#include "net/route.hpp"

namespace pp::net {

namespace {

// "host:port", with brackets around IPv6 literals so the port stays readable.
std::string host_port(const std::string& host, std::uint16_t port) {
    const bool v6 = host.find(':') != std::string::npos && host.front() != '[';
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

std::string Route::describe() const {
    switch (kind) {
        case RouteKind::kDirect:
            return "direct " + host_port(host, port);
        case RouteKind::kSocks5:
            return "socks5 " + host_port(host, port);
        case RouteKind::kHttpConnect:
            return "http " + host_port(host, port);
        case RouteKind::kRelay:
            return "relay " + host_port(relay.host, relay.port);
    }
    return "unknown route";
}

}  // namespace pp::net

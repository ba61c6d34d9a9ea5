#pragma once
// Ways to reach the home server when its addresses may be blocked. A route only decides how
// the bytes travel; whatever route wins, the TLS session on top of it ends at the home server
// and must present the pinned certificate, so a hostile proxy or relay gets nowhere.
//
//   kDirect      TCP to `host:port`, one of the server's own endpoints (a name or an address)
//   kSocks5      through a SOCKS5 proxy at `host:port` (RFC 1928, CONNECT with the server's
//                name sent as-is so the proxy resolves it; RFC 1929 when `username` is set)
//   kHttpConnect through an HTTP proxy at `host:port` (CONNECT, Basic auth when `username` is set)
//   kRelay       through a Paperplane relay (`relay`): pinned TLS to the relay, authenticator,
//                then the inner TLS to the server
#include <chrono>
#include <cstdint>
#include <string>

#include "base/result.hpp"
#include "net/relay_endpoint.hpp"

namespace pp::net {

// The home server every route leads to.
struct ServerTarget {
    std::string host;  // name or address; the proxies and relays are asked for this host
    std::uint16_t port = 0;
    std::string pin;  // lowercase hex SHA-256 of the server's DER certificate
};

enum class RouteKind : std::uint8_t { kDirect, kSocks5, kHttpConnect, kRelay };

struct Route {
    RouteKind kind = RouteKind::kDirect;
    std::string host;  // kDirect: a server endpoint; kSocks5/kHttpConnect: the proxy
    std::uint16_t port = 0;
    std::string username, password;  // proxy credentials; empty: none
    RelayEndpoint relay;             // kRelay only
    // "direct 198.51.100.7:443", "socks5 127.0.0.1:1080", "http 10.0.0.1:3128",
    // "relay r.example.org:443": never credentials or secrets.
    std::string describe() const;
};

struct RaceOptions {
    // Route i starts `stagger` after route i-1, or at once when every earlier one has failed.
    std::chrono::milliseconds stagger{250};
    // Each attempt: connect, proxy or relay handshake, TLS with the pin, WebSocket upgrade.
    std::chrono::milliseconds attempt_timeout{10000};
    std::chrono::milliseconds timeout{15000};  // the whole race
};

// What became of each route in a race, in the order given.
struct AttemptReport {
    bool started = false;
    bool won = false;
    // Stopped before it could finish on its own: another route won, or the whole race ran out
    // of time before this attempt had its full attempt_timeout. An attempt that had it and
    // still had not got through failed ("timed out"): callers may back its route off.
    bool cancelled = false;
    Error error{ErrorCode::kInternal, "not finished"};  // meaningful when started && !won
    std::chrono::milliseconds elapsed{0};
};

}  // namespace pp::net

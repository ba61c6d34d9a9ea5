#pragma once
// client/ internal: the routes a connection attempt races, where they come from, in which
// order, and which are resting after failures.
//
// Candidates, in preference order: the route that won last, then the routes the user added
// (oldest first), the account's own server address, the endpoints of the server's signed list,
// and the relays it vouches for. Whatever route wins, the TLS session inside ends at the home
// server and must show the pinned certificate (net/route.hpp).
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "client/types.hpp"
#include "net/route.hpp"

namespace pp::client {

enum class RouteSource : std::uint8_t { kUser, kAccount, kEndpointList };

struct Candidate {
    net::Route route;
    RouteSource source = RouteSource::kUser;
    std::int64_t user_id = 0;  // kUser: the id `paperplane route list` shows
    // Stable name for "won last" and for backoff: "user/7", "account", "list/direct/H:P",
    // "list/relay/H:P".
    std::string key;
};

// A route from what a user pastes: paperplane://relay?..., socks5://[u:p@]h:p, tg://socks?...,
// https://t.me/socks?..., http://[u:p@]h:p (an HTTP CONNECT proxy), or
// paperplane://server?host=&port=&pin= (another address of our own server: the pin must be
// `server`'s). kMalformed with a reason, kInvalidKey for a server link with another pin.
Result<net::Route> route_from_link(std::string_view link, const ServerAddress& server);

// "host:port" or "[v6]:port", as in the server's endpoint list: a direct route.
Result<net::Route> route_from_endpoint(std::string_view host_port);

const char* route_kind_name(net::RouteKind kind);   // "direct", "socks5", "http", "relay"
const char* route_source_name(RouteSource source);  // "user", "server", "endpoint list"

// Moves the candidate whose key is `last_winner` to the front; the rest keep their order.
void put_last_winner_first(std::vector<Candidate>& candidates, std::string_view last_winner);

// Exponential backoff with jitter per route key, so a blocked route is not retried on every
// connection attempt while the others are raced. In memory: a new process starts fresh.
class RouteBackoff {
  public:
    using Clock = std::chrono::steady_clock;
    static constexpr std::chrono::milliseconds kBase{1000};
    static constexpr std::chrono::milliseconds kMax{5 * 60 * 1000};

    bool resting(const std::string& key, Clock::time_point now) const;
    // The n-th failure in a row rests the route for a random time in [d/2, d], d =
    // min(kMax, kBase * 2^(n-1)): clients blocked together do not retry together.
    void failed(const std::string& key, Clock::time_point now);
    void succeeded(const std::string& key) { state_.erase(key); }
    // Candidates not resting, or all of them when every one is (an attempt must try something).
    std::vector<Candidate> usable(const std::vector<Candidate>& all, Clock::time_point now) const;

  private:
    struct State {
        unsigned failures = 0;
        Clock::time_point until{};
    };
    std::map<std::string, State> state_;
};

}  // namespace pp::client

#pragma once
// net/ internal: races routes to the home server (DESIGN.md, "Reaching a blocked server"), in
// the spirit of Happy Eyeballs (RFC 8305). Route i starts RaceOptions::stagger after route i-1
// started, or at once when every route started so far has failed. Each attempt: resolve and
// TCP-connect (to the server endpoint, the proxy or the relay), the proxy or relay handshake,
// TLS 1.3 pinned to server.pin (SNI server.host when it is a name), the WebSocket upgrade. The
// first attempt through all of that wins; the others are cancelled by closing their sockets
// and end on their own later, holding everything they use (shared ownership), so nothing they
// do touches freed memory whenever the io_context runs them, or destroys them unrun.
//
// Single-threaded: the io_context is run by the caller (detail::run_until), one thread.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "net/detached_lookup.hpp"
#include "net/route.hpp"
#include "net/route_stream.hpp"

namespace pp::net::detail {

using RouteWs = boost::beast::websocket::stream<boost::beast::ssl_stream<RouteStream>>;

struct RaceRequest {
    std::vector<Route> routes;  // in order of preference
    ServerTarget server;
    RaceOptions options;
    std::string host_header;  // of the WebSocket upgrade; empty: server.host
    std::string ws_target = "/v1/ws";
    std::size_t max_frame_bytes = 4 << 20;
    // Where name lookups deliver (detached_lookup.hpp); closed by the io_context's owner.
    std::shared_ptr<LookupGate> lookups;
};

struct RaceWin {
    std::unique_ptr<RouteWs> ws;  // upgraded, no operation pending
    std::size_t winner = 0;       // index into RaceRequest::routes
};

// Detail strings of attempts that did not end by themselves.
inline constexpr std::string_view kCancelledDetail = "cancelled: another route won";
inline constexpr std::string_view kTimedOutDetail = "timed out";

class RouteRace {
  public:
    // Starts the race on `ioc`; nothing happens until the caller runs it. `ctx` is the TLS
    // client context of every attempt's inner TLS (TLS 1.3, verify_peer: pinned_client_context).
    static std::shared_ptr<RouteRace> start(boost::asio::io_context& ioc,
                                            std::shared_ptr<boost::asio::ssl::context> ctx,
                                            RaceRequest request);
    virtual ~RouteRace() = default;

    virtual bool finished() const = 0;
    // Once finished(): the winner, or the most telling error (see WsClient::connect_racing).
    virtual Result<RaceWin> take_result() = 0;
    // One entry per route, final once finished().
    virtual const std::vector<AttemptReport>& reports() const = 0;
    // Ends the race now as timed out (the caller's own deadline passed).
    virtual void abort() = 0;
};

}  // namespace pp::net::detail

// The part of a session before any WebSocket exists: TLS handshake, HTTP requests, upgrade.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "net/session.hpp"
#include "net/ws_upgrade.hpp"

namespace pp::net::detail {

namespace http = beast::http;
namespace websocket = beast::websocket;

namespace {
constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kWsPath = "/v1/ws";
// GET needs no body; a small allowance lets a stray POST be read and answered 405.
constexpr std::uint64_t kMaxBody = 4096;
// Keep-alive serves a scraper's polling; the cap bounds what one socket can ask for.
constexpr int kMaxRequestsPerConnection = 100;
constexpr std::chrono::milliseconds kTlsShutdownGrace{2000};

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

Response respond(const ServerCore& core, const Request& req) {
    Response res;
    res.version(req.version());
    res.keep_alive(req.keep_alive());
    res.set(http::field::server, "paperplane");
    if (req.target() == kWsPath) {
        res.result(http::status::upgrade_required);
        res.set(http::field::upgrade, "websocket");
        res.set(http::field::connection, "Upgrade");
        res.set(http::field::content_type, "text/plain; charset=utf-8");
        res.body() = "websocket only\n";
    } else if (req.method() != http::verb::get) {
        res.result(http::status::method_not_allowed);
        res.set(http::field::allow, "GET");
        res.set(http::field::content_type, "text/plain; charset=utf-8");
        res.body() = "method not allowed\n";
    } else {
        HttpReply reply{500, "text/plain; charset=utf-8", "internal error\n"};
        try {
            if (core.route) reply = core.route(std::string_view(req.target()));
        } catch (...) {
            reply = HttpReply{500, "text/plain; charset=utf-8", "internal error\n"};
        }
        res.result(static_cast<unsigned>(reply.status));
        res.set(http::field::content_type, reply.content_type);
        res.body() = std::move(reply.body);
    }
    // A HEAD response carries no body; Content-Length 0 keeps naive clients from waiting for one.
    if (req.method() == http::verb::head) res.body().clear();
    res.prepare_payload();
    return res;
}
}  // namespace

asio::awaitable<bool> Session::handshake() {
    auto& tls = tls_;
    const auto& opts = core_->opts;
    auto& counters = core_->counters;

    // One deadline from accept through the first request: it is not renewed by progress, so a
    // client trickling bytes gains nothing. The timer lives only in this phase's coroutine
    // frame (it also bounds writing the 101): an open WebSocket relies on the server's
    // keep-alive sweep (session_keepalive.cpp), and holds no timer of its own.
    asio::steady_timer deadline(tls_.get_executor());
    arm_deadline(deadline, opts.handshake_timeout);
    auto [hs_ec] = co_await tls.async_handshake(asio::ssl::stream_base::server, kTok);
    if (hs_ec) {
        counters.handshake_failures.fetch_add(1);
        co_return false;
    }

    beast::flat_buffer buf(opts.max_http_header_bytes + kMaxBody);
    for (int served = 0; served < kMaxRequestsPerConnection; ++served) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(opts.max_http_header_bytes));
        parser.body_limit(kMaxBody);
        auto [rd_ec, rd_n] = co_await http::async_read(tls, buf, parser, kTok);
        if (rd_ec) {
            // A keep-alive client that simply goes away after a response is not a failure.
            if (served == 0) counters.handshake_failures.fetch_add(1);
            co_return false;
        }
        Request req = parser.release();
        if (req.target() == kWsPath && websocket::is_upgrade(req)) {
            co_return co_await accept_websocket(req);
        }
        Response res = respond(*core_, req);
        const bool keep = res.keep_alive();
        auto [wr_ec, wr_n] = co_await http::async_write(tls, res, kTok);
        if (wr_ec) co_return false;
        if (!keep) break;
        arm_deadline(deadline, opts.handshake_timeout);
    }
    arm_deadline(deadline, std::min<std::chrono::steady_clock::duration>(opts.handshake_timeout,
                                                                         kTlsShutdownGrace));
    // close_notify, then FIN, then wait (bounded) for the client's FIN: closing with unread
    // bytes in the socket would send an RST that can destroy the response in flight.
    co_await async_teardown(beast::role_type::server, tls, kTok);
    disarm_deadline();
    co_return false;
}

asio::awaitable<bool> Session::accept_websocket(const Request& req) {
    // The handshake deadline still runs: it bounds writing the 101 too. From the upgrade on,
    // the keep-alive sweep (session_keepalive.cpp) pings and drops a silent peer and bounds a
    // close by the handshake timeout from when it began.
    auto upgrade = answer_ws_upgrade(req);
    auto [ec, n] = co_await http::async_write(tls_, upgrade.response, kTok);
    if (ec || !upgrade.accepted) {
        core_->counters.handshake_failures.fetch_add(1);
        co_return false;
    }
    disarm_deadline();
    heard();  // the idle sweep counts from here
    co_return true;
}

}  // namespace pp::net::detail

#include "relay/relay_connection.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <algorithm>
#include <array>
#include <chrono>

#include "base/unix_time.hpp"
#include "net/relay_client.hpp"
#include "net/tls_impl.hpp"
#include "relay/connection.hpp"
#include "relay/decoy_handoff.hpp"
#include "relay/plain_http_port.hpp"
#include "relay/upstream_connect.hpp"

namespace pp::relay::detail {

namespace {

namespace rw = wire::relay;

bool allowed(const RelayContext& ctx, const std::string& target) {
    const auto& list = ctx.config.relay.upstreams;
    return std::find(list.begin(), list.end(), target) != list.end();
}

asio::awaitable<void> reply_and_close(TlsStream& tls, rw::Status status) {
    const auto reply = rw::encode_reply(status);
    auto [wec, wn] = co_await asio::async_write(tls, asio::buffer(reply), kTok);
    if (!wec) co_await tls.async_shutdown(kTok);
}

// An authenticated client: connect to its home server, say so, then copy both ways.
asio::awaitable<void> relay_to_target(RelayContext& ctx, Connection& c, const std::string& target) {
    using namespace asio::experimental::awaitable_operators;
    TlsStream& tls = *c.tls;
    ctx.metrics.relay_authenticated.fetch_add(1, std::memory_order_relaxed);
    if (!allowed(ctx, target)) {
        co_await reply_and_close(tls, rw::Status::kNotAllowed);
        co_return;
    }
    c.upstream.emplace(tls.get_executor());
    c.touch(ctx.config.relay.handshake_timeout);
    if (co_await connect_host_port(*c.upstream, target, c.closed)) {
        ctx.metrics.relay_upstream_failures.fetch_add(1, std::memory_order_relaxed);
        if (tls.socket().is_open()) co_await reply_and_close(tls, rw::Status::kUnreachable);
        co_return;
    }
    boost::system::error_code ignored;
    c.upstream->set_option(tcp::no_delay(true), ignored);
    const auto reply = rw::encode_reply(rw::Status::kOk);
    auto [wec, wn] = co_await asio::async_write(tls, asio::buffer(reply), kTok);
    if (wec) co_return;
    const auto idle = ctx.config.relay.idle_timeout;
    c.touch(idle);
    co_await (pump(c, tls, *c.upstream, idle, &ctx.metrics.relay_bytes_up) &&
              pump(c, *c.upstream, tls, idle, &ctx.metrics.relay_bytes_down));
}

asio::awaitable<void> serve_tls(RelayContext& ctx, Connection& c) {
    TlsStream& tls = *c.tls;
    auto [hec] = co_await tls.async_handshake(TlsStream::handshake_type::server, kTok);
    if (hec) co_return;  // a failed handshake ends the connection, as at any TLS server

    // The first record decides. One read returns at most one record; the client writes the
    // whole authenticator in one. A longer record is not an authenticator, and what was read of
    // it goes to the decoy like everything else.
    std::array<std::uint8_t, rw::kMaxAuthSize + 1> first{};
    auto [rec, n] = co_await tls.async_read_some(asio::buffer(first), kTok);
    if (rec || n == 0) co_return;
    const ByteView record(first.data(), n);

    // Same work for every record: one HMAC inside verify, one cache lookup only when it passed.
    const std::uint64_t now = unix_seconds_now();
    const auto window = static_cast<std::uint64_t>(ctx.config.relay.clock_window.count());
    // The MAC covers this session's exporter value: a record made for another session fails.
    // Should the exporter fail (it cannot after a finished handshake) nothing verifies.
    const auto binding = net::relay_session_binding(tls.native_handle());
    auto auth = rw::verify_authenticator(ctx.key, binding ? *binding : rw::SessionBinding{}, record,
                                         now, window);
    if (auth && binding) {
        const auto verdict =
            ctx.replays.check_and_insert(auth->mac, auth->unix_seconds + window, now);
        if (verdict == ReplayCache::Verdict::kFresh) {
            co_await relay_to_target(ctx, c, auth->target);
            co_return;
        }
        if (verdict == ReplayCache::Verdict::kFull) {
            // The MAC verified, so this is a holder of the secret, not a prober: say so.
            ctx.metrics.relay_busy.fetch_add(1, std::memory_order_relaxed);
            co_await reply_and_close(tls, rw::Status::kBusy);
            co_return;
        }
        ctx.metrics.relay_replays.fetch_add(1, std::memory_order_relaxed);
    }
    co_await hand_to_decoy(ctx, c, tls, record);
}

asio::awaitable<void> serve(RelayContext& ctx, std::shared_ptr<Connection> c) {
    c->touch(ctx.config.relay.handshake_timeout);
    // Peek, as nginx does on its TLS port: the first byte decides between a TLS handshake and
    // nginx's "plain HTTP request was sent to HTTPS port" answer, and stays in the socket.
    std::uint8_t first = 0;
    auto [pec, pn] =
        co_await c->raw->async_receive(asio::buffer(&first, 1), tcp::socket::message_peek, kTok);
    if (pec || pn == 0) co_return;
    if (!looks_like_tls(first)) {
        co_await answer_plain_http_on_tls_port(*c->raw);
        co_return;
    }
    c->tls = std::make_unique<TlsStream>(std::move(*c->raw), ctx.identity.tls.impl().ctx);
    c->raw.reset();
    co_await serve_tls(ctx, *c);
}

}  // namespace

asio::awaitable<void> serve_relay_connection(std::shared_ptr<RelayContext> ctx,
                                             tcp::socket socket) {
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto c = std::make_shared<Connection>(std::move(socket));
    asio::co_spawn(c->timer.get_executor(), watchdog(c), asio::detached);
    try {
        co_await serve(*ctx, c);
    } catch (...) {
        // Allocation failure or a bug: this connection ends, the event loop and the others go on.
    }
    c->finish();
    c->close_all();
    ctx->metrics.connections_open.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace pp::relay::detail

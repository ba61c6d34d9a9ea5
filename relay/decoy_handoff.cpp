#include "relay/decoy_handoff.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "relay/upstream_connect.hpp"

namespace pp::relay::detail {

namespace {

template <typename Stream>
asio::awaitable<void> to_upstream_decoy(RelayContext& ctx, Connection& c, Stream& client,
                                        ByteView prefix) {
    using namespace asio::experimental::awaitable_operators;
    c.upstream.emplace(client.get_executor());
    c.touch(ctx.config.relay.handshake_timeout);
    if (co_await connect_host_port(*c.upstream, ctx.config.relay.decoy, c.closed)) co_return;
    if (!prefix.empty()) {
        auto [wec, wn] = co_await asio::async_write(
            *c.upstream, asio::buffer(prefix.data(), prefix.size()), kTok);
        if (wec) co_return;
    }
    const auto idle = ctx.config.relay.idle_timeout;
    c.touch(idle);
    // A visitor who sends its request and then ends its side still gets the answer, as from
    // any web server: its end is passed on as a half-close; the decoy's end closes it all.
    co_await (pump(c, client, *c.upstream, idle, nullptr, OnEnd::kHalfClose) &&
              pump(c, *c.upstream, client, idle, nullptr, OnEnd::kCloseAll));
}

template <typename Stream>
asio::awaitable<void> to_decoy(RelayContext& ctx, Connection& c, Stream& client, ByteView prefix) {
    ctx.metrics.relay_decoy.fetch_add(1, std::memory_order_relaxed);
    if (ctx.config.relay.decoy.empty()) {
        co_await ctx.site.serve(c, client, prefix);
    } else {
        co_await to_upstream_decoy(ctx, c, client, prefix);
    }
}

}  // namespace

asio::awaitable<void> hand_to_decoy(RelayContext& ctx, Connection& c, TlsStream& client,
                                    ByteView prefix) {
    co_await to_decoy(ctx, c, client, prefix);
}

}  // namespace pp::relay::detail

#include "relay/relay_server.hpp"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstring>

#include "net/tls_impl.hpp"
#include "relay/relay_connection.hpp"
#include "relay/relay_context.hpp"
#include "relay/upstream_connect.hpp"

namespace pp::relay {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

// ALPN as nginx without HTTP/2 answers it (ngx_http_ssl_alpn_select): its own preference among
// http/1.1, http/1.0 and http/0.9; a client offering none of them gets a fatal
// no_application_protocol alert. A client that sends no ALPN never gets here.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
    static constexpr unsigned char kServerProtos[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1',
                                                      8, 'h', 't', 't', 'p', '/', '1', '.', '0',
                                                      8, 'h', 't', 't', 'p', '/', '0', '.', '9'};
    unsigned char* chosen = nullptr;
    // OpenSSL's signature takes non-const pointers; it only reads them.
    if (SSL_select_next_proto(&chosen, outlen, const_cast<unsigned char*>(kServerProtos),
                              sizeof kServerProtos, in, inlen) != OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

asio::awaitable<void> accept_loop(asio::io_context& io, std::shared_ptr<detail::RelayContext> ctx,
                                  std::shared_ptr<tcp::acceptor> acceptor) {
    for (;;) {
        auto [ec, socket] = co_await acceptor->async_accept(asio::make_strand(io), kTok);
        if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
        if (ec) {
            // Out of descriptors or memory: wait a moment instead of spinning on the error.
            asio::steady_timer pause(acceptor->get_executor(), std::chrono::milliseconds(50));
            co_await pause.async_wait(kTok);
            continue;
        }
        if (ctx->metrics.connections_open.load(std::memory_order_relaxed) >=
            static_cast<std::int64_t>(ctx->config.max_connections)) {
            ctx->metrics.connections_over_cap.fetch_add(1, std::memory_order_relaxed);
            continue;  // the socket closes as it goes out of scope
        }
        // Counted here, not in the spawned coroutine, so that a burst of accepts sees every
        // connection already taken and cannot overshoot the cap; the coroutine uncounts it.
        ctx->metrics.connections_total.fetch_add(1, std::memory_order_relaxed);
        ctx->metrics.connections_open.fetch_add(1, std::memory_order_relaxed);
        try {
            auto executor = socket.get_executor();
            asio::co_spawn(executor, detail::serve_relay_connection(ctx, std::move(socket)),
                           asio::detached);
        } catch (...) {
            // Out of memory for one more connection: drop it, keep accepting.
            ctx->metrics.connections_open.fetch_sub(1, std::memory_order_relaxed);
        }
    }
}

}  // namespace

RelayServer::RelayServer(asio::io_context& io, const Config& config, Metrics& metrics)
    : io_(io), config_(config), metrics_(metrics) {}

RelayServer::~RelayServer() {
    stop();
}

Result<void> RelayServer::start() {
    if (ctx_) return make_error(ErrorCode::kInternal, "relay already started");
    std::string host, port;
    if (const auto colon = config_.relay.listen.rfind(':'); colon != std::string::npos) {
        host = config_.relay.listen.substr(0, colon);
        port = config_.relay.listen.substr(colon + 1);
    }
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(host, ec);
    unsigned port_number = 0;
    try {
        port_number = static_cast<unsigned>(std::stoul(port));
    } catch (...) {
        ec = asio::error::invalid_argument;
    }
    if (ec || port_number > 65535) {
        return make_error(ErrorCode::kMalformed, "relay listen must be address:port");
    }
    PP_TRY(identity, load_or_create_relay_identity(config_));
    SSL_CTX* ssl_ctx = identity.tls.impl().ctx.native_handle();
    SSL_CTX_set_alpn_select_cb(ssl_ctx, select_alpn, nullptr);
    // A website that refuses TLS 1.2 stands out to a prober; our own clients still speak 1.3
    // only (their context insists), so the relay link gains nothing weaker.
    SSL_CTX_set_min_proto_version(ssl_ctx, TLS1_2_VERSION);
    try {
        auto acceptor = std::make_shared<tcp::acceptor>(asio::make_strand(io_));
        const tcp::endpoint endpoint(address, static_cast<std::uint16_t>(port_number));
        acceptor->open(endpoint.protocol());
        acceptor->set_option(tcp::acceptor::reuse_address(true));
        acceptor->bind(endpoint);
        acceptor->listen(asio::socket_base::max_listen_connections);
        port_ = acceptor->local_endpoint().port();
        acceptor_ = std::move(acceptor);
    } catch (const boost::system::system_error&) {
        return make_error(ErrorCode::kInternal, "cannot listen on the relay address");
    }
    ctx_ = std::make_shared<detail::RelayContext>(config_, metrics_, std::move(identity));
    asio::co_spawn(acceptor_->get_executor(), accept_loop(io_, ctx_, acceptor_), asio::detached);
    return {};
}

const std::string& RelayServer::certificate_pin() const {
    static const std::string kNone;
    return ctx_ ? ctx_->identity.tls.fingerprint_sha256() : kNone;
}

ByteView RelayServer::link_secret() const {
    return ctx_ ? ctx_->identity.secret.view() : ByteView{};
}

void RelayServer::stop() {
    if (!acceptor_ || stopped_) return;
    stopped_ = true;
    // The acceptor belongs to its strand: close it there, not from the caller's thread.
    asio::dispatch(acceptor_->get_executor(), [acceptor = acceptor_] {
        boost::system::error_code ignored;
        acceptor->close(ignored);
    });
}

}  // namespace pp::relay

#pragma once
// net/ internal: what the blocking clients (WsClient, https_get) share: a TLS 1.3 client
// context, leaf-certificate pinning, and running an io_context until a result or a deadline.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/verify_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "base/result.hpp"

namespace pp::net::detail {

struct PinCheck {
    std::string expected;  // lowercase hex SHA-256 of the server's DER certificate
    bool mismatch = false;
};

// TLS 1.3 only, peer verification on. Built complete before any stream uses it: OpenSSL copies
// these settings into each SSL object when the stream is constructed.
boost::asio::ssl::context pinned_client_context();
// Every certificate is rejected unless its SHA-256 equals the pin (install with
// set_verify_callback on the stream).
bool verify_pinned(PinCheck& pin, bool preverified, boost::asio::ssl::verify_context& vc);

// Sets SNI when `host` is a name (servers behind a CDN route on it); IP literals get none.
void set_sni(void* ssl_native_handle, const std::string& host);

Error to_error(const boost::system::error_code& ec, const PinCheck* pin);

// Resolve, TCP connect (within `timeout`) and TLS client handshake on `tls`; the pin is checked
// by the verify callback already installed on it. Shared by WsClient and https_get.
inline boost::asio::awaitable<boost::system::error_code> connect_tls(
    boost::asio::io_context& ioc, boost::beast::ssl_stream<boost::beast::tcp_stream>& tls,
    std::string host, std::string port, std::chrono::milliseconds timeout) {
    constexpr auto tok = boost::asio::as_tuple(boost::asio::use_awaitable);
    boost::asio::ip::tcp::resolver resolver(ioc);
    auto [rec, results] = co_await resolver.async_resolve(host, port, tok);
    if (rec) co_return rec;
    auto& tcp = boost::beast::get_lowest_layer(tls);
    tcp.expires_after(timeout);
    auto [cec, ep] = co_await tcp.async_connect(results, tok);
    if (cec) co_return cec;
    auto [tec] = co_await tls.async_handshake(boost::asio::ssl::stream_base::client, tok);
    co_return tec;
}

// Runs `ioc` on this thread until `done()` or the deadline. False on timeout or if nothing is
// left that could make `done()` true.
template <typename Pred>
bool run_until(boost::asio::io_context& ioc, Pred done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) return false;
        if (ioc.stopped()) ioc.restart();
        if (ioc.run_one_for(deadline - now) == 0 && ioc.stopped()) return done();
    }
    return true;
}

}  // namespace pp::net::detail

#pragma once
// net/ internal: the byte stream a route delivers to the home server, over which the client runs
// its end-to-end TLS: a TCP socket (direct, or through a proxy that has set up the tunnel) or a
// Paperplane relay tunnel. An Asio AsyncStream, so that
// websocket::stream<beast::ssl_stream<RouteStream>> works, with the websocket teardown
// customisation points below. One read and one write may be outstanding at a time.
#include <boost/asio/async_result.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include <utility>
#include <variant>

#include "net/relay_client.hpp"

namespace pp::net::detail {

class RouteStream {
  public:
    using executor_type = boost::asio::ip::tcp::socket::executor_type;
    using lowest_layer_type = boost::asio::ip::tcp::socket::lowest_layer_type;
    static_assert(std::is_same_v<RelayTunnel::lowest_layer_type, lowest_layer_type>);

    explicit RouteStream(boost::asio::ip::tcp::socket socket) : s_(std::move(socket)) {}
    explicit RouteStream(RelayTunnel tunnel) : s_(std::move(tunnel)) {}

    executor_type get_executor() noexcept {
        return std::visit([](auto& s) -> executor_type { return s.get_executor(); }, s_);
    }
    lowest_layer_type& lowest_layer() noexcept {
        return std::visit([](auto& s) -> lowest_layer_type& { return s.lowest_layer(); }, s_);
    }
    // Closes the TCP connection underneath: pending operations complete with an error.
    void close() noexcept {
        boost::system::error_code ignored;
        lowest_layer().close(ignored);
    }
    // Beast's websocket timeouts close "the socket" through this customisation point.
    friend void beast_close_socket(RouteStream& s) { s.close(); }
    // The TCP connection underneath (for a relay, the one carrying the outer TLS).
    boost::asio::ip::tcp::socket& socket() noexcept {
        if (auto* tcp = std::get_if<boost::asio::ip::tcp::socket>(&s_)) return *tcp;
        return std::get<RelayTunnel>(s_).outer().next_layer();
    }

    template <typename MutableBuffers, typename Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this](auto handler, const MutableBuffers& b) {
                std::visit([&](auto& s) { s.async_read_some(b, std::move(handler)); }, s_);
            },
            token, buffers);
    }
    template <typename ConstBuffers, typename Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this](auto handler, const ConstBuffers& b) {
                std::visit([&](auto& s) { s.async_write_some(b, std::move(handler)); }, s_);
            },
            token, buffers);
    }

  private:
    std::variant<boost::asio::ip::tcp::socket, RelayTunnel> s_;
};

// Websocket teardown after the inner TLS has said close_notify: Beast's TCP teardown (shutdown
// of the sending side, read to EOF, close) of the TCP connection underneath. For a relay tunnel
// that skips the outer close_notify: the relay treats a closed TCP connection as the end.
inline void teardown(boost::beast::role_type role, RouteStream& stream,
                     boost::system::error_code& ec) {
    using boost::beast::websocket::teardown;
    teardown(role, stream.socket(), ec);
}

template <typename Handler>
void async_teardown(boost::beast::role_type role, RouteStream& stream, Handler&& handler) {
    using boost::beast::websocket::async_teardown;
    async_teardown(role, stream.socket(), std::forward<Handler>(handler));
}

}  // namespace pp::net::detail

#include "net/proxy_handshake.hpp"

#include <sodium.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>

#include "net/client_common.hpp"
#include "net/proxy_codec.hpp"

namespace pp::net::detail {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

Error io_error(const error_code& ec) {
    if (ec == asio::error::eof || ec == asio::error::connection_reset) {
        return make_error(ErrorCode::kNoSession, "proxy closed the connection");
    }
    return to_error(ec, nullptr);
}

// Wipes a request that carried a password once it has been sent (or not).
struct Wipe {
    explicit Wipe(Bytes& b) : bytes(b) {}
    ~Wipe() { sodium_memzero(bytes.data(), bytes.size()); }
    Bytes& bytes;
};

}  // namespace

asio::awaitable<Result<void>> socks5_handshake(tcp::socket& socket, const Route& proxy,
                                               const ServerTarget& server) {
    const bool password = !proxy.username.empty();
    const Bytes greeting = proxy::socks5_greeting(password);
    if (auto [ec, n] = co_await asio::async_write(socket, asio::buffer(greeting), kTok); ec) {
        co_return io_error(ec);
    }
    std::array<std::uint8_t, 2> choice{};
    if (auto [ec, n] = co_await asio::async_read(socket, asio::buffer(choice), kTok); ec) {
        co_return io_error(ec);
    }
    auto method = proxy::socks5_parse_method(choice, password);
    if (!method) co_return method.error();
    if (*method == proxy::Socks5Method::kPassword) {
        auto request = proxy::socks5_password_request(proxy.username, proxy.password);
        if (!request) co_return request.error();
        Wipe wipe(*request);
        if (auto [ec, n] = co_await asio::async_write(socket, asio::buffer(*request), kTok); ec) {
            co_return io_error(ec);
        }
        std::array<std::uint8_t, 2> status{};
        if (auto [ec, n] = co_await asio::async_read(socket, asio::buffer(status), kTok); ec) {
            co_return io_error(ec);
        }
        if (auto ok = proxy::socks5_parse_auth_reply(status); !ok) co_return ok.error();
    }
    auto connect = proxy::socks5_connect_request(server.host, server.port);
    if (!connect) co_return connect.error();
    if (auto [ec, n] = co_await asio::async_write(socket, asio::buffer(*connect), kTok); ec) {
        co_return io_error(ec);
    }
    // Exactly the reply's bytes: whatever follows belongs to the server's TLS.
    std::array<std::uint8_t, 4 + 1 + 255 + 2> reply{};
    std::size_t have = 0;
    for (;;) {
        auto progress = proxy::socks5_parse_connect_reply(ByteView(reply.data(), have));
        if (!progress) co_return progress.error();
        if (progress->complete) co_return Result<void>{};
        auto [ec, n] = co_await asio::async_read(
            socket, asio::buffer(reply.data() + have, progress->size - have), kTok);
        if (ec) co_return io_error(ec);
        have += n;
    }
}

asio::awaitable<Result<void>> http_connect_handshake(tcp::socket& socket, const Route& proxy,
                                                     const ServerTarget& server) {
    auto request =
        proxy::http_connect_request(server.host, server.port, proxy.username, proxy.password);
    if (!request) co_return request.error();
    Bytes bytes(request->begin(), request->end());
    sodium_memzero(request->data(), request->size());
    {
        Wipe wipe(bytes);
        if (auto [ec, n] = co_await asio::async_write(socket, asio::buffer(bytes), kTok); ec) {
            co_return io_error(ec);
        }
    }
    // The server speaks only after our TLS ClientHello, so anything past the head comes from
    // the proxy, and the parser refuses it.
    Bytes head(proxy::kHttpHeadMax);
    std::size_t have = 0;
    for (;;) {
        auto [ec, n] = co_await socket.async_read_some(
            asio::buffer(head.data() + have, head.size() - have), kTok);
        if (ec) co_return io_error(ec);
        have += n;
        auto progress = proxy::http_parse_connect_response(ByteView(head.data(), have));
        if (!progress) co_return progress.error();
        if (progress->complete) co_return Result<void>{};
    }
}

}  // namespace pp::net::detail

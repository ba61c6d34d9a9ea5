// TlsStream on loopback with real TLS 1.3 handshakes against Asio's own ssl::stream as the
// peer: partial reads, gathered writes, WANT_WRITE under a slow reader, a peer that goes away
// mid-write, close_notify both ways, garbage instead of a ClientHello, concurrent read + write,
// and a KeyUpdate that makes a read write.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <memory>
#include <optional>
#include <vector>

#include "net/tls_impl.hpp"
#include "net/tls_stream.hpp"
#include "tests/net/test_server.hpp"

namespace pp::net {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
using detail::TlsStream;
using Client = asio::ssl::stream<tcp::socket>;
constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

std::vector<std::uint8_t> pattern(std::size_t n) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i)
        v[i] = static_cast<std::uint8_t>((i * 131 + i / 251) & 0xff);
    return v;
}

// A connected pair: `server` is a TlsStream over the accepted socket, `client` an Asio
// ssl::stream over the connecting one. No handshake yet.
struct Pair {
    asio::io_context ioc{1};
    asio::ssl::context client_ctx{asio::ssl::context::tls_client};
    std::unique_ptr<TlsStream> server;
    std::unique_ptr<Client> client;

    Pair() {
        client_ctx.set_verify_mode(asio::ssl::verify_none);
        tcp::acceptor acc(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        tcp::socket c(ioc);
        c.connect(acc.local_endpoint());
        tcp::socket s = acc.accept();
        server = std::make_unique<TlsStream>(std::move(s), test::shared_identity().impl().ctx);
        client = std::make_unique<Client>(std::move(c), client_ctx);
    }

    // Runs the coroutines to completion, failing the test after `limit`.
    void run(std::chrono::milliseconds limit = std::chrono::seconds(20)) {
        ioc.run_for(limit);
        EXPECT_TRUE(ioc.stopped()) << "timed out";
    }
    template <typename F>
    void spawn(F&& f) {
        asio::co_spawn(ioc, std::forward<F>(f), [](const std::exception_ptr& e) {
            if (e) std::rethrow_exception(e);
        });
    }
    void handshake() {
        spawn([this]() -> asio::awaitable<void> {
            auto [ec] = co_await server->async_handshake(asio::ssl::stream_base::server, kTok);
            EXPECT_FALSE(ec) << ec.message();
        });
        spawn([this]() -> asio::awaitable<void> {
            auto [ec] = co_await client->async_handshake(asio::ssl::stream_base::client, kTok);
            EXPECT_FALSE(ec) << ec.message();
        });
        run();
        ioc.restart();
    }
};

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(kTok);
}

TEST(TlsStream, HandshakeThenSmallBuffersReadRecordsPiecewise) {
    Pair p;
    p.handshake();
    const auto data = pattern(50'000);
    std::vector<std::uint8_t> got;
    p.spawn([&]() -> asio::awaitable<void> {
        auto [ec, n] = co_await asio::async_write(*p.client, asio::buffer(data), kTok);
        EXPECT_FALSE(ec) << ec.message();
    });
    p.spawn([&]() -> asio::awaitable<void> {
        std::array<std::uint8_t, 100> buf{};
        std::size_t reads = 0;
        while (got.size() < data.size()) {
            auto [ec, n] = co_await p.server->async_read_some(asio::buffer(buf), kTok);
            if (ec) {
                ADD_FAILURE() << ec.message();
                co_return;
            }
            EXPECT_LE(n, buf.size());
            got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
            ++reads;
        }
        EXPECT_GE(reads, data.size() / buf.size());
    });
    p.run();
    EXPECT_EQ(got, data);
}

TEST(TlsStream, SeveralBuffersGoOutAsOneRecord) {
    Pair p;
    p.handshake();
    const std::array<std::uint8_t, 4> header{0x82, 0x7e, 0x03, 0xe8};
    const auto payload = pattern(1000);
    p.spawn([&]() -> asio::awaitable<void> {
        std::array<asio::const_buffer, 3> bufs{asio::buffer(header), asio::const_buffer(),
                                               asio::buffer(payload)};
        auto [ec, n] = co_await p.server->async_write_some(bufs, kTok);
        EXPECT_FALSE(ec) << ec.message();
        EXPECT_EQ(n, header.size() + payload.size());  // gathered: all of it in one write_some
    });
    std::vector<std::uint8_t> got(header.size() + payload.size());
    p.spawn([&]() -> asio::awaitable<void> {
        // One record arrives whole in a single read_some of the peer.
        auto [ec, n] = co_await p.client->async_read_some(asio::buffer(got), kTok);
        EXPECT_FALSE(ec) << ec.message();
        EXPECT_EQ(n, got.size());
    });
    p.run();
    EXPECT_TRUE(std::equal(header.begin(), header.end(), got.begin()));
    EXPECT_TRUE(std::equal(payload.begin(), payload.end(), got.begin() + 4));
}

TEST(TlsStream, LargeWriteToSlowReaderWaitsForWritability) {
    Pair p;
    // A small send buffer, so the write hits EAGAIN (WANT_WRITE) many times. (Tiny buffers on
    // both ends would make loopback TCP crawl through zero-window probes.)
    p.server->socket().set_option(asio::socket_base::send_buffer_size(32768));
    p.handshake();
    const auto data = pattern(4 * 1024 * 1024 + 7);
    const std::array<std::uint8_t, 3> head{1, 2, 3};
    std::vector<std::uint8_t> got;
    p.spawn([&]() -> asio::awaitable<void> {
        std::array<asio::const_buffer, 2> bufs{asio::buffer(head), asio::buffer(data)};
        auto [ec, n] = co_await asio::async_write(*p.server, bufs, kTok);
        EXPECT_FALSE(ec) << ec.message();
        EXPECT_EQ(n, head.size() + data.size());
    });
    p.spawn([&]() -> asio::awaitable<void> {
        co_await sleep_for(std::chrono::milliseconds(200));  // the writer fills every buffer
        std::vector<std::uint8_t> buf(3000);
        while (got.size() < head.size() + data.size()) {
            auto [ec, n] = co_await p.client->async_read_some(asio::buffer(buf), kTok);
            if (ec) {
                ADD_FAILURE() << ec.message();
                co_return;
            }
            got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
        }
    });
    p.run();
    ASSERT_EQ(got.size(), head.size() + data.size());
    EXPECT_TRUE(std::equal(head.begin(), head.end(), got.begin()));
    EXPECT_TRUE(std::equal(data.begin(), data.end(), got.begin() + 3));
}

TEST(TlsStream, PeerClosingMidWriteFailsTheWrite) {
    Pair p;
    p.server->socket().set_option(asio::socket_base::send_buffer_size(8192));
    p.handshake();
    const auto data = pattern(16 * 1024 * 1024);
    std::optional<error_code> write_ec;
    p.spawn([&]() -> asio::awaitable<void> {
        auto [ec, n] = co_await asio::async_write(*p.server, asio::buffer(data), kTok);
        write_ec = ec;
        EXPECT_LT(n, data.size());
    });
    p.spawn([&]() -> asio::awaitable<void> {
        std::vector<std::uint8_t> buf(4096);
        co_await p.client->async_read_some(asio::buffer(buf), kTok);
        // Unread data in the receive buffer: closing sends RST. No SIGPIPE may reach us.
        p.client->next_layer().close();
    });
    p.run();
    ASSERT_TRUE(write_ec.has_value());
    EXPECT_TRUE(*write_ec) << "the write must fail, not hang or succeed";
}

TEST(TlsStream, CloseNotifyFromClientIsEof) {
    Pair p;
    p.handshake();
    std::optional<error_code> read_ec;
    p.spawn([&]() -> asio::awaitable<void> {
        std::array<char, 64> buf{};
        auto [ec, n] = co_await p.server->async_read_some(asio::buffer(buf), kTok);
        read_ec = ec;
        EXPECT_EQ(n, 0u);
    });
    p.spawn([&]() -> asio::awaitable<void> {
        // Asio's shutdown waits for our close_notify in return; give up once ours is out.
        asio::steady_timer t(p.ioc, std::chrono::seconds(2));
        t.async_wait([&](error_code) { p.client->next_layer().close(); });
        co_await p.client->async_shutdown(kTok);
        t.cancel();
    });
    p.spawn([&]() -> asio::awaitable<void> {
        // Once the server has seen EOF, answer with our close_notify, as a server would.
        while (!read_ec) co_await sleep_for(std::chrono::milliseconds(5));
        auto [ec] = co_await p.server->async_shutdown(kTok);
        EXPECT_FALSE(ec) << ec.message();
    });
    p.run();
    ASSERT_TRUE(read_ec.has_value());
    EXPECT_EQ(*read_ec, asio::error::eof) << read_ec->message();
}

TEST(TlsStream, ShutdownSendsCloseNotify) {
    Pair p;
    p.handshake();
    std::optional<error_code> client_ec;
    p.spawn([&]() -> asio::awaitable<void> {
        auto [ec] = co_await p.server->async_shutdown(kTok);
        EXPECT_FALSE(ec) << ec.message();
    });
    p.spawn([&]() -> asio::awaitable<void> {
        std::array<char, 64> buf{};
        auto [ec, n] = co_await p.client->async_read_some(asio::buffer(buf), kTok);
        client_ec = ec;
    });
    p.run();
    ASSERT_TRUE(client_ec.has_value());
    EXPECT_EQ(*client_ec, asio::error::eof) << client_ec->message();  // a clean TLS close
}

TEST(TlsStream, TcpCloseWithoutCloseNotifyIsTruncation) {
    Pair p;
    p.handshake();
    std::optional<error_code> read_ec;
    p.spawn([&]() -> asio::awaitable<void> {
        std::array<char, 64> buf{};
        auto [ec, n] = co_await p.server->async_read_some(asio::buffer(buf), kTok);
        read_ec = ec;
    });
    p.client->next_layer().shutdown(tcp::socket::shutdown_send);
    p.run();
    ASSERT_TRUE(read_ec.has_value());
    EXPECT_EQ(*read_ec, asio::ssl::error::stream_truncated) << read_ec->message();
}

TEST(TlsStream, GarbageInsteadOfClientHelloFailsTheHandshake) {
    Pair p;
    std::optional<error_code> hs_ec;
    p.spawn([&]() -> asio::awaitable<void> {
        auto [ec] = co_await p.server->async_handshake(asio::ssl::stream_base::server, kTok);
        hs_ec = ec;
    });
    const std::string junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    asio::write(p.client->next_layer(), asio::buffer(junk));
    p.run();
    ASSERT_TRUE(hs_ec.has_value());
    EXPECT_TRUE(*hs_ec);
    EXPECT_NE(*hs_ec, asio::error::eof);
}

TEST(TlsStream, ClosingTheStreamEndsAPendingHandshake) {
    // What the session's handshake deadline does to a client that sends nothing.
    Pair p;
    std::optional<error_code> hs_ec;
    p.spawn([&]() -> asio::awaitable<void> {
        auto [ec] = co_await p.server->async_handshake(asio::ssl::stream_base::server, kTok);
        hs_ec = ec;
    });
    asio::steady_timer t(p.ioc, std::chrono::milliseconds(50));
    t.async_wait([&](error_code) { p.server->close(); });
    p.run();
    ASSERT_TRUE(hs_ec.has_value());
    EXPECT_EQ(*hs_ec, asio::error::operation_aborted) << hs_ec->message();
    // Every later operation fails at once instead of touching a closed descriptor.
    std::optional<error_code> rd_ec;
    p.ioc.restart();
    p.spawn([&]() -> asio::awaitable<void> {
        std::array<char, 8> buf{};
        auto [ec, n] = co_await p.server->async_read_some(asio::buffer(buf), kTok);
        rd_ec = ec;
    });
    p.run();
    ASSERT_TRUE(rd_ec.has_value());
    EXPECT_TRUE(*rd_ec);
}

TEST(TlsStream, ConcurrentReadAndWrite) {
    Pair p;
    p.server->socket().set_option(asio::socket_base::send_buffer_size(32768));
    p.client->next_layer().set_option(asio::socket_base::send_buffer_size(32768));
    p.handshake();
    const auto down = pattern(2 * 1024 * 1024);
    const auto up = pattern(1024 * 1024 + 3);
    std::vector<std::uint8_t> got_down(down.size()), got_up(up.size());
    // The server reads and writes at the same time, as the session's reader and writer do.
    p.spawn([&]() -> asio::awaitable<void> {
        auto [ec, n] = co_await asio::async_write(*p.server, asio::buffer(down), kTok);
        EXPECT_FALSE(ec) << ec.message();
    });
    p.spawn([&]() -> asio::awaitable<void> {
        auto [ec, n] = co_await asio::async_read(*p.server, asio::buffer(got_up), kTok);
        EXPECT_FALSE(ec) << ec.message();
    });
    p.spawn([&]() -> asio::awaitable<void> {
        auto [ec, n] = co_await asio::async_write(*p.client, asio::buffer(up), kTok);
        EXPECT_FALSE(ec) << ec.message();
    });
    p.spawn([&]() -> asio::awaitable<void> {
        co_await sleep_for(std::chrono::milliseconds(100));
        auto [ec, n] = co_await asio::async_read(*p.client, asio::buffer(got_down), kTok);
        EXPECT_FALSE(ec) << ec.message();
    });
    p.run();
    EXPECT_EQ(got_down, down);
    EXPECT_EQ(got_up, up);
}

TEST(TlsStream, KeyUpdateFromPeerIsAnsweredDuringARead) {
    Pair p;
    p.handshake();
    const auto a = pattern(1000);
    const auto b = pattern(3000);
    std::vector<std::uint8_t> got_a(a.size()), got_b(b.size());
    p.spawn([&]() -> asio::awaitable<void> {
        // The peer asks us to update our keys too: our SSL_read has to write a KeyUpdate.
        EXPECT_EQ(SSL_key_update(p.client->native_handle(), SSL_KEY_UPDATE_REQUESTED), 1);
        auto [ec, n] = co_await asio::async_write(*p.client, asio::buffer(a), kTok);
        EXPECT_FALSE(ec) << ec.message();
        auto [ec2, n2] = co_await asio::async_read(*p.client, asio::buffer(got_b), kTok);
        EXPECT_FALSE(ec2) << ec2.message();
    });
    p.spawn([&]() -> asio::awaitable<void> {
        auto [ec, n] = co_await asio::async_read(*p.server, asio::buffer(got_a), kTok);
        EXPECT_FALSE(ec) << ec.message();
        auto [ec2, n2] = co_await asio::async_write(*p.server, asio::buffer(b), kTok);
        EXPECT_FALSE(ec2) << ec2.message();
    });
    p.run();
    EXPECT_EQ(got_a, a);
    EXPECT_EQ(got_b, b);
}

TEST(TlsStream, EmptyBuffersCompleteAtOnce) {
    Pair p;
    p.handshake();
    int done = 0;
    p.spawn([&]() -> asio::awaitable<void> {
        auto [ec, n] = co_await p.server->async_read_some(asio::mutable_buffer(), kTok);
        EXPECT_FALSE(ec);
        EXPECT_EQ(n, 0u);
        auto [ec2, n2] = co_await p.server->async_write_some(asio::const_buffer(), kTok);
        EXPECT_FALSE(ec2);
        EXPECT_EQ(n2, 0u);
        ++done;
    });
    p.run();
    EXPECT_EQ(done, 1);
}

}  // namespace
}  // namespace pp::net

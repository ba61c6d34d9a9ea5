// Every bound the edge promises: frame size, frame type, handshake and idle deadlines, the
// connection cap, the send queue of a client that stops reading.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

#include <optional>
#include <thread>

#include "net/ws_client.hpp"
#include "tests/net/test_server.hpp"

namespace pp::net {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// True once the peer has closed the socket (EOF or reset), waiting at most `timeout`.
bool peer_closed_within(int fd, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return false;
        pollfd p{fd, POLLIN | POLLRDHUP, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        char b[4096];
        ssize_t n = ::recv(fd, b, sizeof b, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return true;
    }
}

asio::ip::tcp::endpoint loopback(std::uint16_t port) {
    return {asio::ip::make_address("127.0.0.1"), port};
}

// A server that answers nothing, and one client it has seen open.
struct QuietServerAndClient {
    explicit QuietServerAndClient(const ServerOptions& o) : ts(o) {
        ts.handler.echo = false;
        auto c = WsClient::connect("127.0.0.1", ts.port(), ts.pin());
        if (c.ok()) client.emplace(std::move(*c));
        open = client.has_value() && ts.handler.wait_opened(1);
    }
    test::TestServer ts;
    std::optional<WsClient> client;
    bool open = false;
};

TEST(Limits, OversizeFrameClosesWith1009) {
    ServerOptions o;
    o.max_frame_bytes = 1024;
    test::TestServer ts(o);
    auto c = WsClient::connect("127.0.0.1", ts.port(), ts.pin());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c->send(Bytes(1024, 1)).ok());
    ASSERT_TRUE(c->receive(5s).ok());
    ASSERT_TRUE(c->send(Bytes(1025, 1)).ok());
    auto r = c->receive(5s);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(c->close_code(), 1009);
    EXPECT_TRUE(ts.handler.wait_closed(1));
}

TEST(Limits, TextFrameClosesWith1003) {
    test::TestServer ts;
    auto c = WsClient::connect("127.0.0.1", ts.port(), ts.pin());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c->send_text("hello").ok());
    auto r = c->receive(5s);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(c->close_code(), 1003);
    EXPECT_TRUE(ts.handler.wait_closed(1));
    EXPECT_EQ(ts.server->counters().frames_in, 0u);
}

TEST(Limits, SilentTcpClientIsClosedAtHandshakeTimeout) {
    ServerOptions o;
    o.handshake_timeout = 300ms;
    test::TestServer ts(o);
    asio::io_context ioc;
    asio::ip::tcp::socket s(ioc);
    s.connect(loopback(ts.port()));
    const auto t0 = Clock::now();
    EXPECT_TRUE(peer_closed_within(s.native_handle(), 3s));
    EXPECT_GE(Clock::now() - t0, 250ms);
    // The socket closes before the session records why; give it a moment.
    for (int i = 0; i < 100 && ts.server->counters().handshake_failures == 0; ++i) {
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_EQ(ts.server->counters().handshake_failures, 1u);
}

TEST(Limits, TricklingHeaderIsClosedAtHandshakeTimeout) {
    ServerOptions o;
    o.handshake_timeout = 500ms;
    test::TestServer ts(o);
    asio::io_context ioc;
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    asio::ssl::stream<asio::ip::tcp::socket> s(ioc, ctx);
    s.next_layer().connect(loopback(ts.port()));
    const auto t0 = Clock::now();
    s.handshake(asio::ssl::stream_base::client);
    const std::string header = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    asio::write(s, asio::buffer(header));
    bool closed = false;
    // One header byte every 50 ms: progress, but never a complete request.
    while (!closed && Clock::now() - t0 < 5s) {
        boost::system::error_code ec;
        asio::write(s, asio::buffer("a", 1), ec);
        closed = ec || peer_closed_within(s.next_layer().native_handle(), 50ms);
    }
    EXPECT_TRUE(closed);
    EXPECT_LT(Clock::now() - t0, 2s);
    EXPECT_GE(Clock::now() - t0, 400ms);
}

TEST(Limits, ConnectionCapClosesExtraSockets) {
    ServerOptions o;
    o.max_connections = 2;
    test::TestServer ts(o);
    auto a = WsClient::connect("127.0.0.1", ts.port(), ts.pin());
    auto b = WsClient::connect("127.0.0.1", ts.port(), ts.pin());
    ASSERT_TRUE(a.ok() && b.ok());
    asio::io_context ioc;
    asio::ip::tcp::socket extra(ioc);
    extra.connect(loopback(ts.port()));
    EXPECT_TRUE(peer_closed_within(extra.native_handle(), 1s));
    auto third = WsClient::connect("127.0.0.1", ts.port(), ts.pin());
    EXPECT_FALSE(third.ok());
    EXPECT_GE(ts.server->counters().rejected_over_limit, 2u);

    a->close();
    ASSERT_TRUE(ts.handler.wait_closed(1));
    for (int i = 0; i < 100 && ts.server->counters().connections_open > 1; ++i) {
        std::this_thread::sleep_for(10ms);
    }
    auto again = WsClient::connect("127.0.0.1", ts.port(), ts.pin());
    EXPECT_TRUE(again.ok());  // capacity comes back when a connection ends
}

TEST(Limits, IdleWebSocketIsClosed) {
    ServerOptions o;
    o.idle_timeout = 400ms;
    test::TestServer ts(o);
    const auto t0 = Clock::now();
    auto c = WsClient::connect("127.0.0.1", ts.port(), ts.pin());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(ts.handler.wait_opened(1));
    const auto opened = Clock::now();
    // This client never reads, so it never answers the keep-alive ping: it counts as dead. Not
    // before the idle timeout (counted from the upgrade, at the latest `opened`), and not much
    // after it: the sweep runs every eighth of it (50 ms here).
    EXPECT_TRUE(ts.handler.wait_closed(1, 3s));
    const auto closed = Clock::now();
    EXPECT_GE(closed - t0, 400ms);
    EXPECT_LT(closed - opened, 1500ms);
}

TEST(Limits, ClientThatOnlySendsStaysOpen) {
    // Frames from the peer are signs of life as much as pongs are: a client that never reads
    // but keeps sending more often than half the idle timeout is never even pinged, and stays.
    ServerOptions o;
    o.idle_timeout = 400ms;
    QuietServerAndClient t(o);
    ASSERT_TRUE(t.open);
    for (int i = 0; i < 12; ++i) {
        ASSERT_TRUE(t.client->send(Bytes{1, 2, 3}).ok());
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(t.ts.handler.closed(), 0u);
    // Once it stops, it is dropped like any silent peer.
    EXPECT_TRUE(t.ts.handler.wait_closed(1, 3s));
}

TEST(Limits, CloseStuckBehindAReaderThatReadsNothingIsCutOff) {
    // The client reads nothing, so the server's writer is stuck behind full socket buffers. A
    // text frame makes the server ask to close (1003), but the close frame can only go out
    // after the frames ahead of it, which never leave. The client then falls silent. The idle
    // timeout (a minute here) must not be what ends it: the close gets the handshake timeout
    // from when it was asked for.
    ServerOptions o;
    o.idle_timeout = 60s;
    o.handshake_timeout = 400ms;
    o.max_send_queue_bytes = 64 << 20;
    QuietServerAndClient t(o);
    ASSERT_TRUE(t.open);
    auto conn = t.ts.handler.any_open();
    // 32 MiB: more than loopback's socket buffers take, less than the queue bound.
    for (int i = 0; i < 2048; ++i) conn->send(Bytes(16 * 1024, 7));
    std::this_thread::sleep_for(200ms);  // the writer has filled the buffers by now
    // The premise: the writer is stuck (were every frame written, the close frame would go
    // out at once, and the test would not be about a close stuck behind the writer).
    ASSERT_LT(t.ts.server->counters().frames_out, 2048u);
    const auto asked = Clock::now();  // before sending: the close is asked for after this
    ASSERT_TRUE(t.client->send_text("not protobuf").ok());
    EXPECT_TRUE(t.ts.handler.wait_closed(1, 5s));
    EXPECT_GE(Clock::now() - asked, 400ms);
}

TEST(Limits, ClientThatAnswersPingsStaysOpen) {
    ServerOptions o;
    o.idle_timeout = 300ms;
    test::TestServer ts(o);
    ts.handler.echo = false;
    auto c = WsClient::connect("127.0.0.1", ts.port(), ts.pin());
    ASSERT_TRUE(c.ok());
    // A pending read answers pings; receive times out without data but the link stays up.
    auto r = c->receive(1200ms);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kLimitExceeded);
    EXPECT_EQ(ts.handler.closed(), 0u);
}

TEST(Limits, ClientThatStopsReadingIsDisconnected) {
    ServerOptions o;
    o.max_send_queue_bytes = 256 * 1024;
    test::TestServer ts(o);
    ts.handler.echo = false;
    auto c = WsClient::connect("127.0.0.1", ts.port(), ts.pin());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(ts.handler.wait_opened(1));
    auto conn = ts.handler.any_open();
    // 64 MiB toward a client that reads nothing: socket buffers fill, then the queue bound trips.
    for (int i = 0; i < 4096 && ts.handler.closed() == 0; ++i) conn->send(Bytes(16 * 1024, 7));
    EXPECT_TRUE(ts.handler.wait_closed(1, 10s));
}

}  // namespace
}  // namespace pp::net

// WebSocket traffic through the server: echo, several clients, sends from other threads,
// shutdown with connections open, and the TCP options of accepted sockets.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <filesystem>
#include <thread>

#include "net/ws_client.hpp"
#include "tests/net/test_server.hpp"

namespace pp::net {
namespace {

using namespace std::chrono_literals;

Bytes msg(std::string_view s) {
    return Bytes(s.begin(), s.end());
}

TEST(Server, EchoesBinaryFramesForSeveralClients) {
    test::TestServer ts;
    std::vector<WsClient> clients;
    for (int i = 0; i < 5; ++i) {
        auto c = WsClient::connect("127.0.0.1", ts.port(), ts.pin());
        ASSERT_TRUE(c.ok()) << c.error().detail;
        clients.push_back(std::move(c).value());
    }
    ASSERT_TRUE(ts.handler.wait_opened(5));
    for (int round = 0; round < 20; ++round) {
        for (std::size_t i = 0; i < clients.size(); ++i) {
            auto m = msg("client " + std::to_string(i) + " round " + std::to_string(round));
            ASSERT_TRUE(clients[i].send(m).ok());
        }
        for (std::size_t i = 0; i < clients.size(); ++i) {
            auto r = clients[i].receive(5s);
            ASSERT_TRUE(r.ok()) << r.error().detail;
            EXPECT_EQ(*r, msg("client " + std::to_string(i) + " round " + std::to_string(round)));
        }
    }
    // A frame of exactly the limit passes, and the empty frame is a frame too.
    Bytes big(ServerOptions{}.max_frame_bytes, 0x5a);
    ASSERT_TRUE(clients[0].send(big).ok());
    auto r = clients[0].receive(5s);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, big);
    ASSERT_TRUE(clients[1].send(Bytes{}).ok());
    auto e = clients[1].receive(5s);
    ASSERT_TRUE(e.ok());
    EXPECT_TRUE(e->empty());

    // A frame is counted when its write completes on the server, which may be just after the
    // client has read it: give the last completion a moment.
    auto c = ts.server->counters();
    for (int i = 0; i < 200 && (c.frames_out < 102u || c.bytes_out < c.bytes_in); ++i) {
        std::this_thread::sleep_for(10ms);
        c = ts.server->counters();
    }
    EXPECT_EQ(c.connections_open, 5u);
    EXPECT_EQ(c.connections_total, 5u);
    EXPECT_EQ(c.frames_in, 102u);
    EXPECT_EQ(c.frames_out, 102u);
    EXPECT_EQ(c.bytes_in, c.bytes_out);

    for (auto& cl : clients) cl.close();
    EXPECT_TRUE(ts.handler.wait_closed(5));
}

// A message in several WebSocket frames (an empty one among them, and frames of many TLS
// records) reaches the handler whole and in order; the echo shows what it got. Our clients
// never fragment, but any standard WebSocket client may.
TEST(Server, FragmentedMessagesArriveWhole) {
    namespace asio = boost::asio;
    namespace beast = boost::beast;
    test::TestServer ts;
    asio::io_context ioc;
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.set_verify_mode(asio::ssl::verify_none);  // pinning is tested elsewhere
    beast::websocket::stream<asio::ssl::stream<asio::ip::tcp::socket>> ws(ioc, ctx);
    beast::get_lowest_layer(ws).connect({asio::ip::make_address("127.0.0.1"), ts.port()});
    ws.next_layer().handshake(asio::ssl::stream_base::client);
    ws.handshake("127.0.0.1", "/v1/ws");
    ws.binary(true);
    Bytes whole(100'000);
    for (std::size_t i = 0; i < whole.size(); ++i) whole[i] = static_cast<std::uint8_t>(i % 251);
    auto echoed = [&] {
        beast::flat_buffer got;
        ws.read(got);
        const auto* p = static_cast<const std::uint8_t*>(got.data().data());
        return Bytes(p, p + got.size());
    };
    // One byte, nothing, 40,000 bytes, then the rest.
    ws.write_some(false, asio::buffer(whole.data(), 1));
    ws.write_some(false, asio::buffer(whole.data() + 1, 0));
    ws.write_some(false, asio::buffer(whole.data() + 1, 40'000));
    ws.write_some(true, asio::buffer(whole.data() + 40'001, whole.size() - 40'001));
    EXPECT_EQ(echoed(), whole);
    // A first frame with nothing in it, then all of it.
    ws.write_some(false, asio::buffer(whole.data(), 0));
    ws.write_some(true, asio::buffer(whole.data(), whole.size()));
    EXPECT_EQ(echoed(), whole);
    // And the plain case after them: one frame, many records.
    ws.write(asio::buffer(whole.data(), 70'000));
    EXPECT_EQ(echoed(), Bytes(whole.begin(), whole.begin() + 70'000));
    EXPECT_EQ(ts.server->counters().frames_in, 3u);
    ws.close(beast::websocket::close_code::normal);
}

TEST(Server, SendFromAnotherThreadArrivesInOrder) {
    test::TestServer ts;
    ts.handler.echo = false;
    auto c = WsClient::connect("127.0.0.1", ts.port(), ts.pin());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(ts.handler.wait_opened(1));
    auto conn = ts.handler.any_open();
    ASSERT_NE(conn, nullptr);
    EXPECT_NE(conn->peer().find("127.0.0.1:"), std::string::npos);
    std::thread producer([conn] {
        for (int i = 0; i < 200; ++i) conn->send(msg("push " + std::to_string(i)));
    });
    for (int i = 0; i < 200; ++i) {
        auto r = c->receive(5s);
        ASSERT_TRUE(r.ok()) << i << ": " << r.error().detail;
        EXPECT_EQ(*r, msg("push " + std::to_string(i)));
    }
    producer.join();
    // And the client can still talk back to a handler that does not echo.
    ASSERT_TRUE(c->send(msg("up")).ok());
    auto nothing = c->receive(200ms);
    ASSERT_FALSE(nothing.ok());
    EXPECT_EQ(nothing.error().code, ErrorCode::kLimitExceeded);  // timed out, still usable
    conn->send(msg("late"));
    auto late = c->receive(5s);
    ASSERT_TRUE(late.ok());
    EXPECT_EQ(*late, msg("late"));
}

TEST(Server, ServerSideCloseReachesClientAndHandler) {
    test::TestServer ts;
    auto c = WsClient::connect("127.0.0.1", ts.port(), ts.pin());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(ts.handler.wait_opened(1));
    auto conn = ts.handler.any_open();
    conn->send(msg("bye"));
    conn->close();  // queued frames go out first
    auto r = c->receive(5s);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, msg("bye"));
    auto end = c->receive(5s);
    ASSERT_FALSE(end.ok());
    EXPECT_EQ(end.error().code, ErrorCode::kNoSession);
    EXPECT_EQ(c->close_code(), 1000);
    EXPECT_TRUE(ts.handler.wait_closed(1));
}

TEST(Server, AZeroHandshakeTimeoutIsRefusedAtStart) {
    // It would close every connection as it is accepted.
    test::RecordingHandler handler;
    ServerOptions o;
    o.handshake_timeout = 0ms;
    Server server(o, test::shared_identity(), handler,
                  [](std::string_view) { return HttpReply{}; });
    auto started = server.start();
    ASSERT_FALSE(started.ok());
    EXPECT_EQ(started.error().code, ErrorCode::kMalformed);
}

TEST(Server, ShutdownWithOpenConnectionsIsPrompt) {
    test::TestServer ts;
    std::vector<WsClient> clients;
    for (int i = 0; i < 3; ++i) {
        auto c = WsClient::connect("127.0.0.1", ts.port(), ts.pin());
        ASSERT_TRUE(c.ok());
        clients.push_back(std::move(c).value());
    }
    ASSERT_TRUE(ts.handler.wait_opened(3));
    const auto t0 = std::chrono::steady_clock::now();
    ts.server->shutdown();
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_LT(took, 1500ms);
    EXPECT_EQ(ts.handler.closed(), 3u);  // on_close ran for every open connection
    EXPECT_EQ(ts.server->counters().connections_open, 0u);
    ts.server->shutdown();  // idempotent
    // Clients see the end of the connection.
    auto r = clients[0].receive(2s);
    EXPECT_FALSE(r.ok());
}

TEST(Server, StopAcceptingKeepsOpenConnections) {
    test::TestServer ts;
    auto c = WsClient::connect("127.0.0.1", ts.port(), ts.pin());
    ASSERT_TRUE(c.ok());
    ts.server->stop_accepting();
    auto refused = WsClient::connect("127.0.0.1", ts.port(), ts.pin());
    EXPECT_FALSE(refused.ok());
    ASSERT_TRUE(c->send(msg("still here")).ok());
    auto r = c->receive(5s);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, msg("still here"));
}

// The TCP_NODELAY setting of every accepted (not listening) TCP socket of this process whose
// local port is `port`: the server's side of each connection, found through /proc/self/fd.
std::vector<int> accepted_no_delay(std::uint16_t port) {
    std::vector<int> out;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
        int fd = -1;
        try {
            fd = std::stoi(entry.path().filename().string());
        } catch (const std::exception&) {
            continue;
        }
        sockaddr_storage local{};
        socklen_t len = sizeof local;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) continue;
        if (local.ss_family != AF_INET) continue;
        if (ntohs(reinterpret_cast<const sockaddr_in&>(local).sin_port) != port) continue;
        int listening = 0;
        socklen_t ilen = sizeof listening;
        if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ilen) != 0 || listening)
            continue;
        int no_delay = 0;
        ilen = sizeof no_delay;
        if (::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &no_delay, &ilen) == 0)
            out.push_back(no_delay);
    }
    return out;
}

TEST(Server, AcceptedConnectionsSendSmallFramesWithoutNagleDelay) {
    // Nagle's algorithm would hold a frame written while the previous one is unacknowledged
    // until the peer's delayed ACK: tens of milliseconds on a push.
    test::TestServer ts;
    auto a = WsClient::connect("127.0.0.1", ts.port(), ts.pin());
    ASSERT_TRUE(a.ok()) << a.error().detail;
    auto b = WsClient::connect("127.0.0.1", ts.port(), ts.pin());
    ASSERT_TRUE(b.ok()) << b.error().detail;
    ASSERT_TRUE(ts.handler.wait_opened(2));
    const auto settings = accepted_no_delay(ts.port());
    ASSERT_EQ(settings.size(), 2u);
    for (int v : settings) EXPECT_NE(v, 0);
}

}  // namespace
}  // namespace pp::net

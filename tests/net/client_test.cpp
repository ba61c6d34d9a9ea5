// Real TLS 1.3 handshakes on loopback: pinning, HTTP routing, protocol version.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "net/ws_client.hpp"
#include "tests/net/test_server.hpp"

namespace pp::net {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using namespace std::chrono_literals;

const std::string kWrongPin(64, 'a');

TEST(Client, PinnedWebSocketHandshakeSucceeds) {
    test::TestServer ts;
    auto c = WsClient::connect("127.0.0.1", ts.port(), ts.pin());
    ASSERT_TRUE(c.ok()) << to_string(c.error().code) << ": " << c.error().detail;
    EXPECT_TRUE(ts.handler.wait_opened(1));
}

TEST(Client, WrongPinIsRejected) {
    test::TestServer ts;
    auto c = WsClient::connect("127.0.0.1", ts.port(), kWrongPin);
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().code, ErrorCode::kUntrustedIdentity);
    auto g = https_get("127.0.0.1", ts.port(), kWrongPin, "/healthz");
    ASSERT_FALSE(g.ok());
    EXPECT_EQ(g.error().code, ErrorCode::kUntrustedIdentity);
    EXPECT_EQ(ts.handler.opened(), 0u);
}

TEST(Client, HealthzGoesThroughTheRoute) {
    test::TestServer ts;
    auto r = https_get("localhost", ts.port(), ts.pin(), "/healthz");
    ASSERT_TRUE(r.ok()) << r.error().detail;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "ok\n");
    EXPECT_EQ(r->content_type, "text/plain; charset=utf-8");

    auto missing = https_get("127.0.0.1", ts.port(), ts.pin(), "/nope");
    ASSERT_TRUE(missing.ok());
    EXPECT_EQ(missing->status, 404);

    auto thrown = https_get("127.0.0.1", ts.port(), ts.pin(), "/throw");
    ASSERT_TRUE(thrown.ok());
    EXPECT_EQ(thrown->status, 500);

    auto ws_plain = https_get("127.0.0.1", ts.port(), ts.pin(), "/v1/ws");
    ASSERT_TRUE(ws_plain.ok());
    EXPECT_EQ(ws_plain->status, 426);
}

// A raw client that records the negotiated protocol and can send any method.
struct RawTls {
    asio::io_context ioc;
    asio::ssl::context ctx{asio::ssl::context::tls_client};
    asio::ssl::stream<asio::ip::tcp::socket> s{ioc, ctx};

    boost::system::error_code connect(std::uint16_t port, int max_version = TLS1_3_VERSION) {
        SSL_set_max_proto_version(s.native_handle(), max_version);
        s.set_verify_mode(asio::ssl::verify_none);  // the pin is WsClient's job; not tested here
        boost::system::error_code ec;
        s.next_layer().connect({asio::ip::make_address("127.0.0.1"), port}, ec);
        if (!ec) s.handshake(asio::ssl::stream_base::client, ec);
        return ec;
    }
    int request(http::verb verb, const std::string& target) {
        http::request<http::string_body> req{verb, target, 11};
        req.set(http::field::host, "localhost");
        if (verb == http::verb::post) req.body() = "x=1";
        req.prepare_payload();
        http::write(s, req);
        boost::beast::flat_buffer buf;
        http::response<http::string_body> res;
        http::read(s, buf, res);
        return static_cast<int>(res.result_int());
    }
};

TEST(Client, NegotiatesTls13AndRefusesTls12) {
    test::TestServer ts;
    RawTls ok;
    ASSERT_FALSE(ok.connect(ts.port()));
    EXPECT_EQ(SSL_version(ok.s.native_handle()), TLS1_3_VERSION);
    EXPECT_EQ(SSL_get_current_compression(ok.s.native_handle()), nullptr);

    RawTls old;
    EXPECT_TRUE(old.connect(ts.port(), TLS1_2_VERSION));
}

TEST(Client, OnlyGetIsAllowedAndKeepAliveWorks) {
    test::TestServer ts;
    RawTls c;
    ASSERT_FALSE(c.connect(ts.port()));
    EXPECT_EQ(c.request(http::verb::post, "/healthz"), 405);
    EXPECT_EQ(c.request(http::verb::head, "/healthz"), 405);
    EXPECT_EQ(c.request(http::verb::get, "/healthz"), 200);  // same connection
}

}  // namespace
}  // namespace pp::net

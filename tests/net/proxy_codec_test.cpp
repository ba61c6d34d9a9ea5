// The client's side of SOCKS5 (RFC 1928/1929) and HTTP CONNECT, byte for byte, without sockets.
#include "net/proxy_codec.hpp"

#include <gtest/gtest.h>

#include <string>

#include "net/route.hpp"

namespace pp::net::proxy {
namespace {

Bytes b(std::initializer_list<int> v) {
    Bytes out;
    for (int x : v) out.push_back(static_cast<std::uint8_t>(x));
    return out;
}

ByteView view(std::string_view s) {
    return as_bytes(s);
}

TEST(NetProxyCodec, Socks5GreetingOffersPasswordOnlyWithCredentials) {
    EXPECT_EQ(socks5_greeting(false), b({5, 1, 0}));
    EXPECT_EQ(socks5_greeting(true), b({5, 2, 0, 2}));
}

TEST(NetProxyCodec, Socks5MethodChoice) {
    EXPECT_EQ(*socks5_parse_method(b({5, 0}), false), Socks5Method::kNoAuth);
    EXPECT_EQ(*socks5_parse_method(b({5, 0}), true), Socks5Method::kNoAuth);
    EXPECT_EQ(*socks5_parse_method(b({5, 2}), true), Socks5Method::kPassword);
    // A method we did not offer, or not SOCKS5 at all.
    EXPECT_EQ(socks5_parse_method(b({5, 2}), false).error().code, ErrorCode::kMalformed);
    EXPECT_EQ(socks5_parse_method(b({5, 1}), true).error().code, ErrorCode::kMalformed);
    EXPECT_EQ(socks5_parse_method(b({4, 0}), true).error().code, ErrorCode::kMalformed);
    EXPECT_EQ(socks5_parse_method(b({5}), true).error().code, ErrorCode::kMalformed);
    auto none = socks5_parse_method(b({5, 0xFF}), false);
    EXPECT_EQ(none.error().code, ErrorCode::kLimitExceeded);
    EXPECT_EQ(none.error().detail, "socks5: proxy requires a username and password");
    EXPECT_EQ(socks5_parse_method(b({5, 0xFF}), true).error().code, ErrorCode::kLimitExceeded);
}

TEST(NetProxyCodec, Socks5PasswordRequest) {
    EXPECT_EQ(*socks5_password_request("al", "pw!"), b({1, 2, 'a', 'l', 3, 'p', 'w', '!'}));
    EXPECT_FALSE(socks5_password_request("", "x"));
    EXPECT_FALSE(socks5_password_request("x", ""));
    EXPECT_FALSE(socks5_password_request(std::string(256, 'u'), "x"));
    EXPECT_TRUE(socks5_password_request(std::string(255, 'u'), std::string(255, 'p')));
}

TEST(NetProxyCodec, Socks5AuthReply) {
    EXPECT_TRUE(socks5_parse_auth_reply(b({1, 0})));
    auto refused = socks5_parse_auth_reply(b({1, 1}));
    EXPECT_EQ(refused.error().code, ErrorCode::kLimitExceeded);
    EXPECT_EQ(refused.error().detail, "socks5: proxy refused the credentials");
    EXPECT_EQ(socks5_parse_auth_reply(b({5, 0})).error().code, ErrorCode::kMalformed);
    EXPECT_EQ(socks5_parse_auth_reply(b({1})).error().code, ErrorCode::kMalformed);
}

TEST(NetProxyCodec, Socks5ConnectSendsNamesForTheProxyToResolve) {
    EXPECT_EQ(*socks5_connect_request("localhost", 443),
              b({5, 1, 0, 3, 9, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't', 1, 0xBB}));
    EXPECT_EQ(*socks5_connect_request("192.0.2.7", 8443),
              b({5, 1, 0, 1, 192, 0, 2, 7, 0x20, 0xFB}));
    const Bytes v6 =
        b({5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 80});
    EXPECT_EQ(*socks5_connect_request("2001:db8::1", 80), v6);
    EXPECT_EQ(*socks5_connect_request("[2001:db8::1]", 80), v6);
    // A name that only looks like an address is still a name.
    EXPECT_EQ((*socks5_connect_request("1.2.3.4.example", 1))[3], 3);
    EXPECT_FALSE(socks5_connect_request("", 1));
    EXPECT_FALSE(socks5_connect_request(std::string(256, 'a'), 1));
    EXPECT_FALSE(socks5_connect_request("bad\nname", 1));
    EXPECT_TRUE(socks5_connect_request(std::string(255, 'a'), 1));
}

TEST(NetProxyCodec, Socks5ConnectReplyOfEveryAddressType) {
    auto need = socks5_parse_connect_reply({});
    ASSERT_TRUE(need);
    EXPECT_FALSE(need->complete);
    EXPECT_EQ(need->size, kSocks5ReplyMin);

    const Bytes v4 = b({5, 0, 0, 1, 127, 0, 0, 1, 0x1F, 0x90});
    for (std::size_t n = 0; n < v4.size(); ++n) {
        auto p = socks5_parse_connect_reply(ByteView(v4.data(), n));
        ASSERT_TRUE(p) << n;
        EXPECT_FALSE(p->complete);
        EXPECT_GT(p->size, n);
        EXPECT_LE(p->size, v4.size());
    }
    auto done = socks5_parse_connect_reply(v4);
    ASSERT_TRUE(done);
    EXPECT_TRUE(done->complete);
    EXPECT_EQ(done->size, 10u);

    Bytes v6 = b({5, 0, 0, 4});
    v6.resize(4 + 16 + 2);
    EXPECT_EQ(socks5_parse_connect_reply(ByteView(v6.data(), 5))->size, 22u);
    EXPECT_TRUE(socks5_parse_connect_reply(v6)->complete);

    // Variable length: a bound name of 3 bytes; only the reply's own bytes are claimed.
    Bytes name = b({5, 0, 0, 3, 3, 'a', 'b', 'c', 0, 80, 0x16, 0x03});
    auto head = socks5_parse_connect_reply(ByteView(name.data(), 5));
    EXPECT_EQ(head->size, 4u + 1 + 3 + 2);
    auto whole = socks5_parse_connect_reply(name);
    EXPECT_TRUE(whole->complete);
    EXPECT_EQ(whole->size, 10u);

    EXPECT_EQ(socks5_parse_connect_reply(b({5, 0, 0, 9, 0})).error().code, ErrorCode::kMalformed);
    EXPECT_EQ(socks5_parse_connect_reply(b({4, 0})).error().code, ErrorCode::kMalformed);
}

TEST(NetProxyCodec, Socks5ReplyCodesAreClearErrors) {
    struct Case {
        int code;
        ErrorCode expect;
        std::string_view detail;
    };
    const Case cases[] = {
        {1, ErrorCode::kInternal, "socks5: general proxy failure"},
        {2, ErrorCode::kLimitExceeded, "socks5: connection not allowed"},
        {3, ErrorCode::kNoSession, "socks5: network unreachable"},
        {4, ErrorCode::kNoSession, "socks5: host unreachable"},
        {5, ErrorCode::kNoSession, "socks5: connection refused"},
        {6, ErrorCode::kNoSession, "socks5: TTL expired"},
        {7, ErrorCode::kInternal, "socks5: command not supported"},
        {8, ErrorCode::kInternal, "socks5: address type not supported"},
        {9, ErrorCode::kMalformed, "socks5: unknown reply code"},
    };
    for (const auto& c : cases) {
        // Known after two bytes: a proxy may close right after an error reply.
        auto r = socks5_parse_connect_reply(b({5, c.code}));
        ASSERT_FALSE(r) << c.code;
        EXPECT_EQ(r.error().code, c.expect) << c.code;
        EXPECT_EQ(r.error().detail, c.detail);
    }
}

TEST(NetProxyCodec, HttpConnectRequest) {
    EXPECT_EQ(*http_connect_request("chat.example.org", 443, "", ""),
              "CONNECT chat.example.org:443 HTTP/1.1\r\nHost: chat.example.org:443\r\n\r\n");
    EXPECT_EQ(*http_connect_request("2001:db8::1", 8443, "", ""),
              "CONNECT [2001:db8::1]:8443 HTTP/1.1\r\nHost: [2001:db8::1]:8443\r\n\r\n");
    // RFC 7617's own example.
    EXPECT_EQ(*http_connect_request("h", 1, "Aladdin", "open sesame"),
              "CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\n"
              "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n");
    EXPECT_NE(http_connect_request("h", 1, "ab", "c")->find("Basic YWI6Yw==\r\n"),
              std::string::npos);
    EXPECT_NE(http_connect_request("h", 1, "a", "bc")->find("Basic YTpiYw==\r\n"),
              std::string::npos);
    // No header injection through any field.
    EXPECT_FALSE(http_connect_request("h\r\nX: y", 1, "", ""));
    EXPECT_FALSE(http_connect_request("h x", 1, "", ""));
    EXPECT_FALSE(http_connect_request("", 1, "", ""));
    EXPECT_FALSE(http_connect_request("h", 1, "u\r\n", "p"));
    EXPECT_FALSE(http_connect_request("h", 1, "u", "p\n"));
    EXPECT_FALSE(http_connect_request("h", 1, "u:v", "p"));
}

TEST(NetProxyCodec, HttpResponseStatuses) {
    auto ok = http_parse_connect_response(view("HTTP/1.1 200 Connection established\r\n\r\n"));
    ASSERT_TRUE(ok);
    EXPECT_TRUE(ok->complete);
    EXPECT_EQ(ok->size, 39u);
    EXPECT_TRUE(
        http_parse_connect_response(view("HTTP/1.0 200\r\nProxy-agent: x\r\n\r\n"))->complete);
    EXPECT_TRUE(http_parse_connect_response(view("HTTP/1.1 204 No Content\r\n\r\n"))->complete);

    auto auth =
        http_parse_connect_response(view("HTTP/1.1 407 Proxy Authentication Required\r\n"
                                         "Proxy-Authenticate: Basic\r\n\r\n"));
    EXPECT_EQ(auth.error().code, ErrorCode::kLimitExceeded);
    EXPECT_EQ(auth.error().detail, "http proxy: authentication required or refused");
    EXPECT_EQ(http_parse_connect_response(view("HTTP/1.0 401 Unauthorized\r\n\r\n")).error().code,
              ErrorCode::kLimitExceeded);
    for (std::string_view refused :
         {"HTTP/1.1 403 Forbidden\r\n\r\n", "HTTP/1.1 502 Bad\r\n\r\n",
          "HTTP/1.0 500 Unable to connect\r\n\r\nbody", "HTTP/1.1 301 Moved\r\n\r\n",
          "HTTP/1.1 100 Continue\r\n\r\n"}) {
        auto r = http_parse_connect_response(view(refused));
        ASSERT_FALSE(r) << refused;
        EXPECT_EQ(r.error().code, ErrorCode::kNoSession) << refused;
    }
    for (std::string_view bad :
         {"HTTP/2 200 OK\r\n\r\n", "SSH-2.0-x\r\n\r\n", "HTTP/1.1 2000\r\n\r\n",
          "HTTP/1.1 20x OK\r\n\r\n", "HTTP/1.1 200OK\r\n\r\n", "\r\n\r\n"}) {
        auto r = http_parse_connect_response(view(bad));
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code, ErrorCode::kMalformed) << bad;
    }
}

TEST(NetProxyCodec, HttpResponseHeadIsBoundedAndEndsTheProxysTurn) {
    const std::string head = "HTTP/1.1 200 Connection established\r\n\r\n";
    for (std::size_t n = 0; n < head.size(); ++n) {
        auto p = http_parse_connect_response(view(std::string_view(head).substr(0, n)));
        ASSERT_TRUE(p) << n;
        EXPECT_FALSE(p->complete);
    }
    // Bytes after the head before our TLS has spoken: not the server, refused.
    auto extra = http_parse_connect_response(view(head + "\x16\x03\x03"));
    EXPECT_EQ(extra.error().code, ErrorCode::kMalformed);
    EXPECT_EQ(extra.error().detail, "http proxy: bytes after the response head");

    std::string big = "HTTP/1.1 200 OK\r\nX: " + std::string(kHttpHeadMax, 'a');
    auto too_big = http_parse_connect_response(view(big));
    EXPECT_EQ(too_big.error().code, ErrorCode::kLimitExceeded);
    // Just inside the bound is fine; one byte over is not.
    std::string fits = "HTTP/1.1 200 OK\r\nX: ";
    fits += std::string(kHttpHeadMax - fits.size() - 4, 'a') + "\r\n\r\n";
    ASSERT_EQ(fits.size(), kHttpHeadMax);
    EXPECT_TRUE(http_parse_connect_response(view(fits))->complete);
    std::string over = "HTTP/1.1 200 OK\r\nX: ";
    over += std::string(kHttpHeadMax - over.size() - 3, 'a') + "\r\n\r\n";
    EXPECT_EQ(http_parse_connect_response(view(over)).error().code, ErrorCode::kLimitExceeded);
}

TEST(NetRoute, DescribeNamesTheWayNeverTheSecrets) {
    Route direct{RouteKind::kDirect, "198.51.100.7", 443, "", "", {}};
    EXPECT_EQ(direct.describe(), "direct 198.51.100.7:443");
    Route v6{RouteKind::kDirect, "2001:db8::1", 443, "", "", {}};
    EXPECT_EQ(v6.describe(), "direct [2001:db8::1]:443");
    Route socks{RouteKind::kSocks5, "127.0.0.1", 1080, "alice", "hunter2", {}};
    EXPECT_EQ(socks.describe(), "socks5 127.0.0.1:1080");
    Route http{RouteKind::kHttpConnect, "10.0.0.1", 3128, "bob", "s3cret", {}};
    EXPECT_EQ(http.describe(), "http 10.0.0.1:3128");
    Route relay;
    relay.kind = RouteKind::kRelay;
    relay.relay.host = "r.example.org";
    relay.relay.port = 443;
    relay.relay.pin = std::string(64, 'e');
    EXPECT_EQ(relay.describe(), "relay r.example.org:443");
    for (const auto& r : {socks, http, relay}) {
        const std::string d = r.describe();
        EXPECT_EQ(d.find("alice"), std::string::npos);
        EXPECT_EQ(d.find("hunter2"), std::string::npos);
        EXPECT_EQ(d.find("s3cret"), std::string::npos);
        EXPECT_EQ(d.find("eeee"), std::string::npos);
    }
}

}  // namespace
}  // namespace pp::net::proxy

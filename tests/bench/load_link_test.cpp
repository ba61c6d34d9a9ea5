// bench/load_link: the load generator's WebSocket client against a scripted server on loopback
// (real TLS 1.3, Asio's ssl::stream on the server side) that writes frames the way the real
// server never does: a header split across records, a message spread over many records,
// several frames in one record, a ping between messages, and frames a client must refuse.
#include "bench/load_link.hpp"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "net/tls_impl.hpp"
#include "net/ws_frame.hpp"
#include "net/ws_upgrade.hpp"
#include "tests/net/test_server.hpp"

namespace pp::bench {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;
using boost::system::error_code;
using net::WsOpcode;
using ServerStream = asio::ssl::stream<tcp::socket>;
constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxMessage = 200'000;

Bytes text(std::string_view s) {
    return Bytes(s.begin(), s.end());
}

Bytes pattern(std::size_t n) {
    Bytes v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>((i * 7 + i / 300) & 0xff);
    return v;
}

// A server's frame, unmasked unless `mask` is set; `first` carries the fin bit and opcode.
Bytes server_frame(std::uint8_t first, const Bytes& payload, bool mask = false) {
    std::array<std::uint8_t, net::kWsMaxServerHeader> head{};
    const std::size_t n =
        net::write_ws_server_header(static_cast<WsOpcode>(first & 0x0F), payload.size(), head);
    Bytes out(head.begin(), head.begin() + static_cast<std::ptrdiff_t>(n));
    out[0] = first;
    if (mask) {
        out[1] |= 0x80;
        out.insert(out.end(), {0, 0, 0, 0});  // a zero mask: the bytes are the payload as is
    }
    out.insert(out.end(), payload.begin(), payload.end());
    return out;
}

struct ClientFrame {
    std::uint8_t first = 0;
    Bytes payload;  // unmasked (the parser refuses an unmasked client frame)
};

using Response = http::response<http::empty_body>;

// Both ends in one io_context: the scripted server and the link.
struct Harness {
    asio::io_context ioc{1};
    asio::ssl::context client_ctx{asio::ssl::context::tls_client};
    tcp::acceptor acceptor{ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
    std::unique_ptr<ServerStream> server;
    LoadLink link{ioc, client_ctx, kMaxMessage};

    Harness() { client_ctx.set_verify_mode(asio::ssl::verify_none); }

    template <typename F>
    void spawn(F&& f) {
        asio::co_spawn(ioc, std::forward<F>(f), [](const std::exception_ptr& e) {
            if (e) std::rethrow_exception(e);
        });
    }
    void run() {
        ioc.run_for(std::chrono::seconds(20));
        EXPECT_TRUE(ioc.stopped()) << "timed out";
    }

    // Accepts, handshakes and answers the upgrade as a server should, after `edit` has had its
    // way with the answer.
    asio::awaitable<bool> accept(std::function<void(Response&)> edit = {}) {
        auto [aec, sock] = co_await acceptor.async_accept(kTok);
        if (aec) co_return false;
        server = std::make_unique<ServerStream>(std::move(sock),
                                                net::test::shared_identity().impl().ctx);
        if (auto [hec] = co_await server->async_handshake(asio::ssl::stream_base::server, kTok);
            hec)
            co_return false;
        boost::beast::flat_buffer buf;
        http::request<http::empty_body> req;
        if (auto [rec, n] = co_await http::async_read(*server, buf, req, kTok); rec)
            co_return false;
        EXPECT_EQ(req.target(), "/v1/ws");
        auto accept_value = net::detail::ws_accept_value(req[http::field::sec_websocket_key]);
        if (!accept_value) co_return false;
        Response res{http::status::switching_protocols, 11};
        res.set(http::field::upgrade, "websocket");
        res.set(http::field::connection, "Upgrade");
        res.set(http::field::sec_websocket_accept, *accept_value);
        if (edit) edit(res);
        auto [wec, wn] = co_await http::async_write(*server, res, kTok);
        co_return !wec;
    }

    // One async_write: one TLS record for up to 16 KiB. A link that has refused a frame may
    // have closed already, so a write after that one may fail (`may_fail`).
    asio::awaitable<void> write(const Bytes& bytes, bool may_fail = false) {
        auto [ec, n] = co_await asio::async_write(*server, asio::buffer(bytes), kTok);
        if (!may_fail) {
            EXPECT_FALSE(ec) << ec.message();
        }
    }

    asio::awaitable<ClientFrame> read_frame() {
        ClientFrame f;
        std::array<std::uint8_t, net::kWsMaxClientHeader> head{};
        auto [ec, n] = co_await asio::async_read(*server, asio::buffer(head.data(), 2), kTok);
        if (ec) co_return f;
        const std::size_t size = net::ws_header_size(head[1]);
        std::tie(ec, n) =
            co_await asio::async_read(*server, asio::buffer(head.data() + 2, size - 2), kTok);
        if (ec) co_return f;
        auto parsed = net::parse_ws_client_header({head.data(), size});
        EXPECT_TRUE(parsed.ok());
        if (!parsed.ok()) co_return f;
        f.first = head[0];
        f.payload.resize(static_cast<std::size_t>(parsed.value.payload_size));
        std::tie(ec, n) = co_await asio::async_read(*server, asio::buffer(f.payload), kTok);
        net::ws_unmask(f.payload, parsed.value.mask, 0);
        co_return f;
    }
};

TEST(LoadLink, ReadsFramesHoweverTheRecordsCutThemAndAnswersPings) {
    Harness h;
    const Bytes big = pattern(100'000);
    std::vector<Bytes> got;
    error_code end;
    ClientFrame pong, hello;
    h.spawn([&]() -> asio::awaitable<void> {
        if (!co_await h.accept()) {
            ADD_FAILURE() << "upgrade failed";
            co_return;
        }
        const Bytes first = server_frame(0x82, text("first"));
        co_await h.write(Bytes(first.begin(), first.begin() + 1));  // a header cut in two
        co_await h.write(Bytes(first.begin() + 1, first.end()));
        const Bytes large = server_frame(0x82, big);
        for (std::size_t at = 0; at < large.size(); at += 7000) {  // many records
            const std::size_t to = std::min(large.size(), at + 7000);
            co_await h.write(Bytes(large.begin() + static_cast<std::ptrdiff_t>(at),
                                   large.begin() + static_cast<std::ptrdiff_t>(to)));
        }
        Bytes joined = server_frame(0x89, text("p1"));  // a ping and a message in one record
        const Bytes after = server_frame(0x82, text("after-ping"));
        joined.insert(joined.end(), after.begin(), after.end());
        co_await h.write(joined);
        pong = co_await h.read_frame();
        hello = co_await h.read_frame();
        const Bytes close = server_frame(0x88, Bytes{0x03, 0xE8});  // code 1000
        co_await h.write(close);
    });
    h.spawn([&]() -> asio::awaitable<void> {
        if (auto err = co_await h.link.open(h.acceptor.local_endpoint(), "localhost", "/v1/ws")) {
            ADD_FAILURE() << "open failed: " << err->ec.message();
            co_return;
        }
        end = co_await h.link.read_messages([&](ByteView m) {
            got.emplace_back(m.begin(), m.end());
            if (got.size() == 3) {
                const Bytes msg = text("hello from the client");
                EXPECT_TRUE(h.link.send(msg.size(), [&](std::span<std::uint8_t> out) {
                    std::copy(msg.begin(), msg.end(), out.begin());
                }));
            }
        });
    });
    h.run();
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0], text("first"));
    EXPECT_EQ(got[1], big);
    EXPECT_EQ(got[2], text("after-ping"));
    EXPECT_EQ(pong.first, 0x8A);  // a final pong, masked, echoing the ping
    EXPECT_EQ(pong.payload, text("p1"));
    EXPECT_EQ(hello.first, 0x82);
    EXPECT_EQ(hello.payload, text("hello from the client"));
    EXPECT_EQ(end, asio::error::eof);  // the server's close ends the link
    EXPECT_FALSE(h.link.is_open());
    EXPECT_FALSE(h.link.send(1, [](std::span<std::uint8_t>) {}));
}

TEST(LoadLink, FramesAClientMustRefuseEndTheLink) {
    struct Case {
        const char* what;
        Bytes frame;
    };
    const std::vector<Case> cases = {
        {"masked", server_frame(0x82, text("x"), true)},
        {"a first fragment", server_frame(0x02, text("x"))},
        {"a continuation", server_frame(0x80, text("x"))},
        {"text", server_frame(0x81, text("x"))},
        {"reserved bits", server_frame(0xC2, text("x"))},
        {"over the message limit", server_frame(0x82, pattern(kMaxMessage + 1))},
    };
    for (const auto& c : cases) {
        Harness h;
        std::size_t messages = 0;
        error_code end;
        h.spawn([&]() -> asio::awaitable<void> {
            if (!co_await h.accept()) co_return;
            const Bytes fine = server_frame(0x82, text("fine"));
            const Bytes never_read = server_frame(0x82, text("never read"));
            co_await h.write(fine);
            co_await h.write(c.frame, true);
            co_await h.write(never_read, true);
        });
        h.spawn([&]() -> asio::awaitable<void> {
            if (auto err = co_await h.link.open(h.acceptor.local_endpoint(), "localhost", "/v1/ws"))
                co_return;
            end = co_await h.link.read_messages([&](ByteView) { ++messages; });
        });
        h.run();
        EXPECT_EQ(messages, 1u) << c.what;
        EXPECT_EQ(end, asio::error::invalid_argument) << c.what;
        EXPECT_FALSE(h.link.is_open()) << c.what;
    }
}

TEST(LoadLink, AnUpgradeAnswerOutsideSection4FailsTheOpen) {
    struct Case {
        const char* what;
        std::function<void(Response&)> edit;
    };
    const std::vector<Case> cases = {
        {"another status",
         [](Response& r) {
             r.result(http::status::ok);
             r.content_length(0);  // else the body runs to a close that never comes
         }},
        {"the wrong accept value",
         [](Response& r) {
             r.set(http::field::sec_websocket_accept, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
         }},
        {"no Upgrade: websocket", [](Response& r) { r.set(http::field::upgrade, "h2c"); }},
        {"no upgrade in Connection", [](Response& r) { r.set(http::field::connection, "close"); }},
        {"an extension nobody asked for",
         [](Response& r) { r.set(http::field::sec_websocket_extensions, "permessage-deflate"); }},
        {"a subprotocol nobody asked for",
         [](Response& r) { r.set(http::field::sec_websocket_protocol, "chat"); }},
    };
    for (const auto& c : cases) {
        Harness h;
        std::optional<LoadLink::OpenError> err;
        bool opened = true;
        h.spawn([&]() -> asio::awaitable<void> { co_await h.accept(c.edit); });
        h.spawn([&]() -> asio::awaitable<void> {
            err = co_await h.link.open(h.acceptor.local_endpoint(), "localhost", "/v1/ws");
            opened = h.link.is_open();
        });
        h.run();
        ASSERT_TRUE(err.has_value()) << c.what;
        EXPECT_EQ(err->step, LoadLink::OpenStep::kUpgrade) << c.what;
        EXPECT_FALSE(opened) << c.what;
    }
}

TEST(LoadLink, CloseDuringTheTlsHandshakeFailsIt) {
    Harness h;
    std::optional<LoadLink::OpenError> err;
    h.spawn([&]() -> asio::awaitable<void> {
        // Nothing accepts: the connect completes into the backlog, and the TLS handshake waits
        // for a ServerHello that never comes until close() ends it.
        err = co_await h.link.open(h.acceptor.local_endpoint(), "localhost", "/v1/ws");
    });
    asio::steady_timer t(h.ioc, std::chrono::milliseconds(100));
    t.async_wait([&](error_code) { h.link.close(); });
    h.run();
    ASSERT_TRUE(err.has_value());
    EXPECT_EQ(err->step, LoadLink::OpenStep::kTls);
    EXPECT_EQ(err->ec, asio::error::operation_aborted);
}

TEST(LoadLink, NothingIsDeliveredAfterTheOwnerClosesTheLink) {
    Harness h;
    std::size_t messages = 0;
    error_code end;
    h.spawn([&]() -> asio::awaitable<void> {
        if (!co_await h.accept()) co_return;
        Bytes two = server_frame(0x82, text("one"));  // both in one record
        const Bytes second = server_frame(0x82, text("two"));
        two.insert(two.end(), second.begin(), second.end());
        co_await h.write(two);
    });
    h.spawn([&]() -> asio::awaitable<void> {
        if (auto err = co_await h.link.open(h.acceptor.local_endpoint(), "localhost", "/v1/ws"))
            co_return;
        end = co_await h.link.read_messages([&](ByteView) {
            ++messages;
            h.link.close();  // as the generator's mark_dead does
        });
        auto [ec, m] = co_await h.link.next_message();
        EXPECT_EQ(ec, asio::error::operation_aborted);
        EXPECT_TRUE(m.empty());
    });
    h.run();
    EXPECT_EQ(messages, 1u);
    EXPECT_EQ(end, asio::error::operation_aborted);
}

}  // namespace
}  // namespace pp::bench

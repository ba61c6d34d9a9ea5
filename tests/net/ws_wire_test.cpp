// The server's WebSocket on the wire, byte for byte, from a raw TLS client: the upgrade's
// answers, pings, the close handshake, and frames a standard client never sends (so the
// Beast client of the other tests cannot send them either).
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <string>
#include <thread>

#include "net/ws_client.hpp"
#include "net/ws_upgrade.hpp"
#include "tests/net/test_server.hpp"

namespace pp::net {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kKey = "dGhlIHNhbXBsZSBub25jZQ==";  // RFC 6455's example key

// A TLS client that writes whatever bytes a test gives it. A read that gets nothing for 5 s
// gives up, as if the stream had ended.
class RawClient {
  public:
    explicit RawClient(std::uint16_t port) : ctx_(asio::ssl::context::tls_client), s_(ioc_, ctx_) {
        s_.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
        s_.handshake(asio::ssl::stream_base::client);
    }

    // Sends an upgrade request and returns the response's status line and headers.
    std::string upgrade(std::string_view version = "13", std::string_view key = kKey,
                        std::string_view host_line = "Host: x\r\n") {
        std::string req = "GET /v1/ws HTTP/1.1\r\n";
        req.append(host_line).append("Upgrade: websocket\r\nConnection: Upgrade\r\n");
        req.append("Sec-WebSocket-Version: ").append(version);
        req.append("\r\nSec-WebSocket-Key: ").append(key).append("\r\n\r\n");
        write(as_bytes(req));
        boost::system::error_code ec;
        std::size_t n = 0;
        asio::async_read_until(s_, in_, "\r\n\r\n", [&](auto e, std::size_t got) {
            ec = e;
            n = got;
        });
        if (!run_reads() || ec) return "";
        std::string head(asio::buffers_begin(in_.data()), asio::buffers_begin(in_.data()) + n);
        in_.consume(n);
        return head;
    }

    void write(ByteView bytes) { asio::write(s_, asio::buffer(bytes.data(), bytes.size())); }

    // A masked frame, as a client must send it (unless `masked` is false).
    void send_frame(std::uint8_t first_byte, ByteView payload, bool masked = true) {
        Bytes f{first_byte};
        const std::uint8_t mask_bit = masked ? 0x80 : 0;
        if (payload.size() < 126) {
            f.push_back(static_cast<std::uint8_t>(mask_bit | payload.size()));
        } else {
            f.push_back(mask_bit | 126);
            f.push_back(static_cast<std::uint8_t>(payload.size() >> 8));
            f.push_back(static_cast<std::uint8_t>(payload.size()));
        }
        const std::uint8_t mask[4] = {0x11, 0x22, 0x33, 0x44};
        if (masked) f.insert(f.end(), mask, mask + 4);
        for (std::size_t i = 0; i < payload.size(); ++i) {
            f.push_back(masked ? payload[i] ^ mask[i % 4] : payload[i]);
        }
        write(f);
    }

    // Reads one unmasked frame from the server: its first byte and payload. nullopt at EOF.
    std::optional<std::pair<std::uint8_t, Bytes>> read_frame() {
        Bytes head;
        if (!read_exactly(2, head)) return std::nullopt;
        std::size_t size = head[1] & 0x7F;
        Bytes ext;
        if (size == 126) {
            if (!read_exactly(2, ext)) return std::nullopt;
            size = (std::size_t{ext[0]} << 8) | ext[1];
        } else if (size == 127) {
            return std::nullopt;  // no test here reads one that large
        }
        Bytes payload;
        if (!read_exactly(size, payload)) return std::nullopt;
        return std::pair{head[0], payload};
    }

    // True if the server ends the stream (close_notify or TCP close) before sending more.
    bool reads_end() {
        Bytes rest;
        return !read_exactly(1, rest);
    }

  private:
    // Runs the pending read for at most 5 s; false if it had to be cancelled.
    bool run_reads() {
        ioc_.restart();
        ioc_.run_for(5s);
        if (ioc_.stopped()) return true;
        s_.next_layer().cancel();
        ioc_.restart();
        ioc_.run();
        return false;
    }

    bool read_exactly(std::size_t n, Bytes& out) {
        if (in_.size() < n) {
            asio::async_read(s_, in_, asio::transfer_exactly(n - in_.size()),
                             [](auto, std::size_t) {});
            run_reads();
        }
        if (in_.size() < n) return false;
        out.assign(asio::buffers_begin(in_.data()), asio::buffers_begin(in_.data()) + n);
        in_.consume(n);
        return true;
    }

    asio::io_context ioc_;
    asio::ssl::context ctx_;
    asio::ssl::stream<asio::ip::tcp::socket> s_;
    asio::streambuf in_;
};

Bytes close_payload(std::uint16_t code) {
    return Bytes{static_cast<std::uint8_t>(code >> 8), static_cast<std::uint8_t>(code)};
}

TEST(WsWire, AcceptValueIsTheRfcs) {
    EXPECT_EQ(detail::ws_accept_value(kKey), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    EXPECT_FALSE(detail::ws_accept_value(""));
    EXPECT_FALSE(detail::ws_accept_value("dGhlIHNhbXBsZSBub25jZQ"));    // no padding
    EXPECT_FALSE(detail::ws_accept_value("dGhlIHNhbXBsZSBub25jZR=="));  // bits past 16 bytes
    EXPECT_FALSE(detail::ws_accept_value("dGhlIHNhbXBsZSBub2*jZQ=="));  // not base64
    EXPECT_FALSE(detail::ws_accept_value("dGhlIHNhbXBsZSBub25jZQ==dGhl"));
}

TEST(WsWire, UpgradeAnswers101WithTheAcceptValue) {
    test::TestServer ts;
    RawClient c(ts.port());
    const std::string head = c.upgrade();
    EXPECT_EQ(head.rfind("HTTP/1.1 101", 0), 0u) << head;
    EXPECT_NE(head.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
              std::string::npos)
        << head;
    EXPECT_EQ(head.find("Sec-WebSocket-Extensions"), std::string::npos) << head;
    EXPECT_TRUE(ts.handler.wait_opened(1));
}

TEST(WsWire, AnotherVersionIs426AndABadKeyOrNoHost400) {
    test::TestServer ts;
    {
        RawClient c(ts.port());
        const std::string head = c.upgrade("8");
        EXPECT_EQ(head.rfind("HTTP/1.1 426", 0), 0u) << head;
        EXPECT_NE(head.find("Sec-WebSocket-Version: 13\r\n"), std::string::npos) << head;
    }
    {
        RawClient c(ts.port());
        const std::string head = c.upgrade("13", "not a key");
        EXPECT_EQ(head.rfind("HTTP/1.1 400", 0), 0u) << head;
    }
    {
        RawClient c(ts.port());
        const std::string head = c.upgrade("13", kKey, "");
        EXPECT_EQ(head.rfind("HTTP/1.1 400", 0), 0u) << head;
    }
    EXPECT_EQ(ts.handler.opened(), 0u);
    // Counted once the answer is out, which may be just after the client has read it.
    for (int i = 0; i < 100 && ts.server->counters().handshake_failures < 3; ++i) {
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_EQ(ts.server->counters().handshake_failures, 3u);
}

TEST(WsWire, PingsAreAnsweredWithTheirPayloadBetweenFragments) {
    test::TestServer ts;  // echoes every message
    RawClient c(ts.port());
    ASSERT_EQ(c.upgrade().rfind("HTTP/1.1 101", 0), 0u);
    c.send_frame(0x02, as_bytes("frag"));     // binary, not final
    c.send_frame(0x89, as_bytes("are you"));  // a ping between the fragments
    c.send_frame(0x80, as_bytes("mented"));   // final continuation
    auto pong = c.read_frame();
    ASSERT_TRUE(pong);
    EXPECT_EQ(pong->first, 0x8A);
    EXPECT_EQ(pong->second, Bytes(as_bytes("are you").begin(), as_bytes("are you").end()));
    auto echo = c.read_frame();
    ASSERT_TRUE(echo);
    EXPECT_EQ(echo->first, 0x82);
    const ByteView whole = as_bytes("fragmented");
    EXPECT_EQ(echo->second, Bytes(whole.begin(), whole.end()));
}

// The handshake timeout bounds every close; these tests set it far above what they allow for
// the stream to end, so an end that only came from that bound fails them.
ServerOptions slow_close_bound() {
    ServerOptions o;
    o.handshake_timeout = 4s;
    return o;
}

TEST(WsWire, ThePeersCloseIsEchoedAndTheServerEndsTheStream) {
    test::TestServer ts(slow_close_bound());
    RawClient c(ts.port());
    ASSERT_EQ(c.upgrade().rfind("HTTP/1.1 101", 0), 0u);
    Bytes payload = close_payload(4001);
    payload.push_back('!');
    c.send_frame(0x88, payload);
    auto echo = c.read_frame();
    ASSERT_TRUE(echo);
    EXPECT_EQ(echo->first, 0x88);
    EXPECT_EQ(echo->second, close_payload(4001));
    const auto t0 = Clock::now();
    EXPECT_TRUE(c.reads_end());
    EXPECT_LT(Clock::now() - t0, 2s);
    EXPECT_TRUE(ts.handler.wait_closed(1));
}

TEST(WsWire, AnEmptyCloseIsEchoedEmpty) {
    test::TestServer ts(slow_close_bound());
    RawClient c(ts.port());
    ASSERT_EQ(c.upgrade().rfind("HTTP/1.1 101", 0), 0u);
    c.send_frame(0x88, {});
    auto echo = c.read_frame();
    ASSERT_TRUE(echo);
    EXPECT_EQ(echo->first, 0x88);
    EXPECT_TRUE(echo->second.empty());
    const auto t0 = Clock::now();
    EXPECT_TRUE(c.reads_end());
    EXPECT_LT(Clock::now() - t0, 2s);
}

TEST(WsWire, AFrameLargerThanAReadChunkOrAWriteBatchComesBackByteForByte) {
    // 40,000 bytes in one frame: read in three chunks, and echoed as a frame too large to
    // batch (header, then the payload where it lies). A pattern, so that a chunk out of place
    // shows.
    test::TestServer ts;  // echoes every message
    RawClient c(ts.port());
    ASSERT_EQ(c.upgrade().rfind("HTTP/1.1 101", 0), 0u);
    Bytes big(40'000);
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i % 251);
    c.send_frame(0x82, big);
    auto echo = c.read_frame();
    ASSERT_TRUE(echo);
    EXPECT_EQ(echo->first, 0x82);
    EXPECT_EQ(echo->second, big);
}

TEST(WsWire, OurCloseAnsweredEndsTheStreamWithoutASecondClose) {
    test::TestServer ts(slow_close_bound());
    ts.handler.echo = false;
    RawClient c(ts.port());
    ASSERT_EQ(c.upgrade().rfind("HTTP/1.1 101", 0), 0u);
    ASSERT_TRUE(ts.handler.wait_opened(1));
    ts.handler.any_open()->close();
    auto ours = c.read_frame();
    ASSERT_TRUE(ours);
    EXPECT_EQ(ours->first, 0x88);
    EXPECT_EQ(ours->second, close_payload(1000));
    // Data and pings after its close are not answered; then our close ends it.
    c.send_frame(0x82, as_bytes("late"));
    c.send_frame(0x89, as_bytes("ping"));
    c.send_frame(0x88, close_payload(1000));
    const auto t0 = Clock::now();
    EXPECT_TRUE(c.reads_end());  // no pong, no echo of our close: the stream just ends
    EXPECT_LT(Clock::now() - t0, 2s);
    EXPECT_TRUE(ts.handler.wait_closed(1));
    EXPECT_EQ(ts.server->counters().frames_in, 0u);
}

TEST(WsWire, FramesAServerMustRefuseFailTheConnectionWith1002) {
    test::TestServer ts(slow_close_bound());
    struct Case {
        const char* what;
        std::uint8_t first;
        Bytes payload;
        bool masked;
    };
    const Case cases[] = {
        {"unmasked", 0x82, {'x'}, false},
        {"reserved bit", 0xC2, {'x'}, true},
        {"reserved opcode", 0x83, {'x'}, true},
        {"orphan continuation", 0x80, {'x'}, true},
        {"fragmented ping", 0x09, {}, true},
        {"close of one byte", 0x88, {0x03}, true},
        {"close code 1005", 0x88, close_payload(1005), true},
    };
    std::size_t closed = 0;
    for (const auto& k : cases) {
        RawClient c(ts.port());
        ASSERT_EQ(c.upgrade().rfind("HTTP/1.1 101", 0), 0u) << k.what;
        c.send_frame(k.first, k.payload, k.masked);
        auto close = c.read_frame();
        ASSERT_TRUE(close) << k.what;
        EXPECT_EQ(close->first, 0x88) << k.what;
        EXPECT_EQ(close->second, close_payload(1002)) << k.what;
        // Failed, not closed politely: the server does not wait for our close.
        const auto t0 = Clock::now();
        EXPECT_TRUE(c.reads_end()) << k.what;
        EXPECT_LT(Clock::now() - t0, 2s) << k.what;
        EXPECT_TRUE(ts.handler.wait_closed(++closed)) << k.what;
    }
    // A close reason that is not UTF-8 is 1007.
    RawClient c(ts.port());
    ASSERT_EQ(c.upgrade().rfind("HTTP/1.1 101", 0), 0u);
    Bytes bad_reason = close_payload(1000);
    bad_reason.push_back(0xC0);
    c.send_frame(0x88, bad_reason);
    auto close = c.read_frame();
    ASSERT_TRUE(close);
    EXPECT_EQ(close->second, close_payload(1007));
    // The server carries on for everyone else.
    auto ok = WsClient::connect("127.0.0.1", ts.port(), ts.pin());
    ASSERT_TRUE(ok.ok());
    ASSERT_TRUE(ok->send(Bytes{1, 2, 3}).ok());
    auto r = ok->receive(5s);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, (Bytes{1, 2, 3}));
    EXPECT_EQ(ts.server->counters().frames_in, 1u);
}

TEST(WsWire, AFaultBehindAStuckWriterIsCutOffAtTheHandshakeTimeout) {
    // The client reads nothing, so the server's writer is stuck behind full socket buffers;
    // then it sends a frame the server must refuse. The close frame that fails the connection
    // cannot go out. The handshake timeout from the fault, not the idle timeout (a minute),
    // ends it.
    ServerOptions o;
    o.idle_timeout = 60s;
    o.handshake_timeout = 400ms;
    o.max_send_queue_bytes = 64 << 20;
    test::TestServer ts(o);
    ts.handler.echo = false;
    RawClient c(ts.port());
    ASSERT_EQ(c.upgrade().rfind("HTTP/1.1 101", 0), 0u);
    ASSERT_TRUE(ts.handler.wait_opened(1));
    auto conn = ts.handler.any_open();
    for (int i = 0; i < 2048; ++i) conn->send(Bytes(16 * 1024, 7));
    std::this_thread::sleep_for(200ms);
    ASSERT_LT(ts.server->counters().frames_out, 2048u);  // the writer is stuck
    const auto faulted = Clock::now();
    c.send_frame(0x82, as_bytes("x"), /*masked=*/false);
    // The handler hears at once that reading is over; the connection lives until cut off.
    EXPECT_TRUE(ts.handler.wait_closed(1, 5s));
    while (ts.server->counters().connections_open != 0 && Clock::now() - faulted < 5s) {
        std::this_thread::sleep_for(10ms);
    }
    const auto took = Clock::now() - faulted;
    EXPECT_EQ(ts.server->counters().connections_open, 0u);
    EXPECT_GE(took, 350ms);
    EXPECT_LT(took, 3s);
}

}  // namespace
}  // namespace pp::net

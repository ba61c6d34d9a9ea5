// Hostile input against the real server: garbage and truncated frames, wrong versions, text
// frames, huge frames, a slowloris TLS client and raw TCP garbage. Each gets an error frame or
// is disconnected, while a well-behaved pair of clients on other connections keeps exchanging
// messages the whole time and the process stays up.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "tests/integration/fixture.hpp"

namespace pp::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kHandshakeTimeout = 1500ms;

// A plain TCP connection to the server, or -1.
int tcp_connect(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return -1;
    }
    timeval tv{5, 0};  // every blocking call below is bounded
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

// True once the peer closed (EOF or reset) before the deadline; bytes it sends are skipped.
bool closed_by_peer(int fd, std::chrono::milliseconds within) {
    const auto deadline = Clock::now() + within;
    char buf[1024];
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return false;
        pollfd p{fd, POLLIN, 0};
        int n = ::poll(&p, 1, static_cast<int>(left.count()));
        if (n == 0) return false;
        if (n < 0) continue;
        ssize_t got = ::recv(fd, buf, sizeof buf, 0);
        if (got <= 0) return true;
    }
}

// The well-behaved traffic: Alice sends to Bob, Bob receives and acknowledges, round after
// round, until told to stop.
class Conversation {
  public:
    Conversation(const ServerProcess& server, const User& alice, const User& bob)
        : a_(login(server, alice)), b_(login(server, bob)), bob_(bob.account) {
        must(a_.next_push(5s), "alice backlog");
        must(b_.next_push(5s), "bob backlog");
        thread_ = std::thread([this] { run(); });
    }
    ~Conversation() { stop(); }
    void stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    // Waits until `n` more rounds have completed (bounded).
    bool progressed(int n, std::chrono::milliseconds within) {
        std::unique_lock lock(mu_);
        const int target = rounds_ + n;
        return changed_.wait_for(lock, within, [&] {
            return rounds_ >= target || !error_.empty();
        }) && error_.empty();
    }
    std::string error() const {
        std::lock_guard lock(mu_);
        return error_;
    }

  private:
    void run() {
        try {
            while (!stop_) {
                const std::string id = random_id();
                const std::string content = "round " + std::to_string(done_);
                must_ok(a_.send(id, bob_, {{1, 2, content}}, 5s), "send");
                auto p = must(b_.next_push(5s), "push");
                if (!p.has_envelope() || p.envelope().message_id() != id ||
                    p.envelope().content() != content)
                    throw std::runtime_error("wrong push");
                must_ok(b_.ack({id}, 5s), "ack");
                ++done_;
                {
                    std::lock_guard lock(mu_);
                    rounds_ = done_;
                    changed_.notify_all();
                }
                // A person's pace, well under the per-connection request limit (200/s): a
                // round trip on loopback takes well under a millisecond, and a client that
                // loops flat out is rightly told to slow down.
                std::this_thread::sleep_for(10ms);
            }
        } catch (const std::exception& e) {
            std::lock_guard lock(mu_);
            error_ = e.what();
            changed_.notify_all();
        }
    }
    ServerClient a_, b_;
    std::string bob_;
    std::atomic<bool> stop_{false};
    int done_ = 0;  // the thread's own count
    mutable std::mutex mu_;
    std::condition_variable changed_;
    int rounds_ = 0;
    std::string error_;
    std::thread thread_;
};

class HostileInputTest : public ::testing::Test {
  protected:
    void SetUp() override {
        must(server.start(), "start server");
        auto c = connect_to(server);
        alice = register_user(c);
        bob = register_user(c);
        talk = std::make_unique<Conversation>(server, alice, bob);
        ASSERT_TRUE(talk->progressed(3, 10s)) << talk->error();
    }
    void TearDown() override {
        // The conversation went on throughout.
        EXPECT_TRUE(talk->progressed(3, 10s)) << talk->error();
        talk->stop();
        EXPECT_EQ(talk->error(), "");
        EXPECT_TRUE(server.alive()) << server.output();
        auto health = net::https_get(server.host(), server.port(), server.pin(), "/healthz");
        EXPECT_TRUE(health && health->status == 200);
    }
    ServerProcess server{ServerProcessOptions::with_config(
        "[limits]\nhandshake_timeout_ms = " + std::to_string(kHandshakeTimeout.count()) + "\n")};
    User alice, bob;
    std::unique_ptr<Conversation> talk;
};

// Expects an error frame (id 0, not OK) for `bytes`, on a connection that stays usable.
void expect_error_frame(ServerClient& c, const Bytes& bytes, const std::string& what) {
    must(c.send_bytes(bytes), what);
    auto r = must(c.await_unsolicited(5s), what);
    EXPECT_TRUE(r.status() == v1::BAD_REQUEST || r.status() == v1::UNSUPPORTED_VERSION)
        << what << ": " << v1::Status_Name(r.status());
}

TEST_F(HostileInputTest, MalformedFramesGetErrorFrames) {
    auto c = connect_to(server);
    std::mt19937 rng(1234);
    int sent = 0;
    for (int i = 0; i < 200; ++i) {
        Bytes junk(1 + rng() % 512);
        for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
        // Random bytes that happen to form a valid version-1 request are not junk.
        if (wire::decode_frame(junk)) continue;
        expect_error_frame(c, junk, "random frame " + std::to_string(i));
        ++sent;
    }
    EXPECT_GT(sent, 150);

    // A valid frame cut short inside a length-delimited field.
    v1::Frame reg;
    reg.set_version(1);
    reg.mutable_request()->set_id(77);
    auto keys = DeviceKeys::generate(3);
    auto* r = reg.mutable_request()->mutable_register_();
    r->set_identity_key(public_bytes(keys.identity().public_key));
    *r->mutable_signed_prekey() = to_wire(keys.current_signed_prekey());
    Bytes whole = wire::encode_frame(reg);
    Bytes cut(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(whole.size() / 2));
    ASSERT_FALSE(wire::decode_frame(cut));
    expect_error_frame(c, cut, "truncated protobuf");

    // Wrong version, no version, empty frame, a response instead of a request.
    v1::Frame f;
    f.set_version(2);
    f.mutable_request()->set_id(5);
    f.mutable_request()->mutable_challenge();
    {
        must(c.send_bytes(wire::encode_frame(f)), "v2");
        auto resp = must(c.await_unsolicited(5s), "v2");
        EXPECT_EQ(resp.status(), v1::UNSUPPORTED_VERSION);
    }
    f.set_version(0);
    expect_error_frame(c, wire::encode_frame(f), "version 0");
    expect_error_frame(c, {}, "empty frame");
    expect_error_frame(c, wire::encode_frame(wire::make_response(9, v1::OK)), "a response");
    // A request with no body.
    v1::Frame nobody;
    nobody.set_version(1);
    nobody.mutable_request()->set_id(42);
    must(c.send_bytes(wire::encode_frame(nobody)), "no body");
    EXPECT_EQ(must(c.await(42, 5s), "no body").status(), v1::UNAUTHENTICATED);

    // The same connection still works after all of that (rate limits permitting).
    EXPECT_EQ(must(c.challenge(), "challenge after junk").status(), v1::OK);
    auto m =
        must(net::https_get(server.host(), server.port(), server.pin(), "/metrics"), "metrics");
    EXPECT_GE(metric(m.body, "paperplane_frames_rejected_total"), sent);
}

TEST_F(HostileInputTest, TextAndHugeFramesCloseTheConnection) {
    {
        auto c = connect_to(server);
        must(c.send_text("{\"hello\": \"server\"}"), "text");
        auto r = c.pump(10s);
        ASSERT_FALSE(r) << "a text frame must close the connection";
        EXPECT_EQ(r.error().code, ErrorCode::kNoSession);
    }
    {
        auto c = connect_to(server);
        Bytes huge(1 << 20, 0x5a);
        auto sent = c.send_bytes(huge);
        auto r = c.pump(10s);
        EXPECT_FALSE(sent && r) << "a 1 MiB frame must close the connection";
    }
}

TEST_F(HostileInputTest, SlowlorisTlsClientIsCutOff) {
    int fd = tcp_connect(server.port());
    ASSERT_GE(fd, 0);
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    ASSERT_NE(ctx, nullptr);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    ASSERT_EQ(SSL_connect(ssl), 1) << "TLS handshake";
    const auto started = Clock::now();
    const std::string partial = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    ASSERT_GT(SSL_write(ssl, partial.data(), static_cast<int>(partial.size())), 0);
    // One header byte at a time, never finishing the request: the handshake deadline covers
    // the whole request, so trickling does not extend it.
    bool closed = false;
    while (!closed && Clock::now() - started < kHandshakeTimeout + 5s) {
        if (SSL_write(ssl, "a", 1) <= 0) {
            closed = true;
            break;
        }
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 200) > 0) {
            char buf[512];
            int n = SSL_read(ssl, buf, sizeof buf);
            if (n <= 0) closed = true;  // closed (a 408 or similar before that is fine too)
        }
    }
    const auto took = Clock::now() - started;
    EXPECT_TRUE(closed) << "a slowloris client was not cut off";
    EXPECT_LT(took, kHandshakeTimeout + 3s);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ::close(fd);
}

TEST_F(HostileInputTest, SilentAndGarbageTcpClientsAreDropped) {
    // Garbage instead of a TLS ClientHello.
    int garbage = tcp_connect(server.port());
    ASSERT_GE(garbage, 0);
    std::mt19937 rng(99);
    Bytes junk(4096);
    for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
    (void)::send(garbage, junk.data(), junk.size(), MSG_NOSIGNAL);
    EXPECT_TRUE(closed_by_peer(garbage, kHandshakeTimeout + 3s)) << "garbage client kept open";
    ::close(garbage);

    // Plain HTTP on the TLS port.
    int http = tcp_connect(server.port());
    ASSERT_GE(http, 0);
    const std::string get = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    (void)::send(http, get.data(), get.size(), MSG_NOSIGNAL);
    EXPECT_TRUE(closed_by_peer(http, kHandshakeTimeout + 3s)) << "plain HTTP client kept open";
    ::close(http);

    // Connects and says nothing.
    int silent = tcp_connect(server.port());
    ASSERT_GE(silent, 0);
    EXPECT_TRUE(closed_by_peer(silent, kHandshakeTimeout + 3s)) << "silent client kept open";
    ::close(silent);
}

}  // namespace
}  // namespace pp::test

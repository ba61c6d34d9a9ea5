// Socks5Server against real clients on loopback: curl (with and without auth, IPv4, IPv6,
// remote DNS), a raw client for every reply code, UDP ASSOCIATE, and misbehaving clients.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "tests/relay/socks5_test_support.hpp"

namespace pp::relay::test {
namespace {

using socks5::Address;
using socks5::Command;
using socks5::ReplyCode;
using socks5::Status;

class Socks5ServerTest : public ::testing::Test {
  protected:
    void SetUp() override {
        users_ = write_users_file("users", "# test users\nalice:wonder land\n");
    }
    void TearDown() override { std::filesystem::remove(users_); }
    Config config() { return base_config(users_); }
    std::string proxy(const RunningServer& s, const char* scheme = "socks5h") {
        return std::string(" -x ") + scheme + "://127.0.0.1:" + std::to_string(s.port());
    }
    std::string users_;
};

TEST_F(Socks5ServerTest, CurlRemoteDnsWithAuth) {
    TcpServer http(false, serve_http);
    RunningServer s(config());
    ASSERT_TRUE(s.ok());
    // "localhost" may resolve to ::1 first, where nothing listens: the relay tries the next.
    auto r = run_curl(
        "--socks5-hostname 127.0.0.1:" + std::to_string(s.port()) +
        " --proxy-user 'alice:wonder land' http://localhost:" + std::to_string(http.port()) + "/");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, kBody);
    auto user = s.metrics().user("alice");
    EXPECT_TRUE(eventually([&] { return user->bytes_down.load() >= kBody.size(); }));
    EXPECT_GT(user->bytes_up.load(), 0u);
    EXPECT_GE(s.metrics().socks5_connects_ok.load(), 1u);
}

TEST_F(Socks5ServerTest, CurlLocalDnsWithAuth) {
    TcpServer http(false, serve_http);
    RunningServer s(config());
    ASSERT_TRUE(s.ok());
    auto r = run_curl(
        "--socks5 127.0.0.1:" + std::to_string(s.port()) +
        " --proxy-user 'alice:wonder land' http://127.0.0.1:" + std::to_string(http.port()) + "/");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, kBody);
}

TEST_F(Socks5ServerTest, CurlWithoutAuthOnlyWhenAllowed) {
    TcpServer http(false, serve_http);
    const std::string url = " http://127.0.0.1:" + std::to_string(http.port()) + "/";
    {
        RunningServer s(config());
        ASSERT_TRUE(s.ok());
        auto r = run_curl("--socks5-hostname 127.0.0.1:" + std::to_string(s.port()) + url);
        EXPECT_NE(r.exit_code, 0);
        EXPECT_TRUE(eventually([&] { return s.metrics().socks5_handshake_failures.load() >= 1; }));
    }
    auto c = config();
    c.socks5.allow_no_auth = true;
    RunningServer s(c);
    ASSERT_TRUE(s.ok());
    auto r = run_curl("--socks5-hostname 127.0.0.1:" + std::to_string(s.port()) + url);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, kBody);
}

TEST_F(Socks5ServerTest, WrongPasswordRefused) {
    TcpServer http(false, serve_http);
    RunningServer s(config());
    ASSERT_TRUE(s.ok());
    auto r = run_curl("--socks5-hostname 127.0.0.1:" + std::to_string(s.port()) +
                      " --proxy-user alice:wrong http://127.0.0.1:" + std::to_string(http.port()));
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(r.output.find(kBody), std::string::npos);
    int fd = connect_tcp(false, s.port());
    auto n = negotiate(fd, "mallory", "wonder land");
    EXPECT_FALSE(n.ok);
    EXPECT_EQ(n.method, socks5::Method::kUserPass);
    EXPECT_TRUE(closed_within(fd, 2000ms));
    ::close(fd);
    EXPECT_TRUE(eventually([&] { return s.metrics().socks5_auth_failures.load() == 2; }));
}

TEST_F(Socks5ServerTest, Ipv6ListenerAndDestination) {
    TcpServer http(true, serve_http);
    auto c = config();
    c.socks5.listen = "[::1]:0";
    RunningServer s(c);
    ASSERT_TRUE(s.ok());
    auto r = run_curl(
        "--socks5 [::1]:" + std::to_string(s.port()) +
        " --proxy-user 'alice:wonder land' -g http://[::1]:" + std::to_string(http.port()) + "/");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, kBody);
    // BND.ADDR is the local end of the outgoing IPv6 socket.
    int fd = connect_tcp(true, s.port());
    ASSERT_TRUE(negotiate(fd, "alice", "wonder land").ok);
    std::array<std::uint8_t, 16> v6{};
    v6[15] = 1;
    auto rep = request(fd, Command::kConnect, Address::ipv6(v6, http.port()));
    ASSERT_EQ(rep.status, Status::kDone);
    EXPECT_EQ(rep.value.code, ReplyCode::kSucceeded);
    EXPECT_EQ(rep.value.bound.type, socks5::AddressType::kIpv6);
    EXPECT_EQ(rep.value.bound.ip, v6);
    EXPECT_NE(rep.value.bound.port, 0);
    ::close(fd);
}

// One fresh authenticated connection, one request, the reply code.
ReplyCode reply_for(std::uint16_t proxy_port, Command c, const Address& a) {
    int fd = connect_tcp(false, proxy_port);
    EXPECT_TRUE(negotiate(fd, "alice", "wonder land").ok);
    auto rep = request(fd, c, a);
    EXPECT_EQ(rep.status, Status::kDone);
    EXPECT_TRUE(closed_within(fd, 2000ms));
    ::close(fd);
    return rep.value.code;
}

TEST_F(Socks5ServerTest, ErrorReplies) {
    std::uint16_t closed_port = 0;
    ::close(listen_tcp(false, &closed_port));
    RunningServer s(config());
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(reply_for(s.port(), Command::kConnect, Address::ipv4({127, 0, 0, 1}, closed_port)),
              ReplyCode::kConnectionRefused);
    EXPECT_EQ(reply_for(s.port(), Command::kConnect, Address::host("nonexistent.invalid", 80)),
              ReplyCode::kHostUnreachable);
    EXPECT_EQ(reply_for(s.port(), Command::kConnect, Address::ipv4({10, 0, 0, 1}, 80)),
              ReplyCode::kNotAllowed);
    EXPECT_EQ(reply_for(s.port(), Command::kBind, Address::ipv4({127, 0, 0, 1}, 80)),
              ReplyCode::kCommandNotSupported);
    {
        int fd = connect_tcp(false, s.port());
        ASSERT_TRUE(negotiate(fd, "alice", "wonder land").ok);
        Buffer req{5, 9, 0, 1, 127, 0, 0, 1, 0, 80};
        send_all(fd, req);
        auto rep = socks5::parse_reply(read_n(fd, 10));
        EXPECT_EQ(rep.value.code, ReplyCode::kCommandNotSupported);
        ::close(fd);
    }
    {
        int fd = connect_tcp(false, s.port());
        ASSERT_TRUE(negotiate(fd, "alice", "wonder land").ok);
        Buffer req{5, 1, 0, 2, 127, 0, 0, 1, 0, 80};
        send_all(fd, req);
        auto rep = socks5::parse_reply(read_n(fd, 10));
        EXPECT_EQ(rep.value.code, ReplyCode::kAddressTypeNotSupported);
        EXPECT_TRUE(closed_within(fd, 2000ms));
        ::close(fd);
    }
    EXPECT_TRUE(eventually([&] { return s.metrics().socks5_denied.load() >= 1; }));
    EXPECT_TRUE(eventually([&] { return s.metrics().socks5_connects_failed.load() >= 2; }));
}

TEST_F(Socks5ServerTest, DefaultPolicyDeniesLoopbackEvenViaNames) {
    TcpServer http(false, serve_http);
    auto c = config();
    c.socks5.allow.clear();
    RunningServer s(c);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(reply_for(s.port(), Command::kConnect, Address::ipv4({127, 0, 0, 1}, http.port())),
              ReplyCode::kNotAllowed);
    // The name passes, the addresses it resolves to do not.
    EXPECT_EQ(reply_for(s.port(), Command::kConnect, Address::host("localhost", http.port())),
              ReplyCode::kNotAllowed);
    EXPECT_EQ(s.metrics().socks5_connects_ok.load(), 0u);
}

// getaddrinfo() stops at a NUL: "localhost\0x" would resolve as the denied "localhost".
// Names that are not plausible host names are answered 0x04 before any lookup.
TEST_F(Socks5ServerTest, HostNamesWithNulOrOddBytesDoNotBypassTheDenyList) {
    TcpServer http(false, serve_http);
    auto c = config();
    c.socks5.deny = {"localhost"};
    RunningServer s(c);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(reply_for(s.port(), Command::kConnect, Address::host("localhost", http.port())),
              ReplyCode::kNotAllowed);
    EXPECT_EQ(reply_for(s.port(), Command::kConnect,
                        Address::host(std::string("localhost\0x", 11), http.port())),
              ReplyCode::kHostUnreachable);
    EXPECT_EQ(reply_for(s.port(), Command::kConnect, Address::host("local host", http.port())),
              ReplyCode::kHostUnreachable);
    EXPECT_EQ(s.metrics().socks5_connects_ok.load(), 0u);
}

// Behind 1:1 NAT the public address is on no interface: public_host is denied all the same.
TEST_F(Socks5ServerTest, PublicHostIsOneOfTheRelaysOwnAddresses) {
    auto c = config();
    c.public_host = "203.0.113.7";
    RunningServer s(c);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(reply_for(s.port(), Command::kConnect, Address::ipv4({203, 0, 113, 7}, 80)),
              ReplyCode::kNotAllowed);
}

// A name whose DNS never answers costs only its own client: others resolve meanwhile, and the
// stalled client gets 0x06 when its connect deadline passes, without waiting for the lookup.
// What a test's lookup function shares with the detached lookup workers: held by shared_ptr
// (captured by value), since a worker may still be returning from a stalled lookup after the
// test is over.
struct LookupGate {
    std::mutex m;
    std::condition_variable cv;
    bool release = false;
    std::atomic<int> stalled_left{0};

    // Blocks names under "stall." until released (at most 10 s); everything else answers
    // 127.0.0.1 at once.
    static socks5::LookupService::Resolve resolver(std::shared_ptr<LookupGate> gate) {
        return [gate](const std::string& host) {
            if (host.rfind("stall", 0) == 0) {
                ++gate->stalled_left;
                {
                    std::unique_lock lock(gate->m);
                    gate->cv.wait_for(lock, 10s, [&] { return gate->release; });
                }
                --gate->stalled_left;
            }
            return std::vector<boost::asio::ip::address>{
                boost::asio::ip::make_address("127.0.0.1")};
        };
    }
    void open() {
        {
            std::lock_guard lock(m);
            release = true;
        }
        cv.notify_all();
    }
};

TEST_F(Socks5ServerTest, StalledLookupDelaysNobodyAndTimesOutWith0x06) {
    TcpServer echo(false, serve_echo_after_eof);
    auto c = config();
    c.socks5.connect_timeout = 1s;
    auto gate = std::make_shared<LookupGate>();
    RunningServer s(c);
    ASSERT_TRUE(s.ok());
    s.server().set_resolve_for_tests(LookupGate::resolver(gate));
    using Clock = std::chrono::steady_clock;
    ReplyCode stalled_code = ReplyCode::kSucceeded;
    Clock::duration stalled_took{};
    std::thread stalled([&] {
        const auto t0 = Clock::now();
        stalled_code = reply_for(s.port(), Command::kConnect, Address::host("stall.test", 80));
        stalled_took = Clock::now() - t0;
    });
    std::this_thread::sleep_for(100ms);  // the stalled lookup is running
    const auto t0 = Clock::now();
    int fd = connect_tcp(false, s.port());
    ASSERT_TRUE(negotiate(fd, "alice", "wonder land").ok);
    EXPECT_EQ(request(fd, Command::kConnect, Address::host("fast.test", echo.port())).value.code,
              ReplyCode::kSucceeded);
    EXPECT_LT(Clock::now() - t0, 500ms);
    ::close(fd);
    stalled.join();
    EXPECT_EQ(stalled_code, ReplyCode::kTtlExpired);
    EXPECT_LT(stalled_took, 1800ms);
    gate->open();
    EXPECT_TRUE(eventually([&] { return gate->stalled_left.load() == 0; }));
}

// Many names whose DNS never answers, asked by one client: it gets its share of the lookup
// workers (two) and no more, so another client's lookups still run at once.
TEST_F(Socks5ServerTest, OneClientsStalledLookupsLeaveOthersTheirWorkers) {
    TcpServer echo(false, serve_echo_after_eof);
    auto c = config();
    c.socks5.connect_timeout = 2s;
    std::ofstream(users_) << "alice:wonder land\nbob:builder\n";
    auto gate = std::make_shared<LookupGate>();
    RunningServer s(c);
    ASSERT_TRUE(s.ok());
    s.server().set_resolve_for_tests(LookupGate::resolver(gate));
    std::vector<int> stalled;
    for (int i = 0; i < 12; ++i) {  // more than there are lookup workers
        int fd = connect_tcp(false, s.port());
        ASSERT_TRUE(negotiate(fd, "alice", "wonder land").ok);
        Buffer out;
        (void)socks5::encode_request(out, Command::kConnect,
                                     Address::host("stall" + std::to_string(i) + ".test", 80));
        ASSERT_TRUE(send_all(fd, out));
        stalled.push_back(fd);
    }
    EXPECT_TRUE(eventually([&] { return gate->stalled_left.load() == 2; }));
    const auto t0 = std::chrono::steady_clock::now();
    int fd = connect_tcp(false, s.port());
    ASSERT_TRUE(negotiate(fd, "bob", "builder").ok);
    EXPECT_EQ(request(fd, Command::kConnect, Address::host("fast.test", echo.port())).value.code,
              ReplyCode::kSucceeded);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
    EXPECT_EQ(gate->stalled_left.load(), 2);
    ::close(fd);
    for (int s5 : stalled) ::close(s5);
    gate->open();
    EXPECT_TRUE(eventually([&] { return gate->stalled_left.load() == 0; }));
}

// A listener on 127.0.0.2:`port` whose accept queue is full: the kernel drops further SYNs,
// so a connect to it hangs like one to a blackholed address. Returns the fds to close.
std::vector<int> blackhole(std::uint16_t port) {
    std::vector<int> fds;
    int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(0x7f000002);
    a.sin_port = htons(port);
    if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(l, 0) != 0) {
        ::close(l);
        return fds;
    }
    fds.push_back(l);
    for (int i = 0; i < 3; ++i) {
        int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        (void)::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a);
        fds.push_back(c);
    }
    std::this_thread::sleep_for(50ms);
    return fds;
}

// A blackholed first address gets its share of the budget, not all of it: the second one is
// reached in time. With only the blackholed address the client gets 0x06 at the deadline.
TEST_F(Socks5ServerTest, BlackholedFirstAddressDoesNotBurnTheConnectBudget) {
    std::uint16_t port = 0;
    int live = listen_tcp(false, &port);  // connects complete in its backlog
    auto holes = blackhole(port);
    ASSERT_EQ(holes.size(), 4u);
    using Clock = std::chrono::steady_clock;
    auto resolve = [](const std::string& host) {
        std::vector<boost::asio::ip::address> out{boost::asio::ip::make_address("127.0.0.2")};
        if (host == "two.test") out.push_back(boost::asio::ip::make_address("127.0.0.1"));
        return out;
    };
    {
        auto c = config();
        c.socks5.connect_timeout = 6s;  // 3 s for each of two addresses
        RunningServer s(c);
        ASSERT_TRUE(s.ok());
        s.server().set_resolve_for_tests(resolve);
        const auto t0 = Clock::now();
        int fd = connect_tcp(false, s.port());
        ASSERT_TRUE(negotiate(fd, "alice", "wonder land").ok);
        EXPECT_EQ(request(fd, Command::kConnect, Address::host("two.test", port)).value.code,
                  ReplyCode::kSucceeded);
        const auto took = Clock::now() - t0;
        EXPECT_GT(took, 2500ms);
        EXPECT_LT(took, 4500ms);
        ::close(fd);
    }
    {
        auto c = config();
        c.socks5.connect_timeout = 1s;
        RunningServer s(c);
        ASSERT_TRUE(s.ok());
        s.server().set_resolve_for_tests(resolve);
        EXPECT_EQ(reply_for(s.port(), Command::kConnect, Address::host("one.test", port)),
                  ReplyCode::kTtlExpired);
    }
    for (int fd : holes) ::close(fd);
    ::close(live);
}

TEST_F(Socks5ServerTest, MalformedNegotiationsAreClosed) {
    RunningServer s(config());
    ASSERT_TRUE(s.ok());
    auto expect_closed = [&](Buffer bytes, bool then_half_close) {
        int fd = connect_tcp(false, s.port());
        send_all(fd, bytes);
        if (then_half_close) ::shutdown(fd, SHUT_WR);
        EXPECT_TRUE(closed_within(fd, 2000ms));
        ::close(fd);
    };
    expect_closed({5}, true);                       // truncated greeting, then EOF
    expect_closed({5, 0}, false);                   // no methods
    expect_closed({4, 1, 0}, false);                // SOCKS4
    expect_closed({'G', 'E', 'T', ' '}, false);     // HTTP
    expect_closed({5, 1, 2, 1, 0, 1, 'p'}, false);  // zero-length user name
    expect_closed({5, 1, 2, 1, 1, 'u', 0}, false);  // zero-length password
    {
        // No method we accept: 0xFF, then closed.
        int fd = connect_tcp(false, s.port());
        send_all(fd, Buffer{5, 1, 0});
        EXPECT_EQ(read_n(fd, 2), (Buffer{5, 0xFF}));
        EXPECT_TRUE(closed_within(fd, 2000ms));
        ::close(fd);
    }
    {
        // Zero-length domain in the request.
        int fd = connect_tcp(false, s.port());
        ASSERT_TRUE(negotiate(fd, "alice", "wonder land").ok);
        send_all(fd, Buffer{5, 1, 0, 3, 0, 0, 80});
        EXPECT_TRUE(closed_within(fd, 2000ms));
        ::close(fd);
    }
    EXPECT_TRUE(eventually([&] { return s.metrics().socks5_handshake_failures.load() >= 8; }));
}

TEST_F(Socks5ServerTest, HalfCloseFlowsBothWays) {
    TcpServer echo(false, serve_echo_after_eof);
    RunningServer s(config());
    ASSERT_TRUE(s.ok());
    int fd = connect_tcp(false, s.port());
    ASSERT_TRUE(negotiate(fd, "alice", "wonder land").ok);
    auto rep = request(fd, Command::kConnect, Address::ipv4({127, 0, 0, 1}, echo.port()));
    ASSERT_EQ(rep.value.code, ReplyCode::kSucceeded);
    const std::string payload(300000, 'x');
    ASSERT_TRUE(send_all(fd, payload.data(), payload.size()));
    ::shutdown(fd, SHUT_WR);  // the destination sees EOF and only then answers
    auto back = read_n(fd, payload.size() + 1, 5000ms);
    EXPECT_EQ(back.size(), payload.size());
    EXPECT_TRUE(closed_within(fd, 2000ms));
    ::close(fd);
}

TEST_F(Socks5ServerTest, EarlyDataBehindTheRequestIsForwarded) {
    TcpServer http(false, serve_http);
    RunningServer s(config());
    ASSERT_TRUE(s.ok());
    int fd = connect_tcp(false, s.port());
    ASSERT_TRUE(negotiate(fd, "alice", "wonder land").ok);
    Buffer out;
    (void)socks5::encode_request(out, Command::kConnect,
                                 Address::ipv4({127, 0, 0, 1}, http.port()));
    const std::string get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    out.insert(out.end(), get.begin(), get.end());
    send_all(fd, out);
    auto rep = socks5::parse_reply(read_n(fd, 10));
    EXPECT_EQ(rep.value.code, ReplyCode::kSucceeded);
    auto resp = read_n(fd, 1 << 16, 3000ms);
    std::string text(resp.begin(), resp.end());
    EXPECT_NE(text.find(kBody), std::string::npos);
    ::close(fd);
}

TEST_F(Socks5ServerTest, WholeNegotiationInOneWrite) {
    TcpServer http(false, serve_http);
    RunningServer s(config());
    ASSERT_TRUE(s.ok());
    int fd = connect_tcp(false, s.port());
    Buffer out{5, 1, 2};
    (void)socks5::encode_credentials(out, "alice", "wonder land");
    (void)socks5::encode_request(out, Command::kConnect,
                                 Address::ipv4({127, 0, 0, 1}, http.port()));
    const std::string get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    out.insert(out.end(), get.begin(), get.end());
    send_all(fd, out);
    EXPECT_EQ(read_n(fd, 4), (Buffer{5, 2, 1, 0}));
    auto rep = socks5::parse_reply(read_n(fd, 10));
    EXPECT_EQ(rep.value.code, ReplyCode::kSucceeded);
    auto resp = read_n(fd, 1 << 16, 3000ms);
    EXPECT_NE(std::string(resp.begin(), resp.end()).find(kBody), std::string::npos);
    ::close(fd);
}

TEST_F(Socks5ServerTest, SlowlorisClosedByHandshakeTimeoutOthersUnaffected) {
    TcpServer http(false, serve_http);
    auto c = config();
    c.socks5.handshake_timeout = 1s;
    RunningServer s(c);
    ASSERT_TRUE(s.ok());
    std::vector<int> slow;
    for (int i = 0; i < 50; ++i) {
        int fd = connect_tcp(false, s.port());
        send_all(fd, Buffer{5});  // one byte, then nothing
        slow.push_back(fd);
    }
    const auto start = std::chrono::steady_clock::now();
    auto r = run_curl(
        "--socks5-hostname 127.0.0.1:" + std::to_string(s.port()) +
        " --proxy-user 'alice:wonder land' http://127.0.0.1:" + std::to_string(http.port()) + "/");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, kBody);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
    for (int fd : slow) {
        EXPECT_TRUE(closed_within(fd, 3000ms));
        ::close(fd);
    }
}

TEST_F(Socks5ServerTest, IdleTunnelClosed) {
    TcpServer echo(false, serve_echo_after_eof);
    auto c = config();
    c.socks5.idle_timeout = 1s;
    RunningServer s(c);
    ASSERT_TRUE(s.ok());
    int fd = connect_tcp(false, s.port());
    ASSERT_TRUE(negotiate(fd, "alice", "wonder land").ok);
    ASSERT_EQ(request(fd, Command::kConnect, Address::ipv4({127, 0, 0, 1}, echo.port())).value.code,
              ReplyCode::kSucceeded);
    EXPECT_FALSE(closed_within(fd, 500ms));
    EXPECT_TRUE(closed_within(fd, 2500ms));
    ::close(fd);
}

TEST_F(Socks5ServerTest, GlobalCapAndPerUserLimit) {
    TcpServer echo(false, serve_echo_after_eof);
    auto c = config();
    c.max_connections = 3;
    c.socks5.max_connections_per_user = 1;
    RunningServer s(c);
    ASSERT_TRUE(s.ok());
    int a = connect_tcp(false, s.port());
    ASSERT_TRUE(negotiate(a, "alice", "wonder land").ok);
    ASSERT_EQ(request(a, Command::kConnect, Address::ipv4({127, 0, 0, 1}, echo.port())).value.code,
              ReplyCode::kSucceeded);
    // The same user again: over the per-user limit.
    EXPECT_EQ(reply_for(s.port(), Command::kConnect, Address::ipv4({127, 0, 0, 1}, echo.port())),
              ReplyCode::kNotAllowed);
    std::this_thread::sleep_for(100ms);  // the refused session is gone and counted out
    int b = connect_tcp(false, s.port());
    int d = connect_tcp(false, s.port());
    ASSERT_TRUE(negotiate(b, "alice", "wonder land").ok);  // b is being served
    int over = connect_tcp(false, s.port());
    EXPECT_TRUE(closed_within(over, 2000ms));  // a, b, d hold the three slots
    EXPECT_TRUE(eventually([&] { return s.metrics().connections_over_cap.load() == 1; }));
    for (int fd : {a, b, d, over}) ::close(fd);
}

// Credentials accepted, then the client resets before the auth reply can be written: the
// session must give back exactly what it took, so the per-user gauge never goes negative and
// the per-user limit still holds afterwards.
TEST_F(Socks5ServerTest, ResetAfterCredentialsKeepsPerUserCountExact) {
    TcpServer echo(false, serve_echo_after_eof);
    auto c = config();
    c.socks5.max_connections_per_user = 1;
    RunningServer s(c);
    ASSERT_TRUE(s.ok());
    Buffer greeting, creds;
    const std::vector<socks5::Method> methods{socks5::Method::kUserPass};
    (void)socks5::encode_greeting(greeting, methods);
    (void)socks5::encode_credentials(creds, "alice", "wonder land");
    for (int i = 0; i < 50; ++i) {
        int fd = connect_tcp(false, s.port());
        ASSERT_TRUE(send_all(fd, greeting));
        ASSERT_EQ(read_n(fd, 2).size(), 2u);  // the method selection: the server waits for creds
        ASSERT_TRUE(send_all(fd, creds));
        linger l{1, 0};  // close() sends RST
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        ::close(fd);
    }
    auto alice = s.metrics().user("alice");
    EXPECT_TRUE(eventually([&] { return s.metrics().connections_open.load() == 0; }));
    EXPECT_EQ(alice->connections_open.load(), 0);
    int a = connect_tcp(false, s.port());
    ASSERT_TRUE(negotiate(a, "alice", "wonder land").ok);
    ASSERT_EQ(request(a, Command::kConnect, Address::ipv4({127, 0, 0, 1}, echo.port())).value.code,
              ReplyCode::kSucceeded);
    EXPECT_EQ(reply_for(s.port(), Command::kConnect, Address::ipv4({127, 0, 0, 1}, echo.port())),
              ReplyCode::kNotAllowed);
    ::close(a);
    EXPECT_TRUE(eventually([&] { return alice->connections_open.load() == 0; }));
}

// An open relay (no authentication) has no users to share out fairly: the per-user limit does
// not cap everyone who comes without a password.
TEST_F(Socks5ServerTest, PerUserLimitDoesNotCapNoAuthClients) {
    TcpServer echo(false, serve_echo_after_eof);
    auto c = config();
    c.socks5.allow_no_auth = true;
    c.socks5.max_connections_per_user = 1;
    RunningServer s(c);
    ASSERT_TRUE(s.ok());
    std::vector<int> fds;
    for (int i = 0; i < 3; ++i) {
        int fd = connect_tcp(false, s.port());
        ASSERT_TRUE(negotiate(fd).ok);
        EXPECT_EQ(
            request(fd, Command::kConnect, Address::ipv4({127, 0, 0, 1}, echo.port())).value.code,
            ReplyCode::kSucceeded);
        fds.push_back(fd);
    }
    for (int fd : fds) ::close(fd);
}

// Peers that vanish mid-transfer: a client resetting its connection during a download, and a
// destination hanging up during an upload. The relay's splice into such a socket fails
// (ECONNRESET, EPIPE); the relay must drop that one tunnel and go on serving.
TEST_F(Socks5ServerTest, PeersVanishingMidTransferCostOnlyTheirTunnel) {
    TcpServer flood(false, serve_flood);
    TcpServer sink(false, serve_read_then_close);
    TcpServer echo(false, serve_echo_after_eof);
    RunningServer s(config());
    ASSERT_TRUE(s.ok());
    const std::string chunk(64 * 1024, 'u');
    for (int round = 0; round < 3; ++round) {
        int fd = connect_tcp(false, s.port());
        ASSERT_TRUE(negotiate(fd, "alice", "wonder land").ok);
        ASSERT_EQ(
            request(fd, Command::kConnect, Address::ipv4({127, 0, 0, 1}, flood.port())).value.code,
            ReplyCode::kSucceeded);
        EXPECT_EQ(read_n(fd, 256 * 1024).size(), 256u * 1024);
        linger hard{1, 0};  // close with RST: the relay's next writes get ECONNRESET, EPIPE
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
        ::close(fd);

        fd = connect_tcp(false, s.port());
        ASSERT_TRUE(negotiate(fd, "alice", "wonder land").ok);
        ASSERT_EQ(
            request(fd, Command::kConnect, Address::ipv4({127, 0, 0, 1}, sink.port())).value.code,
            ReplyCode::kSucceeded);
        for (int i = 0; i < 256; ++i)  // 16 MiB, far more than the sink takes before hanging up
            if (!send_all(fd, chunk.data(), chunk.size())) break;
        ::close(fd);
    }
    int fd = connect_tcp(false, s.port());
    ASSERT_TRUE(negotiate(fd, "alice", "wonder land").ok);
    ASSERT_EQ(request(fd, Command::kConnect, Address::ipv4({127, 0, 0, 1}, echo.port())).value.code,
              ReplyCode::kSucceeded);
    ASSERT_TRUE(send_all(fd, "ping", 4));
    ::shutdown(fd, SHUT_WR);
    const auto back = read_n(fd, 4);
    EXPECT_EQ(std::string(back.begin(), back.end()), "ping");
    ::close(fd);
}

TEST_F(Socks5ServerTest, ReloadUsersKeepsOldTableOnError) {
    RunningServer s(config());
    ASSERT_TRUE(s.ok());
    std::ofstream(users_) << "bob:builder\n";
    ASSERT_TRUE(s.server().reload_users().ok());
    std::ofstream(users_) << "broken line\n";
    EXPECT_FALSE(s.server().reload_users().ok());
    EXPECT_EQ(s.server().users_file(), users_);  // for the caller's error message
    int fd = connect_tcp(false, s.port());
    EXPECT_TRUE(negotiate(fd, "bob", "builder").ok);
    ::close(fd);
    fd = connect_tcp(false, s.port());
    EXPECT_FALSE(negotiate(fd, "alice", "wonder land").ok);
    ::close(fd);
}

// UDP: a datagram through the association to an echo and back, wrapped in the header.
TEST_F(Socks5ServerTest, UdpAssociateRoundTrip) {
    int echo = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in ea{};
    ea.sin_family = AF_INET;
    ea.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(echo, reinterpret_cast<sockaddr*>(&ea), sizeof ea), 0);
    socklen_t elen = sizeof ea;
    ::getsockname(echo, reinterpret_cast<sockaddr*>(&ea), &elen);
    const std::uint16_t echo_port = ntohs(ea.sin_port);
    std::atomic<bool> stop{false};
    std::mutex relay_out_mutex;
    sockaddr_in relay_out{};  // the relay's destination-facing socket, as the echo saw it
    std::thread echo_thread([&] {
        while (!stop) {
            pollfd p{echo, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            char b[2048];
            sockaddr_in from{};
            socklen_t fl = sizeof from;
            ssize_t n = ::recvfrom(echo, b, sizeof b, 0, reinterpret_cast<sockaddr*>(&from), &fl);
            if (n > 0) {
                {
                    std::lock_guard lock(relay_out_mutex);
                    relay_out = from;
                }
                ::sendto(echo, b, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from),
                         fl);
            }
        }
    });

    RunningServer s(config());
    ASSERT_TRUE(s.ok());
    int ctl = connect_tcp(false, s.port());
    ASSERT_TRUE(negotiate(ctl, "alice", "wonder land").ok);
    auto rep = request(ctl, Command::kUdpAssociate, Address::ipv4({0, 0, 0, 0}, 0));
    ASSERT_EQ(rep.status, Status::kDone);
    ASSERT_EQ(rep.value.code, ReplyCode::kSucceeded);
    ASSERT_EQ(rep.value.bound.type, socks5::AddressType::kIpv4);

    int u = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in relay{};
    relay.sin_family = AF_INET;
    std::memcpy(&relay.sin_addr, rep.value.bound.ip.data(), 4);
    relay.sin_port = htons(rep.value.bound.port);
    ASSERT_EQ(::connect(u, reinterpret_cast<sockaddr*>(&relay), sizeof relay), 0);
    auto send_dgram = [&](const Address& to, std::uint8_t frag, const std::string& data) {
        Buffer d;
        (void)socks5::encode_udp_header(d, to);
        d[2] = frag;
        d.insert(d.end(), data.begin(), data.end());
        ::send(u, d.data(), d.size(), 0);
    };
    auto recv_dgram = [&](std::chrono::milliseconds t) {
        Buffer b(2048);
        pollfd p{u, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(t.count())) <= 0) return Buffer{};
        ssize_t n = ::recv(u, b.data(), b.size(), 0);
        b.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
        return b;
    };
    const auto echo_addr = Address::ipv4({127, 0, 0, 1}, echo_port);
    // Dropped: a fragment, and a destination the policy denies. Then a good one comes back.
    send_dgram(echo_addr, 1, "fragment");
    const auto denied_before = s.metrics().socks5_denied.load();
    send_dgram(Address::ipv4({10, 0, 0, 1}, 53), 0, "denied");
    send_dgram(echo_addr, 0, "ping over udp");
    auto back = recv_dgram(2000ms);
    auto d = socks5::parse_udp_datagram(back);
    ASSERT_EQ(d.status, Status::kDone);
    EXPECT_EQ(d.value.destination, echo_addr);  // the reply names its source
    EXPECT_EQ(std::string(d.value.data.begin(), d.value.data.end()), "ping over udp");
    EXPECT_TRUE(recv_dgram(200ms).empty());  // nothing for the dropped ones
    // A datagram to the relay's destination-facing socket from a host the client never sent
    // to is not passed back to the client.
    {
        sockaddr_in to;
        {
            std::lock_guard lock(relay_out_mutex);
            to = relay_out;
        }
        int stranger = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        const char junk[] = "unsolicited";
        ::sendto(stranger, junk, sizeof junk, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
        EXPECT_TRUE(recv_dgram(300ms).empty());
        ::close(stranger);
    }
    EXPECT_TRUE(eventually([&] { return s.metrics().socks5_udp_datagrams.load() >= 2; }));
    EXPECT_EQ(s.metrics().socks5_denied.load(), denied_before + 1);

    // The association ends with its control connection.
    ::close(ctl);
    std::this_thread::sleep_for(200ms);
    send_dgram(echo_addr, 0, "after close");
    EXPECT_TRUE(recv_dgram(300ms).empty());
    ::close(u);
    stop = true;
    echo_thread.join();
    ::close(echo);
}

// An association nobody uses ends after idle_timeout, and its control connection with it.
TEST_F(Socks5ServerTest, IdleUdpAssociationClosed) {
    auto c = config();
    c.socks5.idle_timeout = 1s;
    RunningServer s(c);
    ASSERT_TRUE(s.ok());
    int ctl = connect_tcp(false, s.port());
    ASSERT_TRUE(negotiate(ctl, "alice", "wonder land").ok);
    auto rep = request(ctl, Command::kUdpAssociate, Address::ipv4({0, 0, 0, 0}, 0));
    ASSERT_EQ(rep.value.code, ReplyCode::kSucceeded);
    EXPECT_FALSE(closed_within(ctl, 500ms));
    EXPECT_TRUE(closed_within(ctl, 2000ms));
    ::close(ctl);
    EXPECT_TRUE(eventually([&] { return s.metrics().connections_open.load() == 0; }));
}

}  // namespace
}  // namespace pp::relay::test

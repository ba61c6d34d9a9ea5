// WsClient::connect_racing against real parts on loopback: the net test server as the home
// server, stalled and refusing listeners, a server with another certificate, the real microsocks
// and tinyproxy binaries, and an in-process paperplane relay.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "net/tls.hpp"
#include "net/ws_client.hpp"
#include "relay/relay_server.hpp"
#include "tests/net/test_server.hpp"

namespace pp::net {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::chrono::milliseconds since(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t);
}

Route direct(std::uint16_t port, std::string host = "127.0.0.1") {
    Route r;
    r.kind = RouteKind::kDirect;
    r.host = std::move(host);
    r.port = port;
    return r;
}

Route proxy(RouteKind kind, std::uint16_t port, std::string user = "", std::string pass = "") {
    Route r;
    r.kind = kind;
    r.host = "127.0.0.1";
    r.port = port;
    r.username = std::move(user);
    r.password = std::move(pass);
    return r;
}

// Loopback ports that behave badly. The io_context is never run: the kernel alone answers.
struct BadPorts {
    asio::io_context io;
    // Listening, so TCP connects succeed, but nothing is ever read or written: a stalled route.
    tcp::acceptor stalled{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
    // Bound but not listening, so connecting is refused (and nobody else gets the port).
    tcp::acceptor dead{io};
    BadPorts() {
        dead.open(tcp::v4());
        dead.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    }
    std::uint16_t stalled_port() const { return stalled.local_endpoint().port(); }
    std::uint16_t dead_port() const { return dead.local_endpoint().port(); }
};

// A port free right now, for programs that cannot take port 0.
std::uint16_t free_port() {
    asio::io_context io;
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    return a.local_endpoint().port();
}

bool wait_listening(std::uint16_t port, std::chrono::milliseconds limit = 5s) {
    const auto until = Clock::now() + limit;
    while (Clock::now() < until) {
        asio::io_context io;
        tcp::socket s(io);
        boost::system::error_code ec;
        s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
        if (!ec) return true;
        std::this_thread::sleep_for(20ms);
    }
    return false;
}

// A program run for one test, its output discarded; SIGTERM and reaped at the end.
class Child {
  public:
    explicit Child(std::vector<std::string> argv) {
        pid_ = ::fork();
        if (pid_ == 0) {
            FILE* null = std::fopen("/dev/null", "w");
            if (null != nullptr) {
                ::dup2(::fileno(null), 1);
                ::dup2(::fileno(null), 2);
            }
            std::vector<char*> args;
            for (auto& a : argv) args.push_back(a.data());
            args.push_back(nullptr);
            ::execvp(args[0], args.data());
            ::_exit(127);
        }
    }
    ~Child() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
    bool started() const { return pid_ > 0; }

  private:
    pid_t pid_ = -1;
};

std::size_t won_count(const std::vector<AttemptReport>& reports) {
    std::size_t n = 0;
    for (const auto& r : reports) n += r.won ? 1 : 0;
    return n;
}

// The connection is the real one: a message goes to the home server and its echo comes back.
void expect_echo(WsClient& c) {
    const Bytes hello{'h', 'i'};
    ASSERT_TRUE(c.send(hello));
    auto back = c.receive(5s);
    ASSERT_TRUE(back) << back.error().detail;
    EXPECT_EQ(*back, hello);
}

class NetRouteRace : public ::testing::Test {
  protected:
    ServerTarget home(std::string host = "127.0.0.1") const {
        return ServerTarget{std::move(host), ts_.port(), ts_.pin()};
    }
    test::TestServer ts_;
    BadPorts bad_;
};

TEST_F(NetRouteRace, DirectRouteWins) {
    std::vector<AttemptReport> rep;
    auto c = WsClient::connect_racing({direct(ts_.port())}, home(), RaceOptions{}, {}, &rep);
    ASSERT_TRUE(c) << c.error().detail;
    EXPECT_EQ(c->winner(), 0u);
    ASSERT_EQ(rep.size(), 1u);
    EXPECT_TRUE(rep[0].started);
    EXPECT_TRUE(rep[0].won);
    EXPECT_FALSE(rep[0].cancelled);
    expect_echo(*c);
}

TEST_F(NetRouteRace, StalledFirstRouteLosesToTheNextAfterOneStagger) {
    RaceOptions opt;
    opt.stagger = 300ms;
    std::vector<AttemptReport> rep;
    const auto t0 = Clock::now();
    auto c = WsClient::connect_racing({direct(bad_.stalled_port()), direct(ts_.port())}, home(),
                                      opt, {}, &rep);
    const auto took = since(t0);
    ASSERT_TRUE(c) << c.error().detail;
    EXPECT_EQ(c->winner(), 1u);
    EXPECT_GE(took, 280ms);
    EXPECT_LT(took, 3000ms);
    ASSERT_EQ(rep.size(), 2u);
    EXPECT_TRUE(rep[0].started);
    EXPECT_FALSE(rep[0].won);
    EXPECT_TRUE(rep[0].cancelled);
    EXPECT_EQ(rep[0].error.detail, "cancelled: another route won");
    EXPECT_GE(rep[0].elapsed, 280ms);
    EXPECT_TRUE(rep[1].won);
    EXPECT_EQ(won_count(rep), 1u);
    std::printf("stalled first: winner after %lld ms (route 1 itself %lld ms)\n",
                static_cast<long long>(took.count()),
                static_cast<long long>(rep[1].elapsed.count()));
    expect_echo(*c);
}

// Losers cancelled in the middle of each kind of handshake (a proxy that never answers its
// greeting, a "relay" that never answers TLS) end cleanly while the winner is in use.
TEST_F(NetRouteRace, LosersStalledInProxyAndRelayHandshakesAreCancelledSafely) {
    Route relay;
    relay.kind = RouteKind::kRelay;
    relay.relay.host = "127.0.0.1";
    relay.relay.port = bad_.stalled_port();
    relay.relay.pin = std::string(64, 'b');
    RaceOptions opt;
    opt.stagger = 150ms;
    std::vector<AttemptReport> rep;
    const auto t0 = Clock::now();
    auto c = WsClient::connect_racing(
        {proxy(RouteKind::kSocks5, bad_.stalled_port()),
         proxy(RouteKind::kHttpConnect, bad_.stalled_port()), relay, direct(ts_.port())},
        home(), opt, {}, &rep);
    const auto took = since(t0);
    ASSERT_TRUE(c) << c.error().detail;
    EXPECT_EQ(c->winner(), 3u);
    EXPECT_GE(took, 3 * 150ms - 20ms);
    EXPECT_LT(took, 3000ms);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_TRUE(rep[i].cancelled) << i;
        EXPECT_EQ(rep[i].error.detail, "cancelled: another route won") << i;
    }
    // Running the client's io_context lets the cancelled attempts finish; then it goes away.
    expect_echo(*c);
    expect_echo(*c);
    c->close();
}

TEST_F(NetRouteRace, RefusedFirstRouteStartsTheNextAtOnce) {
    RaceOptions opt;
    opt.stagger = 3000ms;
    std::vector<AttemptReport> rep;
    const auto t0 = Clock::now();
    auto c = WsClient::connect_racing({direct(bad_.dead_port()), direct(ts_.port())}, home(), opt,
                                      {}, &rep);
    const auto took = since(t0);
    ASSERT_TRUE(c) << c.error().detail;
    EXPECT_EQ(c->winner(), 1u);
    EXPECT_LT(took, 1500ms);  // far less than the 3 s stagger
    EXPECT_FALSE(rep[0].won);
    EXPECT_FALSE(rep[0].cancelled);
    EXPECT_NE(rep[0].error.code, ErrorCode::kUntrustedIdentity);
    EXPECT_TRUE(rep[1].won);
    std::printf("refused first: winner after %lld ms\n", static_cast<long long>(took.count()));
}

// A server with a certificate of its own: what a hostile proxy, relay or DNS answer leads to.
struct OtherServer {
    test::TempDir dir;
    test::RecordingHandler handler;
    std::optional<TlsIdentity> id;
    std::unique_ptr<Server> server;
    OtherServer() {
        auto made = load_or_create_self_signed(dir.path());
        EXPECT_TRUE(made);
        id.emplace(*made);
        server = std::make_unique<Server>(ServerOptions{}, *id, handler,
                                          [](std::string_view) -> HttpReply {
                                              return {404, "", ""};
                                          });
        EXPECT_TRUE(server->start());
    }
    ~OtherServer() { server->shutdown(); }
};

TEST_F(NetRouteRace, OtherCertificateIsRefusedAndNeverUsedWhileAGoodRouteWins) {
    OtherServer impostor;
    RaceOptions opt;
    opt.stagger = 2000ms;
    std::vector<AttemptReport> rep;
    const auto t0 = Clock::now();
    auto c = WsClient::connect_racing({direct(impostor.server->port()), direct(ts_.port())}, home(),
                                      opt, {}, &rep);
    const auto took = since(t0);
    ASSERT_TRUE(c) << c.error().detail;
    EXPECT_EQ(c->winner(), 1u);
    EXPECT_LT(took, 1500ms);  // the impostor failed fast, so the next route did not wait
    EXPECT_EQ(rep[0].error.code, ErrorCode::kUntrustedIdentity);
    EXPECT_FALSE(rep[0].won);
    EXPECT_EQ(impostor.handler.opened(), 0u);  // no WebSocket ever opened there
    expect_echo(*c);
}

TEST_F(NetRouteRace, AllRoutesBadGivesTheMostTellingError) {
    OtherServer impostor;
    RaceOptions opt;
    opt.stagger = 100ms;
    opt.attempt_timeout = 600ms;
    std::vector<AttemptReport> rep;
    const auto t0 = Clock::now();
    auto c = WsClient::connect_racing(
        {direct(bad_.dead_port()), direct(bad_.stalled_port()), direct(impostor.server->port())},
        home(), opt, {}, &rep);
    const auto took = since(t0);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code, ErrorCode::kUntrustedIdentity);
    ASSERT_EQ(rep.size(), 3u);
    for (const auto& r : rep) {
        EXPECT_TRUE(r.started);
        EXPECT_FALSE(r.won);
    }
    EXPECT_EQ(rep[1].error.code, ErrorCode::kLimitExceeded);
    EXPECT_EQ(rep[1].error.detail, "timed out");
    EXPECT_EQ(rep[2].error.code, ErrorCode::kUntrustedIdentity);
    EXPECT_GE(took, 550ms);  // waited for the stalled route's own timeout
    EXPECT_LT(took, 3000ms);

    // Without an impostor the first real error wins over a timeout.
    auto c2 = WsClient::connect_racing({direct(bad_.stalled_port()), direct(bad_.dead_port())},
                                       home(), opt, {}, &rep);
    ASSERT_FALSE(c2);
    EXPECT_NE(c2.error().code, ErrorCode::kUntrustedIdentity);
    EXPECT_NE(c2.error().detail, "timed out");
    EXPECT_EQ(rep[0].error.detail, "timed out");

    // Only stalls: the race's own timeout.
    opt.attempt_timeout = 5000ms;
    opt.timeout = 400ms;
    const auto t1 = Clock::now();
    auto c3 = WsClient::connect_racing({direct(bad_.stalled_port())}, home(), opt, {}, &rep);
    ASSERT_FALSE(c3);
    EXPECT_EQ(c3.error().code, ErrorCode::kLimitExceeded);
    EXPECT_LT(since(t1), 2000ms);
    EXPECT_TRUE(rep[0].cancelled);  // cut short by the race, before its own 5 s were up
    EXPECT_EQ(rep[0].error.detail, "timed out");

    // No routes at all.
    auto c4 = WsClient::connect_racing({}, home(), opt, {}, &rep);
    ASSERT_FALSE(c4);
    EXPECT_EQ(c4.error().code, ErrorCode::kMalformed);
    EXPECT_TRUE(rep.empty());
}

TEST_F(NetRouteRace, Socks5ThroughMicrosocksResolvesTheServerName) {
    const std::uint16_t port = free_port();
    Child microsocks({"microsocks", "-i", "127.0.0.1", "-p", std::to_string(port), "-u", "alice",
                      "-P", "correct horse"});
    ASSERT_TRUE(microsocks.started());
    ASSERT_TRUE(wait_listening(port));

    std::vector<AttemptReport> rep;
    // "localhost" goes to the proxy as a name (ATYP 3): the proxy resolves it.
    auto c = WsClient::connect_racing({proxy(RouteKind::kSocks5, port, "alice", "correct horse")},
                                      home("localhost"), RaceOptions{}, {}, &rep);
    ASSERT_TRUE(c) << to_string(c.error().code) << ": " << c.error().detail;
    EXPECT_EQ(c->winner(), 0u);
    expect_echo(*c);

    auto wrong = WsClient::connect_racing({proxy(RouteKind::kSocks5, port, "alice", "wrong")},
                                          home("localhost"), RaceOptions{}, {}, &rep);
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error().code, ErrorCode::kLimitExceeded);
    EXPECT_EQ(wrong.error().detail, "socks5: proxy refused the credentials");

    auto none = WsClient::connect_racing({proxy(RouteKind::kSocks5, port)}, home("localhost"),
                                         RaceOptions{}, {}, &rep);
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().code, ErrorCode::kLimitExceeded);
    EXPECT_EQ(none.error().detail, "socks5: proxy requires a username and password");

    // The wrong password first, the right one second: the second wins without waiting.
    RaceOptions opt;
    opt.stagger = 3000ms;
    const auto t0 = Clock::now();
    auto both =
        WsClient::connect_racing({proxy(RouteKind::kSocks5, port, "alice", "wrong"),
                                  proxy(RouteKind::kSocks5, port, "alice", "correct horse")},
                                 home("localhost"), opt, {}, &rep);
    ASSERT_TRUE(both) << both.error().detail;
    EXPECT_EQ(both->winner(), 1u);
    EXPECT_LT(since(t0), 1500ms);
}

TEST_F(NetRouteRace, HttpConnectThroughTinyproxy) {
    test::TempDir dir;
    const std::uint16_t port = free_port();
    const auto conf = dir.path() / "tinyproxy.conf";
    {
        std::ofstream f(conf);
        f << "Port " << port << "\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\n"
          << "MaxClients 20\nLogLevel Critical\nBasicAuth bob open-sesame\n";
        // As root it would switch to this user after binding; stay as whoever runs the test.
        if (::getuid() == 0) f << "User nobody\nGroup nogroup\n";
    }
    Child tinyproxy({"tinyproxy", "-d", "-c", conf.string()});
    ASSERT_TRUE(tinyproxy.started());
    ASSERT_TRUE(wait_listening(port));

    std::vector<AttemptReport> rep;
    auto c = WsClient::connect_racing({proxy(RouteKind::kHttpConnect, port, "bob", "open-sesame")},
                                      home("localhost"), RaceOptions{}, {}, &rep);
    ASSERT_TRUE(c) << to_string(c.error().code) << ": " << c.error().detail;
    EXPECT_EQ(c->winner(), 0u);
    expect_echo(*c);

    auto wrong = WsClient::connect_racing({proxy(RouteKind::kHttpConnect, port, "bob", "nope")},
                                          home("localhost"), RaceOptions{}, {}, &rep);
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error().code, ErrorCode::kLimitExceeded);
    EXPECT_EQ(wrong.error().detail, "http proxy: authentication required or refused");

    auto none = WsClient::connect_racing({proxy(RouteKind::kHttpConnect, port)}, home("localhost"),
                                         RaceOptions{}, {}, &rep);
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().code, ErrorCode::kLimitExceeded);

    // To a port where nothing listens: the proxy says so, and that is not the server's fault.
    auto nowhere = WsClient::connect_racing(
        {proxy(RouteKind::kHttpConnect, port, "bob", "open-sesame")},
        ServerTarget{"127.0.0.1", bad_.dead_port(), ts_.pin()}, RaceOptions{}, {}, &rep);
    ASSERT_FALSE(nowhere);
    EXPECT_EQ(nowhere.error().code, ErrorCode::kNoSession);
    EXPECT_EQ(nowhere.error().detail, "http proxy: refused the tunnel");
}

// paperplane-relay's relay mode, in process, relaying to the test server.
class NetRouteRaceRelay : public NetRouteRace {
  protected:
    void SetUp() override {
        config_.data_dir = (dir_.path() / "relay").string();
        config_.public_host = "relay.example.org";
        config_.relay.enabled = true;
        config_.relay.listen = "127.0.0.1:0";
        config_.relay.upstreams = {"127.0.0.1:" + std::to_string(ts_.port())};
        config_.relay.handshake_timeout = std::chrono::seconds(5);
        relay_ = std::make_unique<relay::RelayServer>(io_, config_, metrics_);
        auto started = relay_->start();
        ASSERT_TRUE(started) << started.error().detail;
        thread_ = std::thread([this] { io_.run(); });
    }
    void TearDown() override {
        if (relay_) relay_->stop();
        io_.stop();
        if (thread_.joinable()) thread_.join();
        relay_.reset();
    }
    Route relay_route() const {
        Route r;
        r.kind = RouteKind::kRelay;
        r.relay.host = "127.0.0.1";
        r.relay.port = relay_->port();
        r.relay.pin = relay_->certificate_pin();
        r.relay.secret = wire::relay::LinkSecret(relay_->link_secret());
        return r;
    }

    test::TempDir dir_;
    relay::Metrics metrics_;  // outlives the io_context: connections count in it to the end
    asio::io_context io_;
    relay::Config config_;
    std::unique_ptr<relay::RelayServer> relay_;
    std::thread thread_;
};

TEST_F(NetRouteRaceRelay, RelayRouteReachesTheHomeServer) {
    RaceOptions opt;
    opt.stagger = 200ms;
    std::vector<AttemptReport> rep;
    // A stalled direct endpoint first, as when the server's address is blocked.
    auto c = WsClient::connect_racing({direct(bad_.stalled_port()), relay_route()}, home(), opt, {},
                                      &rep);
    ASSERT_TRUE(c) << to_string(c.error().code) << ": " << c.error().detail;
    EXPECT_EQ(c->winner(), 1u);
    EXPECT_TRUE(rep[0].cancelled);
    expect_echo(*c);
    c->close();

    // The relay with a wrong secret is not a relay to us (it shows its decoy website).
    Route wrong = relay_route();
    wrong.relay.secret = wire::relay::LinkSecret();
    auto w = WsClient::connect_racing({wrong}, home(), opt, {}, &rep);
    ASSERT_FALSE(w);
    EXPECT_EQ(w.error().code, ErrorCode::kMalformed);

    // The relay is honest but the home server's pin is not the one we hold: the inner TLS,
    // end to end, refuses it.
    ServerTarget other = home();
    other.pin = std::string(64, 'a');
    auto p = WsClient::connect_racing({relay_route()}, other, opt, {}, &rep);
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().code, ErrorCode::kUntrustedIdentity);
}

}  // namespace
}  // namespace pp::net

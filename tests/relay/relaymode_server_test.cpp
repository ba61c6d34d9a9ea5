// The relay mode end to end on loopback: a real RelayServer on an ephemeral port, a TLS echo
// server as the home server, and probers of every kind. Each test runs twice: with the built-in
// decoy site and with an upstream decoy (a tiny HTTP server that records what reaches it).
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "base/unix_time.hpp"
#include "crypto/random.hpp"
#include "net/relay_client.hpp"
#include "net/tls.hpp"
#include "net/tls_impl.hpp"
#include "relay/relay_server.hpp"
#include "wire/relay_auth.hpp"

namespace pp::relay {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
namespace rw = wire::relay;

std::string make_temp_dir() {
    char tmpl[] = "/tmp/pp-relaymode-XXXXXX";
    const char* d = ::mkdtemp(tmpl);
    return d != nullptr ? std::string(d) : std::string();
}

std::string to_string(const std::vector<std::uint8_t>& b) {
    return {b.begin(), b.end()};
}

// What relay_connect returned, in a form a future can carry.
struct Outcome {
    bool ok = false;
    ErrorCode code = ErrorCode::kInternal;
    std::string detail;
};

asio::awaitable<Outcome> connect_outcome(net::RelayEndpoint e, std::string target) {
    auto r = co_await net::relay_connect(e, std::move(target), std::chrono::seconds(5));
    if (r) co_return Outcome{true, ErrorCode::kInternal, ""};
    co_return Outcome{false, r.error().code, std::string(r.error().detail)};
}

// The home server: TLS echo, its own self-signed identity.
asio::awaitable<void> echo_session(asio::ssl::stream<tcp::socket> s) {
    auto [hec] = co_await s.async_handshake(asio::ssl::stream_base::server, kTok);
    if (hec) co_return;
    std::array<std::uint8_t, 8192> buf{};
    for (;;) {
        auto [rec, n] = co_await s.async_read_some(asio::buffer(buf), kTok);
        if (rec) {
            // Answer close_notify with ours; after a bare TCP close (the relay passing on a
            // client that just left) there is nobody to tell, and Asio's shutdown would wait.
            if (rec == asio::error::eof) co_await s.async_shutdown(kTok);
            co_return;
        }
        auto [wec, wn] = co_await asio::async_write(s, asio::buffer(buf.data(), n), kTok);
        if (wec) co_return;
    }
}

asio::awaitable<void> echo_accept(tcp::acceptor& acc, asio::ssl::context& ctx) {
    for (;;) {
        auto [ec, sock] = co_await acc.async_accept(kTok);
        if (ec) co_return;
        asio::co_spawn(acc.get_executor(),
                       echo_session(asio::ssl::stream<tcp::socket>(std::move(sock), ctx)),
                       asio::detached);
    }
}

// The upstream decoy: records the first bytes it receives and answers with its own page.
struct DecoyUpstream {
    std::mutex mutex;
    std::vector<std::string> received;

    std::vector<std::string> seen() {
        std::lock_guard lock(mutex);
        return received;
    }
};

asio::awaitable<void> decoy_session(tcp::socket s, DecoyUpstream& rec) {
    std::array<char, 4096> buf{};
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), kTok);
    if (ec) co_return;
    {
        std::lock_guard lock(rec.mutex);
        rec.received.emplace_back(buf.data(), n);
    }
    static constexpr std::string_view kReply =
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
        "Connection: close\r\n\r\nupstream-ok\n";
    co_await asio::async_write(s, asio::buffer(kReply), kTok);
    error_code ignored;
    s.shutdown(tcp::socket::shutdown_send, ignored);
    // Drain until the relay closes its side.
    for (;;) {
        auto [rec2, n2] = co_await s.async_read_some(asio::buffer(buf), kTok);
        if (rec2) break;
    }
}

asio::awaitable<void> decoy_accept(tcp::acceptor& acc, DecoyUpstream& rec) {
    for (;;) {
        auto [ec, sock] = co_await acc.async_accept(kTok);
        if (ec) co_return;
        asio::co_spawn(acc.get_executor(), decoy_session(std::move(sock), rec), asio::detached);
    }
}

// The relay's certificate is RSA-2048 (snakeoil shape), slow to generate under sanitizers:
// made once per process, then copied into each test's data dir, where the relay loads it.
const std::filesystem::path& shared_relay_certificate_dir() {
    struct Dir {
        std::filesystem::path path;
        Dir() : path(make_temp_dir()) {
            Config c;
            c.data_dir = path.string();
            c.public_host = "www.example.org";
            EXPECT_TRUE(load_or_create_relay_identity(c));
            std::filesystem::remove(path / kLinkSecretFile);  // each test gets its own secret
        }
        ~Dir() {
            std::error_code ec;
            std::filesystem::remove_all(path, ec);
        }
    };
    static const Dir dir;
    return dir.path;
}

class RelayModeTest : public ::testing::TestWithParam<bool> {
  protected:
    bool upstream_decoy() const { return GetParam(); }
    // Lets a derived fixture change the relay's settings before it starts.
    virtual void adjust(Config&) {}

    void SetUp() override {
        dir_ = make_temp_dir();
        ASSERT_FALSE(dir_.empty());
        auto echo_id = net::load_or_create_self_signed(dir_ + "/echo");
        ASSERT_TRUE(echo_id);
        echo_identity_.emplace(*echo_id);
        echo_acc_.emplace(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        decoy_acc_.emplace(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        // A port nothing listens on: bound (so no one else gets it) but never listening, so
        // connecting to it is refused.
        dead_.emplace(io_);
        dead_->open(tcp::v4());
        dead_->bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        dead_port_ = dead_->local_endpoint().port();
        echo_target_ = "127.0.0.1:" + std::to_string(echo_acc_->local_endpoint().port());
        config_.data_dir = dir_ + "/relay";
        config_.public_host = "www.example.org";
        config_.relay.enabled = true;
        config_.relay.listen = "127.0.0.1:0";
        config_.relay.upstreams = {echo_target_, "127.0.0.1:" + std::to_string(dead_port_)};
        config_.relay.handshake_timeout = std::chrono::seconds(1);
        config_.relay.idle_timeout = std::chrono::seconds(5);
        config_.relay.decoy_keepalive_timeout = std::chrono::seconds(2);
        adjust(config_);
        if (upstream_decoy()) {
            config_.relay.decoy =
                "127.0.0.1:" + std::to_string(decoy_acc_->local_endpoint().port());
        }
        std::filesystem::create_directories(config_.data_dir);
        for (const auto& e : std::filesystem::directory_iterator(shared_relay_certificate_dir())) {
            std::filesystem::copy(e.path(),
                                  std::filesystem::path(config_.data_dir) / e.path().filename());
        }
        relay_ = std::make_unique<RelayServer>(io_, config_, metrics_);
        auto started = relay_->start();
        ASSERT_TRUE(started) << started.error().detail;
        asio::co_spawn(io_, echo_accept(*echo_acc_, echo_identity_->impl().ctx), asio::detached);
        asio::co_spawn(io_, decoy_accept(*decoy_acc_, decoy_), asio::detached);
        for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
    }

    void TearDown() override {
        if (relay_) relay_->stop();
        work_.reset();
        io_.stop();
        for (auto& t : threads_) t.join();
        relay_.reset();
        std::error_code ec;
        if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
    }

    // Runs a coroutine on the io threads and waits for its result (bounded).
    template <typename T>
    T run(asio::awaitable<T> aw, std::chrono::seconds limit = std::chrono::seconds(15)) {
        auto fut = asio::co_spawn(io_, std::move(aw), asio::use_future);
        if (fut.wait_for(limit) != std::future_status::ready) {
            ADD_FAILURE() << "timed out";
            std::abort();  // the coroutine still references this fixture
        }
        return fut.get();
    }

    net::RelayEndpoint endpoint(bool right_secret = true) const {
        net::RelayEndpoint e;
        e.host = "127.0.0.1";
        e.port = relay_->port();
        e.pin = relay_->certificate_pin();
        if (right_secret) {
            e.secret = rw::LinkSecret(relay_->link_secret());
        } else {
            crypto::random_bytes(e.secret.span());
        }
        return e;
    }

    // An outer TLS connection as a prober makes it (any certificate accepted), sending `first`
    // as its first record; returns everything the relay sends back until it closes.
    // `stop_after` > 0: returns once that many bytes arrived instead of waiting for the close.
    std::string tls_probe(const std::string& first, std::size_t stop_after = 0) {
        return tls_probe([first](SSL*) { return first; }, stop_after);
    }
    // The same with a first record made inside the probe's TLS session (an authenticator's MAC
    // covers the session's exporter value); `sent` (may be null) receives it.
    using FirstRecord = std::function<std::string(SSL*)>;
    std::string tls_probe(FirstRecord make, std::size_t stop_after = 0,
                          std::string* sent = nullptr) {
        return run(tls_probe_co(std::move(make), stop_after, sent));
    }
    asio::awaitable<std::string> tls_probe_co(FirstRecord make, std::size_t stop_after,
                                              std::string* sent) {
        asio::ssl::context ctx(asio::ssl::context::tls_client);
        ctx.set_verify_mode(asio::ssl::verify_none);
        asio::ssl::stream<tcp::socket> s(co_await asio::this_coro::executor, ctx);
        auto [cec] = co_await s.next_layer().async_connect(relay_endpoint(), kTok);
        if (cec) co_return "connect failed";
        auto [hec] = co_await s.async_handshake(asio::ssl::stream_base::client, kTok);
        if (hec) co_return "handshake failed";
        const std::string first = make(s.native_handle());
        if (sent != nullptr) *sent = first;
        co_await s.async_write_some(asio::buffer(first), kTok);
        std::string got;
        std::array<char, 4096> buf{};
        for (;;) {
            auto [rec, n] = co_await s.async_read_some(asio::buffer(buf), kTok);
            got.append(buf.data(), n);
            if (rec || (stop_after != 0 && got.size() >= stop_after)) break;
        }
        co_return got;
    }

    // The same without TLS.
    std::string raw_probe(const std::string& bytes) { return run(raw_probe_co(bytes)); }
    asio::awaitable<std::string> raw_probe_co(std::string bytes) {
        tcp::socket s(co_await asio::this_coro::executor);
        auto [cec] = co_await s.async_connect(relay_endpoint(), kTok);
        if (cec) co_return "connect failed";
        co_await asio::async_write(s, asio::buffer(bytes), kTok);
        std::string got;
        std::array<char, 4096> buf{};
        for (;;) {
            auto [rec, n] = co_await s.async_read_some(asio::buffer(buf), kTok);
            got.append(buf.data(), n);
            if (rec) break;
        }
        co_return got;
    }

    // `answer` with its Date header line removed, for byte comparisons.
    static std::string without_date(std::string answer) {
        const auto at = answer.find("\r\nDate: ");
        if (at == std::string::npos) return answer;
        const auto end = answer.find("\r\n", at + 2);
        answer.erase(at, end - at);
        return answer;
    }

    // Runs real curl against the relay and checks it got the decoy's page.
    void curl_decoy(const std::string& tls_flags);

    // Waits (bounded) until the relay has let go of every connection.
    bool all_connections_closed(std::chrono::seconds limit = std::chrono::seconds(3)) {
        const auto until = std::chrono::steady_clock::now() + limit;
        while (metrics_.connections_open.load() != 0) {
            if (std::chrono::steady_clock::now() >= until) return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return true;
    }

    tcp::endpoint relay_endpoint() const {
        return {asio::ip::make_address("127.0.0.1"), relay_->port()};
    }

    // An authenticator for the probe's own TLS session, under `secret` (default: the relay's).
    FirstRecord authenticator(const std::string& target, std::uint64_t t = 0,
                              std::optional<rw::LinkSecret> secret = std::nullopt) const {
        const rw::AuthKey key(secret ? *secret : rw::LinkSecret(relay_->link_secret()));
        return [key, target, t](SSL* ssl) {
            rw::Nonce nonce;
            crypto::random_bytes(nonce);
            auto binding = net::relay_session_binding(ssl);
            EXPECT_TRUE(binding);
            if (!binding) return std::string();
            auto a = rw::encode_authenticator(key, *binding, t != 0 ? t : unix_seconds_now(), nonce,
                                              target);
            EXPECT_TRUE(a);
            return a ? to_string(*a) : std::string();
        };
    }

    // What the decoy answered, as the prober sees it.
    void expect_decoy(const std::string& answer, const std::string& sent, bool bad_request) {
        if (upstream_decoy()) {
            EXPECT_NE(answer.find("upstream-ok"), std::string::npos) << answer;
            const auto seen = decoy_.seen();
            ASSERT_FALSE(seen.empty());
            // Untouched: byte for byte what the prober sent.
            EXPECT_EQ(seen.back(), sent);
        } else if (bad_request) {
            EXPECT_EQ(answer.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << answer;
            EXPECT_NE(answer.find("Server: nginx"), std::string::npos);
        } else {
            EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << answer;
            EXPECT_NE(answer.find("<title>Welcome to nginx!</title>"), std::string::npos);
        }
    }

    asio::io_context io_{2};
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
        io_.get_executor()};
    std::vector<std::thread> threads_;
    std::string dir_;
    std::optional<net::TlsIdentity> echo_identity_;
    std::optional<tcp::acceptor> echo_acc_, decoy_acc_;
    std::optional<tcp::socket> dead_;
    std::uint16_t dead_port_ = 0;
    std::string echo_target_;
    DecoyUpstream decoy_;
    Config config_;
    Metrics metrics_;
    std::unique_ptr<RelayServer> relay_;
};

// The inner TLS session to the home server, through the tunnel: pinned to the echo server's
// certificate, so a relay that read or changed the bytes would break it.
asio::awaitable<std::string> inner_echo(net::RelayTunnel& tunnel, std::string echo_pin,
                                        std::size_t size) {
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.set_verify_mode(asio::ssl::verify_none);
    asio::ssl::stream<net::RelayTunnel&> inner(tunnel, ctx);
    auto [hec] = co_await inner.async_handshake(asio::ssl::stream_base::client, kTok);
    if (hec) co_return "inner handshake: " + hec.message();
    X509* peer = SSL_get1_peer_certificate(inner.native_handle());
    if (peer == nullptr) co_return "no peer certificate";
    const int len = i2d_X509(peer, nullptr);
    Bytes der(static_cast<std::size_t>(len));
    unsigned char* p = der.data();
    i2d_X509(peer, &p);
    X509_free(peer);
    if (net::certificate_fingerprint_sha256(der) != echo_pin) co_return "inner pin mismatch";
    std::string payload(size, '\0');
    for (std::size_t i = 0; i < size; ++i) payload[i] = static_cast<char>('a' + (i * 7) % 26);
    auto [wec, wn] = co_await asio::async_write(inner, asio::buffer(payload), kTok);
    if (wec) co_return "inner write: " + wec.message();
    std::string back(size, '\0');
    auto [rec, rn] = co_await asio::async_read(inner, asio::buffer(back), kTok);
    if (rec) co_return "inner read: " + rec.message();
    co_return back == payload ? "ok" : "echo differs";
}

TEST_P(RelayModeTest, ValidClientReachesHomeServerWithEndToEndTls) {
    const auto pin = echo_identity_->fingerprint_sha256();
    const std::string result = run([&]() -> asio::awaitable<std::string> {
        auto tunnel =
            co_await net::relay_connect(endpoint(), echo_target_, std::chrono::seconds(5));
        if (!tunnel) co_return std::string("relay_connect: ") + std::string(tunnel.error().detail);
        co_return co_await inner_echo(*tunnel, pin, 200 * 1024);
    }());
    EXPECT_EQ(result, "ok");
    EXPECT_EQ(metrics_.relay_authenticated.load(), 1u);
    EXPECT_EQ(metrics_.relay_decoy.load(), 0u);
    // The relay counts a chunk after its write completes, which may be after the client read
    // it: the totals are final only once the relay let go of the connection.
    EXPECT_TRUE(all_connections_closed());
    EXPECT_GE(metrics_.relay_bytes_up.load(), 200u * 1024);
    EXPECT_GE(metrics_.relay_bytes_down.load(), 200u * 1024);
}

TEST_P(RelayModeTest, RelayCertificateDoesNotNameTheProduct) {
    std::string pem;
    {
        std::ifstream in(config_.data_dir + "/relay-tls-cert.pem");
        pem.assign(std::istreambuf_iterator<char>(in), {});
    }
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    ASSERT_NE(cert, nullptr);
    char cn[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
    EXPECT_STREQ(cn, "www.example.org");
    // Debian's snakeoil shape: RSA-2048, 3650 days, SAN DNS:host, not a CA.
    EVP_PKEY* key = X509_get0_pubkey(cert);
    ASSERT_NE(key, nullptr);
    EXPECT_EQ(EVP_PKEY_get_base_id(key), EVP_PKEY_RSA);
    EXPECT_EQ(EVP_PKEY_get_bits(key), 2048);
    int days = 0, secs = 0;
    ASSERT_EQ(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert), X509_get0_notAfter(cert)), 1);
    EXPECT_EQ(days, 3650);
    EXPECT_EQ(secs, 0);
    auto* san =
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    ASSERT_NE(san, nullptr);
    ASSERT_EQ(sk_GENERAL_NAME_num(san), 1);
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(san, 0);
    EXPECT_EQ(name->type, GEN_DNS);
    GENERAL_NAMES_free(san);
    EXPECT_EQ(X509_check_ca(cert), 0);
    X509_free(cert);
}

TEST_P(RelayModeTest, LinkSecretIsStableAndPrivate) {
    const auto path = std::filesystem::path(config_.data_dir) / kLinkSecretFile;
    EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    auto again = load_or_create_relay_identity(config_);
    ASSERT_TRUE(again);
    EXPECT_TRUE(std::equal(again->secret.view().begin(), again->secret.view().end(),
                           relay_->link_secret().begin()));
    EXPECT_EQ(again->tls.fingerprint_sha256(), relay_->certificate_pin());
    EXPECT_EQ(relay_->link_secret().size(), 32u);
    EXPECT_EQ(relay_->certificate_pin().size(), 64u);
}

TEST_P(RelayModeTest, TargetNotInAllowListIsRefused) {
    auto r = run(connect_outcome(endpoint(), "10.1.2.3:443"));
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.detail, "relay: target not allowed");
    EXPECT_EQ(metrics_.relay_decoy.load(), 0u);
}

TEST_P(RelayModeTest, UnreachableTargetIsReported) {
    auto r = run(connect_outcome(endpoint(), "127.0.0.1:" + std::to_string(dead_port_)));
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.detail, "relay: target unreachable");
    EXPECT_EQ(metrics_.relay_upstream_failures.load(), 1u);
}

TEST_P(RelayModeTest, WrongPinIsRejectedByTheClient) {
    auto e = endpoint();
    e.pin = std::string(64, '0');
    auto r = run(connect_outcome(e, echo_target_));
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.code, ErrorCode::kUntrustedIdentity);
}

TEST_P(RelayModeTest, WrongSecretGetsTheDecoy) {
    std::string sent;
    const std::string answer =
        tls_probe(authenticator(echo_target_, 0, endpoint(false).secret), 0, &sent);
    expect_decoy(answer, sent, true);
    EXPECT_EQ(metrics_.relay_decoy.load(), 1u);
    EXPECT_EQ(metrics_.relay_authenticated.load(), 0u);
    // And the client library reports it as "not a relay".
    auto r = run(connect_outcome(endpoint(false), echo_target_));
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.code, ErrorCode::kMalformed) << r.detail;
}

// An authenticator is bound to its TLS session: recorded and sent again in a new session it
// is just bytes, and the decoy gets them.
TEST_P(RelayModeTest, FirstRecordReplayedInAnotherSessionGetsTheDecoy) {
    std::string sent;
    const std::string first = tls_probe(authenticator(echo_target_), 2, &sent);
    // The first use is honoured: status ok, then the relay copies to the echo server.
    const auto ok = rw::encode_reply(rw::Status::kOk);
    EXPECT_EQ(first.substr(0, 2), std::string(ok.begin(), ok.end()));
    const std::string second = tls_probe(sent);
    expect_decoy(second, sent, true);
    EXPECT_EQ(metrics_.relay_authenticated.load(), 1u);
    EXPECT_EQ(metrics_.relay_decoy.load(), 1u);
}

TEST_P(RelayModeTest, ClockOutsideWindowGetsTheDecoy) {
    std::string sent;
    const std::string answer =
        tls_probe(authenticator(echo_target_, unix_seconds_now() - 1000), 0, &sent);
    expect_decoy(answer, sent, true);
    EXPECT_EQ(metrics_.relay_authenticated.load(), 0u);
}

TEST_P(RelayModeTest, HttpsRequestGetsTheDecoyPage) {
    const std::string get = "GET / HTTP/1.1\r\nHost: www.example.org\r\nConnection: close\r\n\r\n";
    expect_decoy(tls_probe(get), get, false);
}

TEST_P(RelayModeTest, CurlSeesAnOrdinaryWebsite) {
    const std::string cmd =
        "curl -k -s -S --max-time 10 -D - https://127.0.0.1:" + std::to_string(relay_->port()) +
        "/ 2>&1";
    FILE* pipe = ::popen(cmd.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string out;
    std::array<char, 4096> buf{};
    while (std::size_t n = std::fread(buf.data(), 1, buf.size(), pipe)) out.append(buf.data(), n);
    EXPECT_EQ(::pclose(pipe), 0) << out;
    if (upstream_decoy()) {
        EXPECT_NE(out.find("upstream-ok"), std::string::npos) << out;
        const auto seen = decoy_.seen();
        ASSERT_FALSE(seen.empty());
        EXPECT_EQ(seen.back().rfind("GET / HTTP/1.1\r\n", 0), 0u) << seen.back();
    } else {
        EXPECT_NE(out.find("HTTP/1.1 200 OK"), std::string::npos) << out;
        EXPECT_NE(out.find("<title>Welcome to nginx!</title>"), std::string::npos) << out;
    }
}

// What nginx answers on its TLS port to a plain-HTTP request, in both decoy modes: the relay
// answers itself (a plain-HTTP upstream never sees it), then closes.
TEST_P(RelayModeTest, PlainHttpOnTheTlsPortGetsNginxsAnswer) {
    const std::string get = "GET / HTTP/1.1\r\nHost: www.example.org\r\n\r\n";
    const std::string answer = raw_probe(get);
    const std::string body =
        "<html>\r\n<head><title>400 The plain HTTP request was sent to HTTPS port</title></head>"
        "\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n"
        "<center>The plain HTTP request was sent to HTTPS port</center>\r\n"
        "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
    EXPECT_EQ(without_date(answer),
              "HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Type: text/html\r\n"
              "Content-Length: " +
                  std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
    EXPECT_NE(answer.find("\r\nDate: "), std::string::npos);
    EXPECT_TRUE(decoy_.seen().empty());
    EXPECT_EQ(metrics_.relay_decoy.load(), 0u);
}

// When the decoy is done (the upstream closed after its answer) the relay ends the whole
// connection, as a web server would, even though the prober keeps its side open.
TEST_P(RelayModeTest, DecoyEndsTheWholeConnectionWhenItIsDone) {
    const bool closed = run([&]() -> asio::awaitable<bool> {
        asio::ssl::context ctx(asio::ssl::context::tls_client);
        ctx.set_verify_mode(asio::ssl::verify_none);
        asio::ssl::stream<tcp::socket> s(co_await asio::this_coro::executor, ctx);
        auto [cec] = co_await s.next_layer().async_connect(relay_endpoint(), kTok);
        if (cec) co_return false;
        auto [hec] = co_await s.async_handshake(asio::ssl::stream_base::client, kTok);
        if (hec) co_return false;
        const std::string get =
            "GET / HTTP/1.1\r\nHost: www.example.org\r\nConnection: close\r\n\r\n";
        co_await asio::async_write(s, asio::buffer(get), kTok);
        std::array<char, 4096> buf{};
        for (;;) {
            auto [rec, n] = co_await s.async_read_some(asio::buffer(buf), kTok);
            if (rec) break;
        }
        // Still holding our socket: the relay must have let go on its own, long before the
        // idle timeout (5 s here).
        asio::steady_timer t(co_await asio::this_coro::executor);
        for (int i = 0; i < 100 && metrics_.connections_open.load() != 0; ++i) {
            t.expires_after(std::chrono::milliseconds(10));
            co_await t.async_wait(kTok);
        }
        co_return metrics_.connections_open.load() == 0;
    }());
    EXPECT_TRUE(closed);
}

// After an answer the built-in site waits decoy_keepalive_timeout for the next request, not
// the (shorter, here) header timeout, then closes.
TEST_P(RelayModeTest, BuiltInSiteClosesAfterTheKeepAliveTimeout) {
    if (upstream_decoy()) GTEST_SKIP() << "keep-alive is the upstream's business";
    const auto started = std::chrono::steady_clock::now();
    const std::string answer = tls_probe("GET / HTTP/1.1\r\nHost: www.example.org\r\n\r\n");
    const auto took = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << answer;
    EXPECT_GE(took, std::chrono::milliseconds(1900));
    EXPECT_LT(took, std::chrono::seconds(4));
}

TEST_P(RelayModeTest, BuiltInSiteKeepsConnectionsAlive) {
    if (upstream_decoy()) GTEST_SKIP() << "keep-alive is the upstream's business";
    const std::string two =
        "GET / HTTP/1.1\r\nHost: www.example.org\r\n\r\n"
        "HEAD /missing HTTP/1.1\r\nHost: www.example.org\r\nConnection: close\r\n\r\n";
    const std::string answer = tls_probe(two);
    const auto second = answer.find("HTTP/1.1 404 Not Found\r\n");
    ASSERT_NE(second, std::string::npos) << answer;
    EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
    // HEAD: headers only, so the answer ends with the second header block.
    EXPECT_EQ(answer.substr(answer.size() - 4), "\r\n\r\n");
}

// Bytes that are neither TLS nor HTTP: nginx's plain 400 page, then close.
TEST_P(RelayModeTest, RandomBytesWithoutTlsGetNginxsBadRequest) {
    std::string junk(300, '\0');
    crypto::random_bytes({reinterpret_cast<std::uint8_t*>(junk.data()), junk.size()});
    junk[0] = 0x05;  // not a TLS handshake record; looks like a SOCKS5 greeting
    const std::string answer = raw_probe(junk);
    EXPECT_EQ(answer.rfind("HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n", 0), 0u) << answer;
    EXPECT_NE(answer.find("<title>400 Bad Request</title>"), std::string::npos);
    EXPECT_TRUE(decoy_.seen().empty());
}

// Inside TLS the same junk is not an authenticator, so the decoy gets it, untouched.
TEST_P(RelayModeTest, RandomBytesInsideTlsGetTheDecoy) {
    std::string junk(300, '\0');
    crypto::random_bytes({reinterpret_cast<std::uint8_t*>(junk.data()), junk.size()});
    junk[0] = 0x05;
    expect_decoy(tls_probe(junk), junk, true);
}

// A first byte that says TLS but a broken handshake: closed, as OpenSSL at nginx does.
TEST_P(RelayModeTest, BrokenTlsHandshakeIsClosed) {
    std::string junk(64, '\x16');
    const std::string answer = raw_probe(junk);
    EXPECT_EQ(answer.find("HTTP/"), std::string::npos) << answer;
    EXPECT_TRUE(decoy_.seen().empty());
}

TEST_P(RelayModeTest, SlowlorisIsClosedAfterTheTimeoutAndOthersAreUnaffected) {
    const auto pin = echo_identity_->fingerprint_sha256();
    const auto started = std::chrono::steady_clock::now();
    auto idle = [&]() -> asio::awaitable<bool> {
        tcp::socket s(co_await asio::this_coro::executor);
        auto [cec] = co_await s.async_connect(relay_endpoint(), kTok);
        if (cec) co_return false;
        std::array<char, 16> buf{};
        auto [rec, n] = co_await s.async_read_some(asio::buffer(buf), kTok);
        co_return rec == asio::error::eof || rec == asio::error::connection_reset;
    };
    std::vector<std::future<bool>> idlers;
    for (int i = 0; i < 8; ++i) idlers.push_back(asio::co_spawn(io_, idle(), asio::use_future));
    // Meanwhile a real client works.
    const std::string result = run([&]() -> asio::awaitable<std::string> {
        auto tunnel =
            co_await net::relay_connect(endpoint(), echo_target_, std::chrono::seconds(5));
        if (!tunnel) co_return std::string(tunnel.error().detail);
        co_return co_await inner_echo(*tunnel, pin, 1024);
    }());
    EXPECT_EQ(result, "ok");
    for (auto& f : idlers) {
        ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
        EXPECT_TRUE(f.get());
    }
    const auto took = std::chrono::steady_clock::now() - started;
    EXPECT_GE(took, std::chrono::milliseconds(900));
    EXPECT_LT(took, std::chrono::seconds(4));
    // The relay lets go of every connection: the idlers by timeout, the client when it left.
    EXPECT_TRUE(all_connections_closed());
}

// ALPN as nginx: its own preference among the HTTP/1 versions, and a fatal alert for a client
// that offers only protocols it does not speak.
TEST_P(RelayModeTest, AlpnIsNginxs) {
    auto negotiate = [&](std::vector<unsigned char> offer) -> asio::awaitable<std::string> {
        asio::ssl::context ctx(asio::ssl::context::tls_client);
        ctx.set_verify_mode(asio::ssl::verify_none);
        SSL_CTX_set_alpn_protos(ctx.native_handle(), offer.data(),
                                static_cast<unsigned>(offer.size()));
        asio::ssl::stream<tcp::socket> s(co_await asio::this_coro::executor, ctx);
        auto [cec] = co_await s.next_layer().async_connect(relay_endpoint(), kTok);
        if (cec) co_return "connect failed";
        auto [hec] = co_await s.async_handshake(asio::ssl::stream_base::client, kTok);
        if (hec) co_return "handshake failed";
        const unsigned char* p = nullptr;
        unsigned len = 0;
        SSL_get0_alpn_selected(s.native_handle(), &p, &len);
        co_return std::string(reinterpret_cast<const char*>(p), len);
    };
    const std::vector<unsigned char> h2_and_11 = {2,   'h', '2', 8,   'h', 't',
                                                  't', 'p', '/', '1', '.', '1'};
    const std::vector<unsigned char> only_10 = {8, 'h', 't', 't', 'p', '/', '1', '.', '0'};
    const std::vector<unsigned char> only_h2 = {2, 'h', '2'};
    EXPECT_EQ(run(negotiate(h2_and_11)), "http/1.1");
    EXPECT_EQ(run(negotiate(only_10)), "http/1.0");
    EXPECT_EQ(run(negotiate(only_h2)), "handshake failed");
}

TEST_P(RelayModeTest, TlsClientThatSendsNothingIsClosedAfterTheTimeout) {
    const auto started = std::chrono::steady_clock::now();
    const bool closed = run([&]() -> asio::awaitable<bool> {
        asio::ssl::context ctx(asio::ssl::context::tls_client);
        ctx.set_verify_mode(asio::ssl::verify_none);
        asio::ssl::stream<tcp::socket> s(co_await asio::this_coro::executor, ctx);
        auto [cec] = co_await s.next_layer().async_connect(relay_endpoint(), kTok);
        if (cec) co_return false;
        auto [hec] = co_await s.async_handshake(asio::ssl::stream_base::client, kTok);
        if (hec) co_return false;
        std::array<char, 16> buf{};
        auto [rec, n] = co_await s.async_read_some(asio::buffer(buf), kTok);
        co_return static_cast<bool>(rec);
    }());
    EXPECT_TRUE(closed);
    const auto took = std::chrono::steady_clock::now() - started;
    EXPECT_GE(took, std::chrono::milliseconds(900));
    EXPECT_LT(took, std::chrono::seconds(4));
}

// A relay whose replay cache holds one authenticator.
class RelayModeBusyTest : public RelayModeTest {
    void adjust(Config& c) override { c.relay.replay_cache_entries = 1; }
};

// A client with a valid authenticator is told "busy" when the replay cache is full, rather than
// sent to the decoy: only a holder of the secret reaches that answer.
TEST_P(RelayModeBusyTest, FullReplayCacheSaysBusy) {
    const auto ok = rw::encode_reply(rw::Status::kOk);
    const auto busy = rw::encode_reply(rw::Status::kBusy);
    EXPECT_EQ(tls_probe(authenticator(echo_target_), 2).substr(0, 2),
              std::string(ok.begin(), ok.end()));
    EXPECT_EQ(tls_probe(authenticator(echo_target_)), std::string(busy.begin(), busy.end()));
    EXPECT_EQ(metrics_.relay_busy.load(), 1u);
    EXPECT_EQ(metrics_.relay_decoy.load(), 0u);
    auto r = run(connect_outcome(endpoint(), echo_target_));
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.detail, "relay: busy");
    // A prober still gets the decoy.
    const std::string get = "GET / HTTP/1.1\r\nHost: www.example.org\r\nConnection: close\r\n\r\n";
    expect_decoy(tls_probe(get), get, false);
}

INSTANTIATE_TEST_SUITE_P(Decoy, RelayModeBusyTest, ::testing::Values(false, true),
                         [](const auto& p) { return p.param ? "Upstream" : "BuiltIn"; });

INSTANTIATE_TEST_SUITE_P(Decoy, RelayModeTest, ::testing::Values(false, true),
                         [](const auto& p) { return p.param ? "Upstream" : "BuiltIn"; });

}  // namespace
}  // namespace pp::relay

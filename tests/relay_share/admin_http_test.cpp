// The admin listener, asked by real curl over loopback: /metrics in Prometheus text, /healthz,
// 404 for the rest, 400 for an oversized request, the connection cap, and stop().
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <array>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "relay/admin_http.hpp"

namespace pp::relay {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

struct CurlResult {
    int exit_code = -1;
    std::string output;  // headers (with -i) and body
};

CurlResult curl(const std::string& args) {
    CurlResult r;
    const std::string cmd = "curl -sS --max-time 5 " + args + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return r;
    std::array<char, 4096> buf{};
    std::size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
    const int status = ::pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

// An io_context on two threads, as the daemon runs it with several.
struct Running {
    asio::io_context ioc{2};
    Config config;
    Metrics metrics;
    std::unique_ptr<AdminHttp> admin;
    std::vector<std::thread> threads;

    explicit Running(std::string listen = "127.0.0.1:0") {
        config.admin_listen = std::move(listen);
        admin = std::make_unique<AdminHttp>(ioc, config, metrics);
    }
    void run() {
        for (int i = 0; i < 2; ++i) threads.emplace_back([this] { ioc.run(); });
    }
    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(admin->port()) + path;
    }
    ~Running() {
        admin->stop();
        ioc.stop();
        for (auto& t : threads) t.join();
    }
};

TEST(AdminHttp, ServesMetricsHealthAndNotFound) {
    Running r;
    ASSERT_TRUE(r.admin->start());
    ASSERT_NE(r.admin->port(), 0);
    r.run();
    r.metrics.connections_total = 42;
    r.metrics.socks5_connects_ok = 7;

    auto m = curl("-i " + r.url("/metrics"));
    ASSERT_EQ(m.exit_code, 0) << m.output;
    EXPECT_NE(m.output.find("HTTP/1.1 200 OK"), std::string::npos) << m.output;
    EXPECT_NE(m.output.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
    EXPECT_NE(m.output.find("\npaperplane_relay_connections_total 42\n"), std::string::npos)
        << m.output;
    EXPECT_NE(m.output.find("# TYPE paperplane_relay_connections_total counter"),
              std::string::npos);

    auto h = curl(r.url("/healthz"));
    EXPECT_EQ(h.exit_code, 0);
    EXPECT_EQ(h.output, "ok");

    auto nf = curl("-o /dev/null -w '%{http_code}' " + r.url("/admin"));
    EXPECT_EQ(nf.output, "404");
    auto post = curl("-o /dev/null -w '%{http_code}' -X POST " + r.url("/metrics"));
    EXPECT_EQ(post.output, "405");

    // HEAD: the headers a GET would get, no body.
    auto head = curl("-I " + r.url("/healthz"));
    EXPECT_EQ(head.exit_code, 0) << head.output;
    EXPECT_NE(head.output.find("Content-Length: 2\r\n"), std::string::npos) << head.output;
    EXPECT_TRUE(head.output.ends_with("\r\n\r\n")) << head.output;

    // Several requests on one kept-alive connection, as a scraper polls.
    auto twice = curl("-s " + r.url("/healthz") + " " + r.url("/healthz"));
    EXPECT_EQ(twice.output, "okok");
}

TEST(AdminHttp, RefusesAnOversizedRequest) {
    Running r;
    ASSERT_TRUE(r.admin->start());
    r.run();
    auto big = curl("-o /dev/null -w '%{http_code}' -H 'X-Filler: " + std::string(10000, 'a') +
                    "' " + r.url("/healthz"));
    EXPECT_EQ(big.output, "400");
    // The listener goes on serving.
    EXPECT_EQ(curl(r.url("/healthz")).output, "ok");
}

TEST(AdminHttp, CapsConnectionsAndStops) {
    Running r;
    ASSERT_TRUE(r.admin->start());
    r.run();
    asio::io_context client_ioc;
    const asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), r.admin->port());
    std::vector<asio::ip::tcp::socket> held;
    for (unsigned i = 0; i < AdminHttp::kMaxConnections; ++i) {
        held.emplace_back(client_ioc);
        held.back().connect(ep);
    }
    // Accepts are served in order, so curl's connection comes after the held ones: refused.
    auto refused = curl(r.url("/healthz"));
    EXPECT_NE(refused.exit_code, 0) << refused.output;
    held.pop_back();  // one slot frees up once the server sees the close
    bool served = false;
    for (int i = 0; i < 50 && !served; ++i) {
        served = curl(r.url("/healthz")).output == "ok";
        if (!served) std::this_thread::sleep_for(20ms);
    }
    EXPECT_TRUE(served);

    r.admin->stop();
    // stop() closes the held connections too: each sees end of stream.
    for (auto& s : held) {
        std::array<char, 1> b{};
        boost::system::error_code ec;
        s.read_some(asio::buffer(b), ec);
        EXPECT_TRUE(ec) << "a held connection stayed open";
    }
    bool closed = false;
    for (int i = 0; i < 50 && !closed; ++i) {
        closed = curl(r.url("/healthz")).exit_code != 0;
        if (!closed) std::this_thread::sleep_for(20ms);
    }
    EXPECT_TRUE(closed);
}

TEST(AdminHttp, ListenAddressMustBeAnIpAndPort) {
    for (const char* bad :
         {"localhost:9180", "127.0.0.1", "127.0.0.1:99999", "[::1:80", "::1:80x", "127.0.0.1:-1"}) {
        Running r(bad);
        auto s = r.admin->start();
        ASSERT_FALSE(s) << bad;
        EXPECT_EQ(s.error().code, ErrorCode::kMalformed) << bad;
    }
    Running none("");
    EXPECT_TRUE(none.admin->start());
    EXPECT_EQ(none.admin->port(), 0);
    Running v6("[::1]:0");
    EXPECT_TRUE(v6.admin->start());
}

}  // namespace
}  // namespace pp::relay

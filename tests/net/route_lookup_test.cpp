// Name lookups in a race: a name whose DNS a censor drops (getaddrinfo hangs) must hold up no
// other route and not the caller's return. This binary puts its own getaddrinfo in front of
// libc's: names under .dropped-dns.test hang for kHang, every other name goes to libc.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <netdb.h>

#include <chrono>
#include <string_view>
#include <thread>

#include "net/ws_client.hpp"
#include "tests/net/test_server.hpp"

namespace {
constexpr auto kHang = std::chrono::seconds(4);
}

extern "C" int getaddrinfo(const char* node, const char* service, const addrinfo* hints,
                           addrinfo** res) {
    using Real = int (*)(const char*, const char*, const addrinfo*, addrinfo**);
    static const auto real = reinterpret_cast<Real>(::dlsym(RTLD_NEXT, "getaddrinfo"));
    const std::string_view name = node != nullptr ? node : "";
    constexpr std::string_view kDropped = ".dropped-dns.test";
    if (name.size() > kDropped.size() && name.substr(name.size() - kDropped.size()) == kDropped) {
        std::this_thread::sleep_for(kHang);
        return EAI_AGAIN;
    }
    return real(node, service, hints, res);
}

namespace pp::net {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

Route direct(std::string host, std::uint16_t port) {
    Route r;
    r.host = std::move(host);
    r.port = port;
    return r;
}

TEST(NetRouteLookup, AHangingLookupHoldsUpNoOtherRoute) {
    test::TestServer ts;
    const ServerTarget home{"127.0.0.1", ts.port(), ts.pin()};
    std::vector<AttemptReport> rep;
    const auto t0 = Clock::now();
    auto c = WsClient::connect_racing(
        {direct("home.dropped-dns.test", ts.port()), direct("localhost", ts.port())}, home,
        RaceOptions{}, {}, &rep);
    const auto took = Clock::now() - t0;
    ASSERT_TRUE(c) << c.error().detail;
    EXPECT_EQ(c->winner(), 1u);
    EXPECT_LT(took, 2s);  // about one stagger, not the hanging lookup's 4 s
    EXPECT_TRUE(rep[0].cancelled);
    const auto closed = Clock::now();
    c->close(500ms);
    EXPECT_LT(Clock::now() - closed, 2s);
}

TEST(NetRouteLookup, TheRaceTimeoutHoldsWhileALookupHangs) {
    test::TestServer ts;
    RaceOptions opt;
    opt.timeout = 600ms;
    opt.attempt_timeout = 500ms;
    std::vector<AttemptReport> rep;
    const auto t0 = Clock::now();
    {
        auto c =
            WsClient::connect_racing({direct("home.dropped-dns.test", ts.port())},
                                     {"home.dropped-dns.test", ts.port(), ts.pin()}, opt, {}, &rep);
        ASSERT_FALSE(c);
        EXPECT_EQ(c.error().code, ErrorCode::kLimitExceeded);
    }
    EXPECT_LT(Clock::now() - t0, 2s);  // returned (and cleaned up) without waiting 4 s
    ASSERT_EQ(rep.size(), 1u);
    EXPECT_FALSE(rep[0].cancelled);  // its own time ran out: a failure of the route
}

}  // namespace
}  // namespace pp::net

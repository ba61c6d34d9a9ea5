// The client's routes: what each kind of link becomes, the order candidates are raced in,
// the backoff of routes that failed, and how the profile keeps routes and settings.
#include "client/routes.hpp"

#include <gtest/gtest.h>

#include <set>

#include "profile_fixture.hpp"
#include "wire/share_links.hpp"

namespace pp::client {
namespace {

using namespace std::chrono_literals;
using namespace testing;

const ServerAddress kServer{"home.example", 8443, std::string(64, 'a')};

TEST(RouteLinks, RelayLinkBecomesARelayRoute) {
    wire::RelayLink l;
    l.host = "203.0.113.9";
    l.port = 443;
    l.pin = std::string(64, 'b');
    Bytes secret(32, 7);
    l.secret = SecretArray<32>(secret);
    auto r = route_from_link(wire::format_relay_link(l), kServer);
    ASSERT_TRUE(r) << r.error().detail;
    EXPECT_EQ(r->kind, net::RouteKind::kRelay);
    EXPECT_EQ(r->relay.host, "203.0.113.9");
    EXPECT_EQ(r->relay.pin, l.pin);
    EXPECT_EQ(Bytes(r->relay.secret.view().begin(), r->relay.secret.view().end()), secret);
}

TEST(RouteLinks, ProxyLinksOfEveryForm) {
    auto s = route_from_link("socks5://ann:pw@127.0.0.1:1080", kServer);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->kind, net::RouteKind::kSocks5);
    EXPECT_EQ(s->username, "ann");
    EXPECT_EQ(s->password, "pw");
    EXPECT_EQ(s->port, 1080);
    auto tg = route_from_link("tg://socks?server=10.1.2.3&port=9050&user=u&pass=p", kServer);
    ASSERT_TRUE(tg);
    EXPECT_EQ(tg->kind, net::RouteKind::kSocks5);
    EXPECT_EQ(tg->host, "10.1.2.3");
    auto web = route_from_link("https://t.me/socks?server=10.1.2.3&port=9050", kServer);
    ASSERT_TRUE(web);
    EXPECT_TRUE(web->username.empty());
    auto http = route_from_link("http://bob:s%40cret@[2001:db8::1]:3128", kServer);
    ASSERT_TRUE(http) << http.error().detail;
    EXPECT_EQ(http->kind, net::RouteKind::kHttpConnect);
    EXPECT_EQ(http->host, "2001:db8::1");
    EXPECT_EQ(http->password, "s@cret");
    auto slash = route_from_link("http://proxy.example:3128/", kServer);  // as browsers write it
    ASSERT_TRUE(slash) << slash.error().detail;
    EXPECT_EQ(slash->port, 3128);
    EXPECT_FALSE(route_from_link("http://proxy.example:3128/x", kServer));
}

TEST(RouteLinks, AnotherAddressOfOurServerMustCarryItsPin) {
    auto same = route_from_link("paperplane://server?host=198.51.100.7&port=443&pin=" + kServer.pin,
                                kServer);
    ASSERT_TRUE(same);
    EXPECT_EQ(same->kind, net::RouteKind::kDirect);
    EXPECT_EQ(same->host, "198.51.100.7");
    auto other = route_from_link(
        "paperplane://server?host=198.51.100.7&port=443&pin=" + std::string(64, 'c'), kServer);
    ASSERT_FALSE(other);
    EXPECT_EQ(other.error().code, ErrorCode::kInvalidKey);
}

TEST(RouteLinks, GarbageIsRefusedWithAReason) {
    for (const char* bad :
         {"", "ftp://x:1", "socks5://", "http://host", "http://h:0", "paperplane://relay?host=x",
          "tg://socks?server=&port=1", "socks5://a:b@host:99999", "paperplane://contact?x=1"}) {
        auto r = route_from_link(bad, kServer);
        EXPECT_FALSE(r) << bad;
        if (!r) {
            EXPECT_FALSE(r.error().detail.empty()) << bad;
        }
    }
}

TEST(RouteEndpoints, NamesAddressesAndBracketedV6) {
    auto a = route_from_endpoint("home.example:443");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->host, "home.example");
    EXPECT_EQ(a->port, 443);
    auto b = route_from_endpoint("[2001:db8::7]:8443");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->host, "2001:db8::7");
    EXPECT_EQ(b->port, 8443);
    for (const char* bad : {"", "host", "host:", ":443", "2001:db8::7:443", "[2001:db8::7]",
                            "h:65536", "h:-1", "h:44x", "bad host:1", "[::1]443"})
        EXPECT_FALSE(route_from_endpoint(bad)) << bad;
}

std::vector<Candidate> three() {
    std::vector<Candidate> c(3);
    c[0].key = "user/1";
    c[1].key = "account";
    c[2].key = "list/relay/r:443";
    return c;
}

TEST(RouteOrder, LastWinnerGoesFirstOthersKeepTheirOrder) {
    auto c = three();
    put_last_winner_first(c, "list/relay/r:443");
    EXPECT_EQ(c[0].key, "list/relay/r:443");
    EXPECT_EQ(c[1].key, "user/1");
    EXPECT_EQ(c[2].key, "account");
    auto d = three();
    put_last_winner_first(d, "gone");
    EXPECT_EQ(d[0].key, "user/1");
}

TEST(RouteBackoffTest, FailuresRestARouteLongerEachTimeWithJitter) {
    RouteBackoff b;
    const auto t0 = RouteBackoff::Clock::now();
    EXPECT_FALSE(b.resting("account", t0));
    b.failed("account", t0);
    EXPECT_TRUE(b.resting("account", t0 + 400ms));    // at least half of 1 s
    EXPECT_FALSE(b.resting("account", t0 + 1001ms));  // at most 1 s
    b.failed("account", t0);
    b.failed("account", t0);  // third in a row: 2 to 4 s
    EXPECT_TRUE(b.resting("account", t0 + 1900ms));
    EXPECT_FALSE(b.resting("account", t0 + 4001ms));
    for (int i = 0; i < 30; ++i) b.failed("account", t0);
    EXPECT_TRUE(b.resting("account", t0 + RouteBackoff::kMax / 2 - 1ms));
    EXPECT_FALSE(b.resting("account", t0 + RouteBackoff::kMax + 1ms));
    b.succeeded("account");
    EXPECT_FALSE(b.resting("account", t0));
}

TEST(RouteBackoffTest, JitterSpreadsClientsApart) {
    std::set<RouteBackoff::Clock::duration::rep> seen;
    const auto t0 = RouteBackoff::Clock::now();
    for (int i = 0; i < 20; ++i) {
        RouteBackoff b;
        for (int k = 0; k < 5; ++k) b.failed("r", t0);  // 8 to 16 s
        // Find when it stops resting, to 100 ms.
        auto t = t0;
        while (b.resting("r", t)) t += 100ms;
        seen.insert((t - t0).count());
    }
    EXPECT_GT(seen.size(), 5u);
}

TEST(RouteBackoffTest, RestingRoutesAreSkippedUnlessAllAre) {
    RouteBackoff b;
    const auto now = RouteBackoff::Clock::now();
    auto c = three();
    b.failed("account", now);
    auto usable = b.usable(c, now);
    ASSERT_EQ(usable.size(), 2u);
    EXPECT_EQ(usable[0].key, "user/1");
    EXPECT_EQ(usable[1].key, "list/relay/r:443");
    b.failed("user/1", now);
    b.failed("list/relay/r:443", now);
    EXPECT_EQ(b.usable(c, now).size(), 3u);
}

TEST(ProfileRoutes, KeptSealedInOrderAndRemovable) {
    TempDir tmp;
    {
        auto store = must(ProfileStore::create(tmp.profile(), std::nullopt));
        ASSERT_TRUE(store);
        EXPECT_EQ(*store->add_route("socks5://a:b@h:1"), 1);
        EXPECT_EQ(*store->add_route("http://h:2"), 2);
        EXPECT_EQ(*store->add_route("tg://socks?server=h&port=3"), 3);
        EXPECT_TRUE(*store->remove_route(2));
        EXPECT_FALSE(*store->remove_route(2));
        EXPECT_TRUE(*store->remove_route(3));
        EXPECT_EQ(*store->add_route("tg://socks?server=h&port=3"), 4);  // never reused
        EXPECT_EQ(*store->add_route("http://h:4"), 5);
        ASSERT_TRUE(store->set_setting("last_route", as_bytes("user/3")).ok());
        ASSERT_TRUE(store->set_setting("last_route", as_bytes("account")).ok());
    }
    auto store = must(ProfileStore::open(tmp.profile(), std::nullopt));
    ASSERT_TRUE(store);
    auto all = *store->routes();
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[0].link, "socks5://a:b@h:1");
    EXPECT_EQ(all[1].id, 4);
    EXPECT_EQ(all[2].link, "http://h:4");
    auto last = *store->setting("last_route");
    ASSERT_TRUE(last);
    EXPECT_EQ(std::string(last->begin(), last->end()), "account");
    EXPECT_FALSE(*store->setting("never_set"));
}

}  // namespace
}  // namespace pp::client

// Ways around a block, through the client library against the real server: the signed
// endpoint list pinned at registration, fetched, cached, exported and imported; routes the
// user adds; and the race moving to another route when the account's address is cut.
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>
#include <thread>

#include "client_fixture.hpp"
#include "net/ws_client.hpp"
#include "tcp_forwarder.hpp"
#include "wire/endpoint_list.hpp"

namespace pp::test {
namespace {

std::string loopback(std::uint16_t port) {
    return "127.0.0.1:" + std::to_string(port);
}

// The server publishes `published` (a forwarder to itself) in its endpoint list; users
// register through `front`, another forwarder, so cutting `front` blocks their account address.
class RoutesTest : public ::testing::Test {
  protected:
    RoutesTest()
        : server(ServerProcessOptions::with_args(
              {"--endpoint", loopback(published.port()), "--public-endpoints"})) {}

    void SetUp() override {
        auto s = server.start();
        ASSERT_TRUE(s) << s.error;
        published.set_target(server.port());
        front.set_target(server.port());
        root = server.root() / "clients";
        fs::create_directories(root);
    }

    client::ServerAddress front_address() const {
        return {"127.0.0.1", front.port(), server.pin()};
    }

    User make_user(const std::string& name) {
        User u;
        u.name = name;
        u.dir = root / name;
        auto c = Client::create({u.dir, std::nullopt});
        EXPECT_TRUE(c) << c.error().detail;
        u.client = std::move(*c);
        client::RegisterOptions o;
        o.username = name;
        auto a = u.client->register_account(front_address(), o);
        EXPECT_TRUE(a) << a.error().detail;
        return u;
    }

    // Alice and bob in each other's contacts, with alice's first message to bob sent.
    struct Friends {
        User alice, bob;
        client::ConversationId to_bob{};
    };
    void make_friends(Friends& f, const std::string& first) {
        f.alice = make_user("alice");
        f.bob = make_user("bob");
        ASSERT_NO_FATAL_FAILURE(befriend(f.alice, f.bob));
        auto to_bob = f.alice.client->resolve("bob");
        ASSERT_TRUE(to_bob) << to_bob.error().detail;
        f.to_bob = *to_bob;
        ASSERT_TRUE(f.alice.client->send_text(f.to_bob, first));
    }

    TcpForwarder published;
    TcpForwarder front;
    ServerProcess server;
    fs::path root;
};

TEST_F(RoutesTest, TheSignedListIsPinnedFetchedAndCachedAtRegistration) {
    auto alice = make_user("alice");
    auto list = alice.client->endpoint_list();
    ASSERT_TRUE(list) << list.error().detail;
    ASSERT_TRUE(*list);
    EXPECT_EQ((*list)->endpoints, std::vector<std::string>{loopback(published.port())});
    EXPECT_TRUE((*list)->relays.empty());
    EXPECT_GT((*list)->issued_at, 1700000000u);
    EXPECT_EQ(alice.client->status().route, "direct " + loopback(front.port()));

    auto routes = alice.client->routes();
    ASSERT_TRUE(routes);
    ASSERT_EQ(routes->size(), 2u);
    EXPECT_EQ((*routes)[0].source, "server");
    EXPECT_TRUE((*routes)[0].last_used);
    EXPECT_EQ((*routes)[1].source, "endpoint list");
    EXPECT_EQ((*routes)[1].address, loopback(published.port()));
}

TEST_F(RoutesTest, WhenTheAccountAddressIsCutTheListsEndpointCarriesTheMessages) {
    Friends f;
    ASSERT_NO_FATAL_FAILURE(make_friends(f, "before the block"));
    auto& [alice, bob, to_bob] = f;

    // The censor cuts the address both registered with, live connections included: the
    // clients find out on their next request and race their way back in.
    front.close();
    auto sent = alice.client->send_text(to_bob, "during the block");
    ASSERT_TRUE(sent) << sent.error().detail;
    EXPECT_EQ(sent->status, client::MessageStatus::kSent);
    EXPECT_EQ(alice.client->status().route, "direct " + loopback(published.port()));

    std::vector<std::string> got;
    bob.client->set_event_handler([&](const client::Event& e) {
        if (e.kind == client::Event::Kind::kMessage) got.push_back(e.message->text);
    });
    auto r = bob.client->sync(20s);
    ASSERT_TRUE(r) << r.error().detail;
    EXPECT_EQ(got, (std::vector<std::string>{"before the block", "during the block"}));

    // The winner is tried first from now on: `published` is listed first and marked.
    auto routes = bob.client->routes();
    ASSERT_TRUE(routes);
    EXPECT_EQ(routes->front().address, loopback(published.port()));
    EXPECT_TRUE(routes->front().last_used);
}

// The censor black-holes the server's answers on a live connection: alice's send reaches the
// server and is stored, but its acknowledgement never comes back. She must resend it over
// another route under the same id, and bob must get it exactly once.
TEST_F(RoutesTest, AnAckLostInABlackHoleIsResentElsewhereAndDeliveredOnce) {
    Friends f;
    ASSERT_NO_FATAL_FAILURE(make_friends(f, "first"));
    auto& [alice, bob, to_bob] = f;

    front.swallow_replies();
    auto held = alice.client->send_text(to_bob, "into the black hole", std::nullopt, 2s);
    ASSERT_TRUE(held) << held.error().detail;
    EXPECT_EQ(held->status, client::MessageStatus::kPending);  // no ack: still in the outbox
    EXPECT_EQ(alice.client->status().outbox, 1u);

    // The next round finds the connection dead, races past the black hole (the account
    // address rests after failing) and resends; the server knows the id already.
    auto r = alice.client->sync(20s);
    ASSERT_TRUE(r) << r.error().detail;
    EXPECT_EQ(alice.client->status().outbox, 0u);
    EXPECT_EQ(alice.client->status().route, "direct " + loopback(published.port()));

    std::vector<std::string> got;
    bob.client->set_event_handler([&](const client::Event& e) {
        if (e.kind == client::Event::Kind::kMessage) got.push_back(e.message->text);
    });
    bob.client->disconnect();
    ASSERT_TRUE(bob.client->sync(20s));
    EXPECT_EQ(got, (std::vector<std::string>{"first", "into the black hole"}));
    auto history = bob.client->history(*bob.client->resolve("alice"), 10);
    ASSERT_TRUE(history);
    EXPECT_EQ(history->size(), 2u);
}

TEST_F(RoutesTest, ExportedListsImportOnlyWithTheServersSignatureAndNeverBackwards) {
    auto alice = make_user("alice");
    auto old_link = alice.client->export_endpoint_list();
    ASSERT_TRUE(old_link) << old_link.error().detail;

    // Another profile on the same server takes it (verified with its own pinned key).
    auto bob = make_user("bob");
    auto imported = bob.client->import_endpoint_list(*old_link);
    ASSERT_TRUE(imported) << imported.error().detail;

    // One flipped character anywhere in the signed bytes: refused, nothing changes.
    std::string tampered = *old_link;
    tampered[tampered.size() - 10] = tampered[tampered.size() - 10] == 'A' ? 'B' : 'A';
    auto bad = bob.client->import_endpoint_list(tampered);
    ASSERT_FALSE(bad);
    EXPECT_TRUE(bad.error().code == ErrorCode::kInvalidSignature ||
                bad.error().code == ErrorCode::kMalformed);

    // A list signed by another server's key does not verify under ours.
    ServerProcess other(ServerProcessOptions::with_args({"--endpoint", "192.0.2.1:443"}));
    ASSERT_TRUE(other.start());
    auto carol_client = Client::create({root / "carol", std::nullopt});
    ASSERT_TRUE(carol_client);
    ASSERT_TRUE((*carol_client)->register_account({other.host(), other.port(), other.pin()}, {}));
    auto foreign = (*carol_client)->export_endpoint_list();
    ASSERT_TRUE(foreign);
    auto refused = alice.client->import_endpoint_list(*foreign);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::kInvalidSignature);

    // The server signs afresh when it restarts; the older list can no longer replace it.
    std::this_thread::sleep_for(1100ms);
    auto restarted = server.restart();
    ASSERT_TRUE(restarted) << restarted.error;
    auto fresh = alice.client->refresh_endpoint_list(20s);
    ASSERT_TRUE(fresh) << fresh.error().detail;
    auto cached = alice.client->endpoint_list();
    ASSERT_TRUE(cached && *cached);
    EXPECT_GT((*cached)->issued_at, imported->issued_at);
    auto rollback = alice.client->import_endpoint_list(*old_link);
    ASSERT_FALSE(rollback);
    EXPECT_EQ(rollback.error().code, ErrorCode::kLimitExceeded);
    EXPECT_EQ((*alice.client->endpoint_list())->issued_at, (*cached)->issued_at);
}

TEST_F(RoutesTest, ThePublicListNeverStripsTheRelaysOfTheFullOne) {
    // A server that vouches for a relay and serves its addresses to anyone.
    const std::string relay =
        "paperplane://relay?host=127.0.0.1&port=1&pin=" + std::string(64, 'a') +
        "&secret=" + std::string(43, 'A');
    ServerProcess vouching(ServerProcessOptions::with_args(
        {"--endpoint", "127.0.0.1:1", "--vouch-relay", relay, "--public-endpoints"}));
    ASSERT_TRUE(vouching.start());
    auto alice = Client::create({root / "alice", std::nullopt});
    ASSERT_TRUE(alice);
    ASSERT_TRUE((*alice)->register_account({vouching.host(), vouching.port(), vouching.pin()}, {}));
    ASSERT_EQ((*(*alice)->endpoint_list())->relays.size(), 1u);
    // Anyone can fetch the addresses-only list; a "friend" passes it on as a link.
    auto reply = net::https_get(vouching.host(), vouching.port(), vouching.pin(), "/v1/endpoints");
    ASSERT_TRUE(reply) << reply.error().detail;
    auto refused = (*alice)->import_endpoint_list(wire::format_endpoints_link(
        ByteView(reinterpret_cast<const std::uint8_t*>(reply->body.data()), reply->body.size())));
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::kLimitExceeded);
    EXPECT_NE(std::string(refused.error().detail).find("withholds"), std::string::npos);
    EXPECT_EQ((*(*alice)->endpoint_list())->relays.size(), 1u);
}

TEST_F(RoutesTest, TheServersOwnListWinsOverALaterSignedCopy) {
    auto alice = make_user("alice");
    const auto served = (*alice.client->endpoint_list())->issued_at;
    // The operator signs a copy later than the running server's list (admin endpoints).
    std::this_thread::sleep_for(1100ms);
    auto made = server.admin({"admin", "endpoints", "--no-qr", "--endpoint", "192.0.2.1:443"});
    ASSERT_EQ(made.exit_code, 0) << made.output;
    std::string link;
    std::istringstream lines(made.output);
    for (std::string line; std::getline(lines, line);)
        if (line.starts_with("paperplane://endpoints?")) link = line;
    auto imported = alice.client->import_endpoint_list(link);
    ASSERT_TRUE(imported) << imported.error().detail;
    EXPECT_GT(imported->issued_at, served);
    // The server's connection has the last word, though its list is dated earlier: the
    // client is never locked to a copy signed after it.
    auto fresh = alice.client->refresh_endpoint_list(20s);
    ASSERT_TRUE(fresh) << fresh.error().detail;
    EXPECT_EQ(fresh->issued_at, served);
    EXPECT_EQ((*alice.client->endpoint_list())->endpoints,
              std::vector<std::string>{loopback(published.port())});
}

TEST_F(RoutesTest, UserRoutesAreAddedListedFirstAndRemoved) {
    auto alice = make_user("alice");
    auto added = alice.client->add_route("socks5://ann:pw@127.0.0.1:1");
    ASSERT_TRUE(added) << added.error().detail;
    EXPECT_EQ(added->kind, "socks5");
    EXPECT_EQ(added->address, "127.0.0.1:1");
    auto again = alice.client->add_route("socks5://ann:pw@127.0.0.1:1");
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, ErrorCode::kLimitExceeded);
    EXPECT_FALSE(alice.client->add_route("paperplane://server?host=127.0.0.1&port=1&pin=" +
                                         std::string(64, '0')));
    ASSERT_TRUE(alice.client->add_route("http://127.0.0.1:2"));

    auto routes = *alice.client->routes();
    // Last winner (the account address) first, then the user's own, then the list.
    ASSERT_EQ(routes.size(), 4u);
    EXPECT_EQ(routes[0].source, "server");
    EXPECT_EQ(routes[1].kind, "socks5");
    EXPECT_EQ(routes[2].kind, "http");
    EXPECT_EQ(routes[3].source, "endpoint list");

    // Dead proxies are raced too, and lose to the live address.
    alice.client->disconnect();
    ASSERT_TRUE(alice.client->connect(20s));
    EXPECT_EQ(alice.client->status().route, "direct " + loopback(front.port()));

    ASSERT_TRUE(alice.client->remove_route(added->id));
    auto gone = alice.client->remove_route(added->id);
    ASSERT_FALSE(gone);
    EXPECT_EQ(alice.client->routes()->size(), 3u);
}

TEST_F(RoutesTest, AServerLinkThatLeadsElsewhereIsRefusedByThePin) {
    // The user was handed "another address of your server" that is really someone else's.
    ServerProcess impostor;
    ASSERT_TRUE(impostor.start());
    auto alice = make_user("alice");
    ASSERT_TRUE(alice.client->add_route("paperplane://server?host=127.0.0.1&port=" +
                                        std::to_string(impostor.port()) + "&pin=" + server.pin()));
    front.close();
    published.close();
    alice.client->disconnect();
    auto r = alice.client->connect(10s);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kUntrustedIdentity);
    EXPECT_FALSE(alice.client->status().online);
}

}  // namespace
}  // namespace pp::test

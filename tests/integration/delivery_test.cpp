// Store-and-forward delivery against the real server process: live pushes, the offline
// queue, acknowledgements, stale device lists, retries and group sends.
#include <chrono>
#include <set>

#include "base/unix_time.hpp"
#include "tests/integration/fixture.hpp"

namespace pp::test {
namespace {

class DeliveryTest : public ::testing::Test {
  protected:
    void SetUp() override {
        must(server.start(), "start server");
        auto c = connect_to(server);
        alice = register_user(c);
        bob = register_user(c);
    }
    ServerProcess server;
    User alice, bob;
};

// Logged in with an empty backlog: the QueueEmpty that answers authentication is read.
ServerClient login_with_nothing_queued(const ServerProcess& server, const User& u) {
    auto c = login(server, u);
    auto p = must(c.next_push(5s), "backlog");
    if (!p.has_queue_empty()) throw std::runtime_error("expected an empty backlog");
    return c;
}

// Sends `n` messages of 200 KiB each (contents 'a', 'b', ...) from `from` to `to`'s primary
// device; returns their ids in order.
std::vector<std::string> send_large(ServerClient& from, const User& to, int n) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
        ids.push_back(random_id());
        const std::string content(200 * 1024, static_cast<char>('a' + i));
        must_ok(from.send(ids.back(), to.account, {{1, 2, content}}), "send");
    }
    return ids;
}

// Sends one message from `from` to `to`'s primary device and checks it is the next push on
// `at` (a connection of that device).
void expect_live_push(ServerClient& from, const User& to, ServerClient& at,
                      const std::string& content) {
    const std::string id = random_id();
    must_ok(from.send(id, to.account, {{1, 2, content}}), "send");
    auto p = must(at.next_push(5s), "push");
    ASSERT_TRUE(p.has_envelope());
    EXPECT_EQ(p.envelope().message_id(), id);
    EXPECT_EQ(p.envelope().content(), content);
}

TEST_F(DeliveryTest, LivePushToConnectedDevice) {
    auto b = login(server, bob);
    ASSERT_TRUE(must(b.next_push(5s), "backlog").has_queue_empty());
    auto a = login(server, alice);
    ASSERT_TRUE(must(a.next_push(5s), "backlog").has_queue_empty());

    const std::string id = random_id();
    auto r = must(a.send(id, bob.account, {{1, 3, "ciphertext-1"}}), "send");
    ASSERT_EQ(r.status(), v1::OK) << r.detail();
    EXPECT_FALSE(r.send().duplicate());

    auto p = must(b.next_push(5s), "push");
    ASSERT_TRUE(p.has_envelope());
    const auto& e = p.envelope();
    EXPECT_EQ(e.message_id(), id);
    EXPECT_EQ(e.sender_account(), alice.account);
    EXPECT_EQ(e.sender_device(), 1u);
    EXPECT_EQ(e.type(), 3u);
    EXPECT_EQ(e.content(), "ciphertext-1");
    EXPECT_GT(e.server_time_ms(), 0u);
    must_ok(b.ack({id}), "ack");
    // The sender got nothing pushed.
    must(a.pump(200ms), "pump");
    EXPECT_EQ(a.queued_pushes(), 0u);
}

// A backlog of large messages (here 3 MiB) is pushed within a byte window, so the recipient
// is never disconnected for falling behind its own send queue; acks open the window again.
TEST_F(DeliveryTest, LargeBacklogIsPushedWithinAByteWindow) {
    auto a = login(server, alice);
    const auto ids = send_large(a, bob, 15);
    auto b = login(server, bob);
    auto got = drain_until_empty(b, true, 60s);
    ASSERT_EQ(got.size(), ids.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].message_id(), ids[i]) << i;
        EXPECT_EQ(got[i].content().size(), 200u * 1024) << i;
    }
}

// Live messages are pushed as they are committed, straight from memory, until the push
// window (here its 1 MiB byte bound) is full; the rest wait in the store and follow, in
// order and once each, as acks open the window.
TEST_F(DeliveryTest, LivePushesStopAtAFullWindowAndResumeInOrder) {
    auto b = login_with_nothing_queued(server, bob);
    auto a = login(server, alice);
    const auto ids = send_large(a, bob, 12);
    auto read_pushes = [&](std::size_t n) {
        std::vector<std::string> got;
        for (std::size_t i = 0; i < n; ++i) {
            auto p = must(b.next_push(10s), "push");
            EXPECT_TRUE(p.has_envelope());
            got.push_back(p.envelope().message_id());
        }
        return got;
    };
    // 6 x 200 KiB reach 1 MiB: the window closes after the sixth.
    auto first = read_pushes(6);
    must(b.pump(300ms), "pump");
    EXPECT_EQ(b.queued_pushes(), 0u) << "nothing past a full window";
    must_ok(b.ack(first), "ack");
    auto second = read_pushes(6);
    must_ok(b.ack(second), "ack");
    must(b.pump(300ms), "pump");
    EXPECT_EQ(b.queued_pushes(), 0u);
    first.insert(first.end(), second.begin(), second.end());
    EXPECT_EQ(first, ids);
    // And live pushes go on from there.
    expect_live_push(a, bob, b, "after");
}

// Two connections of one device (a reconnect racing the old connection's close, say) both
// get a live message, and each its own copy to acknowledge.
TEST_F(DeliveryTest, EveryConnectionOfTheDeviceGetsTheLivePush) {
    auto b1 = login_with_nothing_queued(server, bob);
    auto b2 = login_with_nothing_queued(server, bob);
    auto a = login(server, alice);
    const std::string id = random_id();
    must_ok(a.send(id, bob.account, {{1, 2, "to both"}}), "send");
    for (auto* b : {&b1, &b2}) {
        auto p = must(b->next_push(5s), "push");
        ASSERT_TRUE(p.has_envelope());
        EXPECT_EQ(p.envelope().message_id(), id);
        EXPECT_EQ(p.envelope().content(), "to both");
    }
    must_ok(b2.ack({id}), "ack");
    b1.close();
    b2.close();
    auto b = login(server, bob);
    EXPECT_TRUE(drain_until_empty(b, false).empty()) << "acknowledged once, gone";
}

TEST_F(DeliveryTest, SecondAuthenticationOnAConnectionIsRefused) {
    auto b = login_with_nothing_queued(server, bob);
    auto again = must(b.authenticate(alice.account, alice.keys.identity()), "authenticate again");
    EXPECT_EQ(again.status(), v1::CONFLICT);
    // Still Bob's connection: a message to Bob arrives here.
    auto a = login(server, alice);
    expect_live_push(a, bob, b, "still bob");
}

TEST_F(DeliveryTest, OfflineQueueDrainsInOrderThenQueueEmpty) {
    auto a = login(server, alice);
    std::vector<std::string> ids;
    for (int i = 0; i < 20; ++i) {
        ids.push_back(random_id());
        must_ok(a.send(ids.back(), bob.account, {{1, 2, "m" + std::to_string(i)}}), "send");
    }
    auto b = login(server, bob);
    auto got = drain_until_empty(b, false);
    ASSERT_EQ(got.size(), ids.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].message_id(), ids[i]) << i;
        EXPECT_EQ(got[i].content(), "m" + std::to_string(i));
    }
    // Nothing further until something new is sent.
    must(b.pump(200ms), "pump");
    EXPECT_EQ(b.queued_pushes(), 0u);
}

TEST_F(DeliveryTest, AckDeletesUnackedComesBack) {
    auto a = login(server, alice);
    std::vector<std::string> ids;
    for (int i = 0; i < 6; ++i) {
        ids.push_back(random_id());
        must_ok(a.send(ids.back(), bob.account, {{1, 2, "m" + std::to_string(i)}}), "send");
    }
    {
        auto b = login(server, bob);
        auto got = drain_until_empty(b, false);
        ASSERT_EQ(got.size(), 6u);
        // Acknowledge the even ones only (and an unknown id, which is fine).
        must_ok(b.ack({ids[0], ids[2], ids[4], random_id()}), "ack");
        b.close();
    }
    {
        auto b = login(server, bob);
        auto got = drain_until_empty(b, false);
        ASSERT_EQ(got.size(), 3u) << "exactly the unacknowledged ones come back";
        EXPECT_EQ(got[0].message_id(), ids[1]);
        EXPECT_EQ(got[1].message_id(), ids[3]);
        EXPECT_EQ(got[2].message_id(), ids[5]);
        must_ok(b.ack({ids[1], ids[3], ids[5]}), "ack");
        b.close();
    }
    auto b = login(server, bob);
    EXPECT_TRUE(drain_until_empty(b, false).empty());
    // Malformed ack ids are refused.
    EXPECT_EQ(must(b.ack({"short"}), "ack").status(), v1::BAD_REQUEST);
}

// Message ids are chosen by senders, so two senders' messages can share one. An ack deletes
// exactly the row the server pushed (one per acknowledged envelope), never its namesake from
// another sender; an ack of an id this connection was never pushed deletes nothing.
TEST_F(DeliveryTest, AckOfOneSendersMessageLeavesTheOtherWithTheSameId) {
    User carol = register_user(server);
    const std::string id = random_id();
    {
        auto a = login(server, alice);
        must_ok(a.send(id, bob.account, {{1, 2, "from alice"}}), "alice's send");
        auto c = login(server, carol);
        must_ok(c.send(id, bob.account, {{1, 2, "from carol"}}), "carol's send");
    }
    {
        auto b = login(server, bob);
        auto got = drain_until_empty(b, false);
        ASSERT_EQ(got.size(), 2u);
        EXPECT_EQ(got[0].message_id(), id);
        EXPECT_EQ(got[1].message_id(), id);
        EXPECT_EQ(got[0].sender_account(), alice.account);
        // One ack for the id: it covers the first envelope, the oldest one.
        must_ok(b.ack({id}), "ack");
        b.close();
    }
    {
        auto b = login(server, bob);
        auto got = drain_until_empty(b, false);
        ASSERT_EQ(got.size(), 1u) << "the other sender's message is still delivered";
        EXPECT_EQ(got[0].sender_account(), carol.account);
        EXPECT_EQ(got[0].content(), "from carol");
        must_ok(b.ack({id, id}), "ack, and once more (harmless)");
        b.close();
    }
    auto b = login(server, bob);
    EXPECT_TRUE(drain_until_empty(b, false).empty());
}

TEST_F(DeliveryTest, StaleDeviceListGetsCurrentDevices) {
    auto a = login(server, alice);
    const std::string id = random_id();
    auto check = [&](const std::vector<ServerClient::DeviceMessage>& m) {
        auto r = must(a.send(id, bob.account, m), "send");
        ASSERT_EQ(r.status(), v1::STALE_DEVICES);
        ASSERT_EQ(r.stale_devices().current_devices_size(), 1);
        EXPECT_EQ(r.stale_devices().current_devices(0), 1u);
    };
    check({{2, 2, "x"}});               // a device that does not exist
    check({{1, 2, "x"}, {2, 2, "y"}});  // one too many
    check({{1, 2, "x"}, {1, 2, "x"}});  // the same device twice
    EXPECT_EQ(must(a.send(id, random_id(), {{1, 2, "x"}}), "unknown").status(), v1::NOT_FOUND);
    EXPECT_EQ(must(a.send("short", bob.account, {{1, 2, "x"}}), "bad id").status(),
              v1::BAD_REQUEST);
    // Nothing of that was stored; the id is still free.
    must_ok(a.send(id, bob.account, {{1, 2, "real"}}), "send");
    auto b = login(server, bob);
    auto got = drain_until_empty(b, false);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].content(), "real");
}

// A retry sent before the first attempt was answered (pipelined on one connection, and on a
// second connection of the same device): the copies meet in the committer, in one batch or
// in consecutive ones, and exactly one is stored; the others are answered as duplicates.
TEST_F(DeliveryTest, RetriesInFlightTogetherAreStoredOnce) {
    auto b = login(server, bob);
    ASSERT_TRUE(must(b.next_push(5s), "backlog").has_queue_empty());
    auto a = login(server, alice);
    auto a2 = login(server, alice);
    const std::string id = random_id();
    std::vector<std::uint64_t> on_a;
    for (int i = 0; i < 3; ++i)
        on_a.push_back(must(a.submit(ServerClient::make_send(id, bob.account, {{1, 3, "one"}})),
                            "pipelined send"));
    const auto on_a2 =
        must(a2.submit(ServerClient::make_send(id, bob.account, {{1, 3, "one"}})), "send");
    int stored = 0, duplicates = 0;
    auto count = [&](const v1::Response& r) {
        ASSERT_EQ(r.status(), v1::OK) << r.detail();
        ++(r.send().duplicate() ? duplicates : stored);
    };
    for (const auto rid : on_a) count(must(a.await(rid), "answer"));
    count(must(a2.await(on_a2), "answer"));
    EXPECT_EQ(stored, 1);
    EXPECT_EQ(duplicates, 3);

    auto p = must(b.next_push(5s), "push");
    ASSERT_TRUE(p.has_envelope());
    EXPECT_EQ(p.envelope().message_id(), id);
    must_ok(b.drain(), "drain");
    EXPECT_TRUE(must(b.next_push(5s), "after drain").has_queue_empty()) << "a second copy";
}

TEST_F(DeliveryTest, DuplicateMessageIdIsStoredOnce) {
    auto b = login(server, bob);
    ASSERT_TRUE(must(b.next_push(5s), "backlog").has_queue_empty());
    auto a = login(server, alice);
    const std::string id = random_id();
    const auto before = static_cast<std::uint64_t>(unix_ms_now());
    auto first = must_ok(a.send(id, bob.account, {{1, 3, "once"}}), "send");
    EXPECT_FALSE(first.send().duplicate());
    auto retry = must_ok(a.send(id, bob.account, {{1, 3, "once"}}), "retry");
    EXPECT_TRUE(retry.send().duplicate());
    // Both answers carry the server's clock, for the sender's estimate of it (protocol.md,
    // "Message ids"); the server shares this machine's clock.
    for (const auto* r : {&first, &retry}) {
        EXPECT_GE(r->send().server_time_ms(), before);
        EXPECT_LE(r->send().server_time_ms(), static_cast<std::uint64_t>(unix_ms_now()));
    }

    auto p = must(b.next_push(5s), "push");
    ASSERT_TRUE(p.has_envelope());
    EXPECT_EQ(p.envelope().message_id(), id);
    // Ask for everything queued: only QueueEmpty follows, no second copy.
    must_ok(b.drain(), "drain");
    auto next = must(b.next_push(5s), "after drain");
    EXPECT_TRUE(next.has_queue_empty());
    // And after a reconnect (not acknowledged): exactly one copy.
    b.close();
    auto b2 = login(server, bob);
    auto got = drain_until_empty(b2, true);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].message_id(), id);
    // A retry after the recipient acknowledged still stores nothing.
    must(b2.pump(300ms), "pump");  // the ack has been answered
    auto late = must_ok(a.send(id, bob.account, {{1, 3, "once"}}), "late retry");
    EXPECT_TRUE(late.send().duplicate());
    must(b2.pump(300ms), "pump");
    EXPECT_EQ(b2.queued_pushes(), 0u);
}

TEST_F(DeliveryTest, GroupSendReachesEveryRecipientAndIsStoredOnce) {
    User carol = register_user(server), dave = register_user(server);
    std::vector<User*> members = {&bob, &carol, &dave};
    auto a = login(server, alice);
    const std::string id = random_id();
    const std::string shared = "one shared sender-key ciphertext";
    std::vector<std::pair<std::string, std::uint32_t>> to;
    for (auto* m : members) to.emplace_back(m->account, 1);
    must_ok(a.send_group(id, 4, shared, to), "group send");
    EXPECT_TRUE(must_ok(a.send_group(id, 4, shared, to), "retry").send().duplicate());

    for (auto* m : members) {
        auto c = login(server, *m);
        auto got = drain_until_empty(c, false);
        ASSERT_EQ(got.size(), 1u);
        EXPECT_EQ(got[0].message_id(), id);
        EXPECT_EQ(got[0].content(), shared);
        EXPECT_EQ(got[0].type(), 4u);
        EXPECT_EQ(got[0].sender_account(), alice.account);
    }
    auto metrics =
        must(net::https_get(server.host(), server.port(), server.pin(), "/metrics"), "metrics");
    EXPECT_EQ(metric(metrics.body, "paperplane_messages_stored_total"), 3);
    EXPECT_EQ(metric(metrics.body, "paperplane_sends_total"), 1);
    EXPECT_EQ(metric(metrics.body, "paperplane_sends_duplicate_total"), 1);

    // Bad group sends store nothing.
    EXPECT_EQ(must(a.send_group(random_id(), 4, shared, {}), "empty").status(), v1::BAD_REQUEST);
    EXPECT_EQ(must(a.send_group(random_id(), 4, shared, {{bob.account, 9}}), "gone").status(),
              v1::STALE_DEVICES);
    a.close();

    must(server.stop(), "SIGTERM");
    auto stats = server.admin({"admin", "stats"});
    ASSERT_EQ(stats.exit_code, 0) << stats.output;
    EXPECT_NE(stats.output.find("queued messages 3\n"), std::string::npos) << stats.output;
    EXPECT_NE(stats.output.find("stored contents 1\n"), std::string::npos)
        << "the shared ciphertext is stored once\n"
        << stats.output;
}

}  // namespace
}  // namespace pp::test

// Two people chat end to end through the real server: both directions, receipts, an offline
// backlog delivered in order once each, restarts, and replies.
#include <sqlite3.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "base/unix_time.hpp"
#include "client/profile_store.hpp"
#include "tests/client_integration/client_fixture.hpp"
#include "tests/support/server_client.hpp"
#include "wire/message_id.hpp"

namespace pp::test {
namespace {

using client::MessageStatus;

// The clocks of the message ids the server keeps for de-duplication, read from its database.
std::vector<std::int64_t> sent_id_clocks(const fs::path& db) {
    std::vector<std::int64_t> out;
    sqlite3* h = nullptr;
    EXPECT_EQ(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);  // the running server may hold a lock for a moment
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(h, "SELECT msg_id FROM sent", -1, &st, nullptr), SQLITE_OK)
        << sqlite3_errmsg(h);
    int rc = SQLITE_DONE;
    while (st != nullptr && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        wire::MessageIdBytes id{};
        EXPECT_EQ(sqlite3_column_bytes(st, 0), static_cast<int>(id.size()));
        if (sqlite3_column_bytes(st, 0) != static_cast<int>(id.size())) continue;
        std::memcpy(id.data(), sqlite3_column_blob(st, 0), id.size());
        out.push_back(wire::message_id_clock_ms(id));
    }
    EXPECT_EQ(rc, SQLITE_DONE) << sqlite3_errmsg(h);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return out;
}

TEST_F(ClientTest, AliceAndBobChatBothWays) {
    auto& alice = make_user("alice");
    auto& bob = make_user("bob");
    befriend(alice, bob);

    send(alice, "bob", "hello bob");
    sync(bob);
    ASSERT_EQ(bob.received_texts(), std::vector<std::string>{"hello bob"});
    const auto got = bob.received().front();
    EXPECT_EQ(got.sender, alice.account());
    EXPECT_EQ(got.conversation, client::contact_conversation(alice.account()));

    send(bob, "alice", "hi alice");
    sync(alice);
    ASSERT_EQ(alice.received_texts(), std::vector<std::string>{"hi alice"});

    // Bob's client told Alice's it stored her message: her copy says delivered.
    auto history = alice.client->history(to(alice, "bob"), 10);
    ASSERT_TRUE(history);
    ASSERT_EQ(history->size(), 2u);
    EXPECT_EQ((*history)[0].text, "hello bob");
    EXPECT_EQ((*history)[0].status, MessageStatus::kDelivered);
    EXPECT_EQ((*history)[1].text, "hi alice");
    EXPECT_EQ((*history)[1].status, MessageStatus::kReceived);

    // Reading sends a read receipt back.
    ASSERT_TRUE(alice.client->mark_read(to(alice, "bob")));
    sync(bob);
    auto bob_history = bob.client->history(to(bob, "alice"), 10);
    ASSERT_TRUE(bob_history);
    EXPECT_EQ(bob_history->back().text, "hi alice");
    EXPECT_EQ(bob_history->back().status, MessageStatus::kRead);
}

TEST_F(ClientTest, OfflineBacklogOfHundredArrivesInOrderOnce) {
    auto& alice = make_user("alice");
    auto& bob = make_user("bob");
    befriend(alice, bob);
    bob.client->disconnect();  // Bob is offline from here on

    std::vector<std::string> sent;
    for (int i = 0; i < 100; ++i) {
        sent.push_back("message " + std::to_string(i));
        send(alice, "bob", sent.back());
    }
    // Bob comes back (a restart, as a phone would).
    restart(bob);
    sync(bob);
    EXPECT_EQ(bob.received_texts(), sent);
    // Nothing comes twice, and nothing is left on the server.
    sync(bob);
    EXPECT_EQ(bob.received().size(), 100u);
    auto stored = bob.client->history(to(bob, "alice"), 1000);
    ASSERT_TRUE(stored);
    ASSERT_EQ(stored->size(), 100u);
    for (std::size_t i = 0; i < sent.size(); ++i) EXPECT_EQ((*stored)[i].text, sent[i]);
    // Every one was acknowledged: a raw connection as Bob finds his queue empty.
    const auto bob_id = bob.account();
    bob.client.reset();
    auto bob_store = client::ProfileStore::open(bob.dir, std::nullopt);
    ASSERT_TRUE(bob_store);
    auto identity = (*bob_store)->identity();
    ASSERT_TRUE(identity);
    auto raw = ServerClient::connect(server.host(), server.port(), server.pin());
    ASSERT_TRUE(raw);
    auto auth = raw->authenticate(std::string(bob_id.begin(), bob_id.end()), *identity);
    ASSERT_TRUE(auth && auth->status() == v1::OK);
    auto first = raw->next_push(10s);
    ASSERT_TRUE(first);
    EXPECT_TRUE(first->has_queue_empty()) << "messages were left unacknowledged";
}

TEST_F(ClientTest, RestartMidConversationKeepsSessions) {
    auto& alice = make_user("alice");
    auto& bob = make_user("bob");
    befriend(alice, bob);
    send(alice, "bob", "one");
    sync(bob);
    send(bob, "alice", "two");
    restart(alice);
    restart(bob);
    sync(alice);
    send(alice, "bob", "three");
    sync(bob);
    EXPECT_EQ(alice.received_texts(), std::vector<std::string>{"two"});
    EXPECT_EQ(bob.received_texts(), (std::vector<std::string>{"one", "three"}));
}

TEST_F(ClientTest, FirstContactFromSomeoneWithOurLink) {
    auto& alice = make_user("alice");
    auto& bob = make_user("bob");
    introduce(alice, bob);  // only Alice has a link
    send(alice, "bob", "you don't know me yet");
    sync(bob);
    ASSERT_EQ(bob.received_texts(), std::vector<std::string>{"you don't know me yet"});
    // Alice is now one of Bob's contacts (unverified), and he can answer.
    auto contacts = bob.client->contacts();
    ASSERT_TRUE(contacts);
    ASSERT_EQ(contacts->size(), 1u);
    EXPECT_EQ(contacts->front().account, alice.account());
    EXPECT_FALSE(contacts->front().verified);
    auto reply = bob.client->send_text(client::contact_conversation(alice.account()), "hello");
    ASSERT_TRUE(reply) << reply.error().detail;
    sync(alice);
    EXPECT_EQ(alice.received_texts(), std::vector<std::string>{"hello"});
}

TEST_F(ClientTest, SafetyNumbersMatchOnBothSides) {
    auto& alice = make_user("alice");
    auto& bob = make_user("bob");
    befriend(alice, bob);
    auto a = alice.client->safety_number(bob.account());
    auto b = bob.client->safety_number(alice.account());
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->digits, b->digits);
    EXPECT_EQ(a->digits.size(), 60u + 11u);  // twelve groups of five, spaces between
    EXPECT_FALSE(a->verified);
    ASSERT_TRUE(alice.client->verify(bob.account(), false));
    EXPECT_TRUE(alice.client->safety_number(bob.account())->verified);
}

TEST_F(ClientTest, QueuedWhileServerIsDownGoesOutLater) {
    auto& alice = make_user("alice");
    auto& bob = make_user("bob");
    befriend(alice, bob);
    send(alice, "bob", "before");
    ASSERT_TRUE(server.stop());
    // Alice knows she is offline (else her first attempt goes down the dead connection, and
    // that attempt is what stamps the id). The session exists, so the message is encrypted
    // and kept in the outbox.
    alice.client->disconnect();
    const std::int64_t queued_ms = unix_ms_now();
    auto m = alice.client->send_text(to(alice, "bob"), "while down", std::nullopt, 2s);
    ASSERT_TRUE(m) << m.error().detail;
    EXPECT_EQ(m->status, MessageStatus::kPending);
    EXPECT_EQ(alice.client->status().outbox, 1u);
    std::this_thread::sleep_for(20ms);  // queued and first attempt a clear distance apart
    const std::int64_t restarted_ms = unix_ms_now();
    ASSERT_TRUE(server.start());
    sync(alice);
    EXPECT_EQ(alice.client->status().outbox, 0u);
    // The server has stored two sends, both Alice's. The queued one's id carries the clock of
    // its first attempt (the server's clock, as Alice estimated it when she authenticated),
    // not of the moment it was written (docs/protocol.md, "Message ids").
    const auto clocks = sent_id_clocks(server.data_dir() / "paperplane.db");
    ASSERT_EQ(clocks.size(), 2u);
    EXPECT_LT(std::min(clocks[0], clocks[1]), queued_ms);     // "before"
    EXPECT_GE(std::max(clocks[0], clocks[1]), restarted_ms);  // "while down"
    sync(bob);
    EXPECT_EQ(bob.received_texts(), (std::vector<std::string>{"before", "while down"}));
}

// An event handler that sends (docs/client.md's bot does) runs a flush inside the flush that
// raised the event. The inner one sends the rest of the outbox; the outer one must then skip
// those entries, not send them again under ids of its own: the server would store them twice
// and Bob would find the copies undecryptable.
TEST_F(ClientTest, ASendFromAnEventHandlerDuringAFlushSendsEachMessageOnce) {
    auto& alice = make_user("alice");
    auto& bob = make_user("bob");
    befriend(alice, bob);
    send(alice, "bob", "before");
    alice.client->disconnect();
    const auto to_bob = to(alice, "bob");
    for (const char* text : {"one", "two", "three"}) {
        auto m = alice.client->send_text(to_bob, text, std::nullopt, 1s);
        ASSERT_TRUE(m) << m.error().detail;
        EXPECT_EQ(m->status, MessageStatus::kPending);
    }
    bool answered = false;
    alice.client->set_event_handler([&](const client::Event& e) {
        alice.events.push_back(e);
        if (answered || e.kind != client::Event::Kind::kStatus || e.status != MessageStatus::kSent)
            return;
        answered = true;
        auto m = alice.client->send_text(to_bob, "from the handler", std::nullopt, 5s);
        EXPECT_TRUE(m) << m.error().detail;
    });
    sync(alice);
    EXPECT_TRUE(answered);
    EXPECT_EQ(alice.client->status().outbox, 0u);
    EXPECT_EQ(sent_id_clocks(server.data_dir() / "paperplane.db").size(), 5u);
    sync(bob);
    EXPECT_EQ(bob.received_texts(),
              (std::vector<std::string>{"before", "one", "two", "three", "from the handler"}));
    EXPECT_EQ(bob.count(client::Event::Kind::kUndecryptable), 0u);
}

TEST_F(ClientTest, WrongPassphraseIsRefusedAndChangesNothing) {
    const auto dir = root / "locked";
    {
        auto c = Client::create({dir, std::string("correct horse battery")});
        ASSERT_TRUE(c) << c.error().detail;
    }
    auto wrong = Client::open({dir, std::string("wrong passphrase")});
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error().code, ErrorCode::kBadMac);
    auto none = Client::open({dir, std::nullopt});
    ASSERT_FALSE(none);
    auto right = Client::open({dir, std::string("correct horse battery")});
    ASSERT_TRUE(right) << right.error().detail;
}

}  // namespace
}  // namespace pp::test

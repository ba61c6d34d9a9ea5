// Two people chat end to end through the real server: both directions, receipts, an offline
// backlog delivered in order once each, restarts, and replies.
#include "client/profile_store.hpp"
#include "tests/client_integration/client_fixture.hpp"
#include "tests/support/server_client.hpp"

namespace pp::test {
namespace {

using client::MessageStatus;

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
    // The session exists, so the message is encrypted and kept in the outbox.
    auto m = alice.client->send_text(to(alice, "bob"), "while down", std::nullopt, 2s);
    ASSERT_TRUE(m) << m.error().detail;
    EXPECT_EQ(m->status, MessageStatus::kPending);
    EXPECT_EQ(alice.client->status().outbox, 1u);
    ASSERT_TRUE(server.start());
    sync(alice);
    EXPECT_EQ(alice.client->status().outbox, 0u);
    sync(bob);
    EXPECT_EQ(bob.received_texts(), (std::vector<std::string>{"before", "while down"}));
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

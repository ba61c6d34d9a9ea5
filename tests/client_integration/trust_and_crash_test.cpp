// A server that lies about keys is caught, and a client killed between storing and
// acknowledging loses nothing. The lying server is the real one with its database edited
// while it is stopped, exactly what a compromised operator could do.
#include <sqlite3.h>

#include <random>

#include "client/content_codec.hpp"
#include "client/profile_store.hpp"
#include "protocol/session_cipher.hpp"
#include "tests/client_integration/client_fixture.hpp"
#include "tests/support/server_client.hpp"

namespace pp::test {
namespace {

// Runs SQL on the stopped server's database; binds ?1..?n to the given blobs.
void edit_server_db(const fs::path& db, const char* sql,
                    const std::vector<client::AccountId>& ids) {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(h, sql, -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(h);
    for (std::size_t i = 0; i < ids.size(); ++i)
        sqlite3_bind_blob(st, static_cast<int>(i + 1), ids[i].data(),
                          static_cast<int>(ids[i].size()), SQLITE_TRANSIENT);
    EXPECT_EQ(sqlite3_step(st), SQLITE_DONE) << sqlite3_errmsg(h);
    sqlite3_finalize(st);
    sqlite3_close(h);
}

// Bob's account, as the server hands it out, now carries Mallory's keys.
void substitute_keys(const fs::path& db, const client::AccountId& bob,
                     const client::AccountId& mallory) {
    edit_server_db(db,
                   "UPDATE accounts SET identity_key = "
                   "(SELECT identity_key FROM accounts WHERE id = ?2) WHERE id = ?1",
                   {bob, mallory});
    edit_server_db(db,
                   "UPDATE devices SET (spk_id, spk_public, spk_signature) = "
                   "(SELECT spk_id, spk_public, spk_signature FROM devices WHERE account = ?2) "
                   "WHERE account = ?1",
                   {bob, mallory});
    edit_server_db(
        db, "DELETE FROM prekeys WHERE did = (SELECT did FROM devices WHERE account = ?1)", {bob});
    edit_server_db(db,
                   "UPDATE prekeys SET did = (SELECT did FROM devices WHERE account = ?1) "
                   "WHERE did = (SELECT did FROM devices WHERE account = ?2)",
                   {bob, mallory});
}

TEST_F(ClientTest, ServerSubstitutingABundleKeyIsRefused) {
    auto& alice = make_user("alice");
    auto& bob = make_user("bob");
    auto& mallory = make_user("mallory");
    introduce(alice, bob);  // Alice trusts the key in Bob's link
    ASSERT_TRUE(server.stop());
    substitute_keys(server.data_dir() / "paperplane.db", bob.account(), mallory.account());
    ASSERT_TRUE(server.start());

    auto m = alice.client->send_text(to(alice, "bob"), "for bob only");
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().code, ErrorCode::kUntrustedIdentity);
    EXPECT_EQ(alice.count(client::Event::Kind::kIdentityChanged), 1u);
    auto contacts = alice.client->contacts();
    ASSERT_TRUE(contacts);
    EXPECT_TRUE(contacts->front().changed_identity_key.has_value());
    EXPECT_EQ(alice.client->status().outbox, 0u);
    // Nothing was encrypted to the substituted key, so nothing reaches anyone.
    sync(mallory);
    EXPECT_TRUE(mallory.received().empty());
    // And Alice keeps refusing until she has compared safety numbers and accepted.
    auto again = alice.client->send_text(to(alice, "bob"), "still for bob only");
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, ErrorCode::kUntrustedIdentity);
}

TEST_F(ClientTest, ForgedSenderWithAnotherKeyIsHeldUntilAccepted) {
    auto& alice = make_user("alice");
    auto& bob = make_user("bob");
    auto& mallory = make_user("mallory");
    befriend(alice, bob);
    introduce(mallory, bob);
    bob.client->disconnect();
    send(mallory, "bob", "this is alice, honest");
    // The server relabels Mallory's queued message as coming from Alice.
    ASSERT_TRUE(server.stop());
    edit_server_db(server.data_dir() / "paperplane.db",
                   "UPDATE queue SET sender_account = ?1 WHERE sender_account = ?2",
                   {alice.account(), mallory.account()});
    ASSERT_TRUE(server.start());

    sync(bob);
    EXPECT_TRUE(bob.received().empty()) << "a message under a changed key was shown";
    EXPECT_EQ(bob.count(client::Event::Kind::kIdentityChanged), 1u);
    auto refused = bob.client->send_text(to(bob, "alice"), "hello?");
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::kUntrustedIdentity);
    // The number to compare now is the one for the new key, with the old one alongside.
    auto sn = bob.client->safety_number(alice.account());
    ASSERT_TRUE(sn);
    EXPECT_TRUE(sn->pending_change);
    EXPECT_NE(sn->digits, sn->previous_digits);
    EXPECT_FALSE(sn->verified);
    // Only after an explicit decision does the held message show, with the key the user took.
    ASSERT_FALSE(bob.client->verify(alice.account(), false));
    ASSERT_TRUE(bob.client->verify(alice.account(), true));
    EXPECT_EQ(bob.received_texts(), std::vector<std::string>{"this is alice, honest"});
}

class ClientCrashTest : public ClientTest {
  protected:
    CommandResult cli(const User& u, const std::vector<std::string>& args,
                      std::chrono::milliseconds timeout, const std::string& env = {}) {
        std::vector<std::string> argv{"/usr/bin/env"};
        if (!env.empty()) argv.push_back(env);
        argv.push_back(PP_CLI_BINARY);
        argv.push_back("--profile-dir");
        argv.push_back(u.dir.string());
        argv.insert(argv.end(), args.begin(), args.end());
        return ServerProcess::run(argv, timeout);
    }
};

// The window that matters, hit deterministically: the process dies after messages are stored
// and before they are acknowledged. They come again, are recognised, and are stored once.
TEST_F(ClientCrashTest, ExitBetweenStoreAndAckLosesAndDuplicatesNothing) {
    auto& alice = make_user("alice");
    auto& bob = make_user("bob");
    befriend(alice, bob);
    bob.client.reset();  // Bob runs as the CLI from here on
    std::vector<std::string> sent;
    for (int i = 0; i < 30; ++i) {
        sent.push_back("m" + std::to_string(i));
        send(alice, "bob", sent.back());
    }
    for (int round = 0; round < 3; ++round) {
        auto r = cli(bob, {"sync"}, 60s, "PAPERPLANE_TEST_EXIT_AFTER_STORE=7");
        ASSERT_EQ(r.exit_code, 137) << r.output;
    }
    auto done = cli(bob, {"sync"}, 60s);
    ASSERT_EQ(done.exit_code, 0) << done.output;
    auto c = Client::open({bob.dir, std::nullopt});
    ASSERT_TRUE(c);
    auto history = (*c)->history(client::contact_conversation(alice.account()), 100);
    ASSERT_TRUE(history);
    std::vector<std::string> got;
    for (const auto& m : *history) got.push_back(m.text);
    EXPECT_EQ(got, sent);
}

// The same with real SIGKILLs at random moments while messages keep arriving.
TEST_F(ClientCrashTest, KillNineAtRandomMomentsLosesNothing) {
    auto& alice = make_user("alice");
    auto& bob = make_user("bob");
    befriend(alice, bob);
    bob.client.reset();
    std::mt19937 rng{std::random_device{}()};
    std::vector<std::string> sent;
    for (int round = 0; round < 8; ++round) {
        for (int i = 0; i < 10; ++i) {
            sent.push_back("r" + std::to_string(round) + "-" + std::to_string(i));
            send(alice, "bob", sent.back());
        }
        const auto kill_after =
            std::chrono::milliseconds(std::uniform_int_distribution<int>(30, 400)(rng));
        (void)cli(bob, {"sync"}, kill_after);  // SIGKILLed if still running then
    }
    auto done = cli(bob, {"sync"}, 60s);
    ASSERT_EQ(done.exit_code, 0) << done.output;
    auto c = Client::open({bob.dir, std::nullopt});
    ASSERT_TRUE(c);
    auto history = (*c)->history(client::contact_conversation(alice.account()), 1000);
    ASSERT_TRUE(history);
    std::vector<std::string> got;
    for (const auto& m : *history) got.push_back(m.text);
    EXPECT_EQ(got, sent);
}

}  // namespace
}  // namespace pp::test

namespace pp::test {
namespace {

// A contact crafts a correctly encrypted message whose content makes processing fail (a sender
// key distribution that does not parse). It must be reported and acknowledged, not block the
// queue: Alice's message behind it still arrives.
TEST_F(ClientTest, PoisonedContentFromAPeerDoesNotBlockTheQueue) {
    auto& alice = make_user("alice");
    auto& bob = make_user("bob");
    auto& mallory = make_user("mallory");
    befriend(alice, bob);
    befriend(mallory, bob);
    send(mallory, "bob", "hi");
    sync(bob);
    const auto m_id = mallory.account();
    mallory.client.reset();

    // Encrypted with Mallory's real session, sent over a raw connection as Mallory.
    auto store = client::ProfileStore::open(mallory.dir, std::nullopt);
    ASSERT_TRUE(store);
    auto session = (*store)->session(bob.account(), 1);
    ASSERT_TRUE(session && session->has_value());
    client::content::Content poison;
    poison.mutable_sender_key()->set_group_id(std::string(16, '\x42'));
    poison.mutable_sender_key()->set_distribution(std::string(1, '\0'));
    auto ct = protocol::encrypt(**session, client::encode_content(poison));
    ASSERT_TRUE(ct);
    ASSERT_TRUE((*store)->put_session(bob.account(), 1, **session));
    auto identity = (*store)->identity();
    ASSERT_TRUE(identity);
    auto raw = ServerClient::connect(server.host(), server.port(), server.pin());
    ASSERT_TRUE(raw);
    const auto b_id = bob.account();
    auto auth = raw->authenticate(std::string(m_id.begin(), m_id.end()), *identity);
    ASSERT_TRUE(auth && auth->status() == v1::OK);
    auto sent = raw->send(random_id(), std::string(b_id.begin(), b_id.end()),
                          {{1, static_cast<std::uint32_t>(ct->type),
                            std::string(ct->bytes.begin(), ct->bytes.end())}});
    ASSERT_TRUE(sent && sent->status() == v1::OK);
    raw->close();

    send(alice, "bob", "after the poison");
    sync(bob);
    EXPECT_EQ(bob.received_texts(), (std::vector<std::string>{"hi", "after the poison"}));
    EXPECT_EQ(bob.count(client::Event::Kind::kUndecryptable), 1u);
    sync(bob);  // nothing comes back
    EXPECT_EQ(bob.count(client::Event::Kind::kUndecryptable), 1u);
}

}  // namespace
}  // namespace pp::test

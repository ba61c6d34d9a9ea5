// Groups of real clients: messages reach every member once, and a removed member can read
// nothing sent after the removal, even holding the ciphertext itself.
#include "client/profile_store.hpp"
#include "protocol/messages.hpp"
#include "tests/client_integration/client_fixture.hpp"
#include "tests/support/server_client.hpp"

namespace pp::test {
namespace {

class GroupTest : public ClientTest {
  protected:
    void make_five() {
        for (const char* n : {"ann", "ben", "cat", "dan", "eve"}) make_user(n);
        for (const char* n : {"ben", "cat", "dan", "eve"}) befriend(users["ann"], users[n]);
        std::vector<client::AccountId> members;
        for (const char* n : {"ben", "cat", "dan", "eve"}) members.push_back(users[n].account());
        auto g = users["ann"].client->create_group("five", members);
        ASSERT_TRUE(g) << g.error().detail;
        group = g->id;
        for (const char* n : {"ben", "cat", "dan", "eve"}) sync(users[n]);
    }
    void send_group(User& from, const std::string& text) {
        auto m = from.client->send_text(client::group_conversation(group), text);
        ASSERT_TRUE(m) << from.name << ": " << m.error().detail;
        ASSERT_EQ(m->status, client::MessageStatus::kSent);
    }
    std::vector<std::string> group_texts(User& u) {
        std::vector<std::string> out;
        for (const auto& m : u.received())
            if (m.conversation == client::group_conversation(group)) out.push_back(m.text);
        return out;
    }
    client::GroupId group{};
};

TEST_F(GroupTest, FiveMembersAllReceiveEveryMessageOnce) {
    make_five();
    // Everyone learned of the group from Ann's update, members and name alike.
    for (const char* n : {"ben", "cat", "dan", "eve"}) {
        auto gs = users[n].client->groups();
        ASSERT_TRUE(gs);
        ASSERT_EQ(gs->size(), 1u) << n;
        EXPECT_EQ(gs->front().name, "five");
        EXPECT_EQ(gs->front().members.size(), 5u);
    }
    send_group(users["ann"], "hello all");
    for (const char* n : {"ben", "cat", "dan", "eve"}) sync(users[n]);
    // Ben writes too: he never added Cat, Dan or Eve, and reaches them with the keys Ann
    // vouched for in the group.
    send_group(users["ben"], "ben here");
    for (const char* n : {"ann", "cat", "dan", "eve"}) sync(users[n]);
    for (const char* n : {"cat", "dan", "eve"})
        EXPECT_EQ(group_texts(users[n]), (std::vector<std::string>{"hello all", "ben here"})) << n;
    EXPECT_EQ(group_texts(users["ben"]), std::vector<std::string>{"hello all"});
    EXPECT_EQ(group_texts(users["ann"]), std::vector<std::string>{"ben here"});
}

TEST_F(GroupTest, RemovedMemberCannotReadLaterMessages) {
    make_five();
    send_group(users["ann"], "before");
    for (const char* n : {"ben", "cat", "dan", "eve"}) sync(users[n]);
    send_group(users["cat"], "cat before");
    for (const char* n : {"ann", "ben", "dan", "eve"}) sync(users[n]);
    ASSERT_EQ(group_texts(users["eve"]), (std::vector<std::string>{"before", "cat before"}));

    auto removed = users["ann"].client->remove_member(group, users["eve"].account());
    ASSERT_TRUE(removed) << removed.error().detail;
    EXPECT_EQ(removed->members.size(), 4u);
    for (const char* n : {"ben", "cat", "dan", "eve"}) sync(users[n]);
    auto eve_groups = users["eve"].client->groups();
    ASSERT_TRUE(eve_groups);
    EXPECT_TRUE(eve_groups->front().left);

    // Ben stays offline so Ann's next group ciphertext waits in his queue, where the test
    // can pick it up as the server (or anyone on the path) could.
    users["ben"].client->disconnect();
    send_group(users["ann"], "after");
    send_group(users["cat"], "cat after");
    for (const char* n : {"dan", "eve"}) sync(users[n]);
    EXPECT_EQ(group_texts(users["dan"]),
              (std::vector<std::string>{"before", "cat before", "after", "cat after"}));
    EXPECT_EQ(group_texts(users["eve"]), (std::vector<std::string>{"before", "cat before"}));

    // The ciphertext of "after", taken from Ben's queue over a raw connection as Ben.
    auto ben_store = client::ProfileStore::open(users["ben"].dir, std::nullopt);
    ASSERT_TRUE(ben_store);
    auto ben_identity = (*ben_store)->identity();
    ASSERT_TRUE(ben_identity);
    auto raw = ServerClient::connect(server.host(), server.port(), server.pin());
    ASSERT_TRUE(raw);
    const auto ben_id = users["ben"].account();
    auto auth = raw->authenticate(std::string(ben_id.begin(), ben_id.end()), *ben_identity);
    ASSERT_TRUE(auth);
    ASSERT_EQ(auth->status(), v1::OK);
    // Both group messages sent after the removal (Ann's and Cat's) wait in Ben's queue.
    std::map<std::string, v1::Envelope> after;  // by sender account
    for (int i = 0; i < 40; ++i) {
        auto p = raw->next_push(5s);
        ASSERT_TRUE(p);
        if (p->has_queue_empty()) break;
        if (p->envelope().type() == static_cast<std::uint32_t>(protocol::MessageType::kSenderKey))
            after[p->envelope().sender_account()] = p->envelope();
    }
    raw->close();
    const auto ann_id = users["ann"].account();
    const auto cat_id = users["cat"].account();
    ASSERT_EQ(after.size(), 2u) << "Ann's and Cat's group messages are not in Ben's queue";

    // Eve holds every sender key she was ever given; none opens either message...
    users["eve"].client.reset();
    auto eve_store = client::ProfileStore::open(users["eve"].dir, std::nullopt);
    ASSERT_TRUE(eve_store);
    // ...Ann's (she removed Eve and rotated) and Cat's (rotated when the update reached her).
    for (const auto& sender : {ann_id, cat_id}) {
        const auto& env = after.at(std::string(sender.begin(), sender.end()));
        auto parsed = protocol::SenderKeyMessage::parse(as_bytes(env.content()));
        ASSERT_TRUE(parsed);
        auto indexed = (*eve_store)->group_for_sender_key(sender, 1, parsed->key_id);
        ASSERT_TRUE(indexed);
        EXPECT_FALSE(indexed->has_value()) << "Eve was given a new sender key";
        auto record = (*eve_store)->sender_key(group, sender, 1);
        ASSERT_TRUE(record);
        ASSERT_TRUE(record->has_value()) << "Eve should hold the old key (she had it before)";
        auto opened = protocol::group_decrypt(**record, as_bytes(env.content()));
        EXPECT_FALSE(opened);
    }
}

TEST_F(GroupTest, RenameAndAddReachEveryone) {
    make_five();
    auto& ann = users["ann"];
    auto renamed = ann.client->rename_group(group, "five friends");
    ASSERT_TRUE(renamed) << renamed.error().detail;
    auto& fay = make_user("fay");
    befriend(ann, fay);
    auto added = ann.client->add_member(group, fay.account());
    ASSERT_TRUE(added) << added.error().detail;
    for (const char* n : {"ben", "fay"}) sync(users[n]);
    send_group(ann, "welcome fay");
    for (const char* n : {"ben", "fay"}) sync(users[n]);
    auto gs = fay.client->groups();
    ASSERT_TRUE(gs);
    ASSERT_EQ(gs->size(), 1u);
    EXPECT_EQ(gs->front().name, "five friends");
    EXPECT_EQ(gs->front().members.size(), 6u);
    EXPECT_EQ(group_texts(fay), std::vector<std::string>{"welcome fay"});
    EXPECT_EQ(group_texts(users["ben"]), std::vector<std::string>{"welcome fay"});
}

}  // namespace
}  // namespace pp::test

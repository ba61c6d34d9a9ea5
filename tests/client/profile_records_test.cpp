// Every record type round-trips; the store's rules (names, statuses, order, idempotence,
// transactions) hold.
#include <sqlite3.h>

#include "profile_fixture.hpp"

namespace pp::client {
namespace {

using namespace testing;

class ProfileRecords : public ::testing::Test {
  protected:
    void SetUp() override {
        store = must(ProfileStore::create(tmp.profile(), std::nullopt));
        ASSERT_TRUE(store);
    }
    void reopen() {
        store.reset();
        store = must(ProfileStore::open(tmp.profile(), std::nullopt));
        ASSERT_TRUE(store);
    }

    TempDir tmp;
    std::unique_ptr<ProfileStore> store;
};

Bytes bytes_of(const SecretBytes& s) {
    return Bytes(s.view().begin(), s.view().end());
}

Bytes secret_of(const crypto::KeyPair& k) {
    return Bytes(k.private_key.secret().view().begin(), k.private_key.secret().view().end());
}

const ConversationId kConvA{ConversationId::Kind::kContact, id16(0xa1)};
const ConversationId kConvB{ConversationId::Kind::kGroup, id16(0xb2)};

TEST_F(ProfileRecords, Identity) {
    EXPECT_EQ(store->identity().error().code, ErrorCode::kNoSession);
    EXPECT_EQ(store->registration_id().error().code, ErrorCode::kNoSession);
    auto identity = crypto::KeyPair::generate();
    ASSERT_TRUE(store->set_identity(identity, 4242).ok());
    reopen();
    auto got = store->identity();
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->public_key, identity.public_key);
    EXPECT_EQ(secret_of(*got), secret_of(identity));
    EXPECT_EQ(*store->registration_id(), 4242u);
}

TEST_F(ProfileRecords, Account) {
    auto none = store->account();
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->has_value());
    AccountRecord a;
    a.server = {"chat.example.org", 8443, std::string(64, 'e')};
    a.account = id16(7);
    a.device = 3;
    a.registration_id = 999;
    a.username = "zoya";
    ASSERT_TRUE(store->set_account(a).ok());
    reopen();
    auto got = store->account();
    ASSERT_TRUE(got.ok() && got->has_value());
    EXPECT_EQ((*got)->server, a.server);
    EXPECT_EQ((*got)->account, a.account);
    EXPECT_EQ((*got)->device, 3u);
    EXPECT_EQ((*got)->registration_id, 999u);
    EXPECT_EQ((*got)->username, "zoya");
}

TEST_F(ProfileRecords, SignedPrekeysNewestFirst) {
    auto identity = crypto::KeyPair::generate();
    auto old_spk = protocol::generate_signed_prekey(identity, 1, 1000);
    auto new_spk = protocol::generate_signed_prekey(identity, 2, 2000);
    ASSERT_TRUE(store->put_signed_prekey(new_spk).ok());
    ASSERT_TRUE(store->put_signed_prekey(old_spk).ok());
    auto got = store->signed_prekey(1);
    ASSERT_TRUE(got.ok() && got->has_value());
    EXPECT_EQ(bytes_of(protocol::serialize_signed_prekey(**got)),
              bytes_of(protocol::serialize_signed_prekey(old_spk)));
    EXPECT_FALSE(store->signed_prekey(3)->has_value());
    auto all = store->signed_prekeys();
    ASSERT_TRUE(all.ok());
    ASSERT_EQ(all->size(), 2u);
    EXPECT_EQ((*all)[0].id, 2u);
    EXPECT_EQ((*all)[1].id, 1u);
    ASSERT_TRUE(store->remove_signed_prekey(1).ok());
    EXPECT_EQ(store->signed_prekeys()->size(), 1u);
}

TEST_F(ProfileRecords, OneTimePrekeys) {
    auto prekeys = protocol::generate_prekeys(500, 3);
    ASSERT_TRUE(store->put_prekeys(prekeys).ok());
    EXPECT_EQ(*store->prekey_count(), 3u);
    auto got = store->prekey(501);
    ASSERT_TRUE(got.ok() && got->has_value());
    EXPECT_EQ(bytes_of(protocol::serialize_prekey(**got)),
              bytes_of(protocol::serialize_prekey(prekeys[1])));
    ASSERT_TRUE(store->remove_prekey(501).ok());
    EXPECT_FALSE(store->prekey(501)->has_value());
    EXPECT_EQ(*store->prekey_count(), 2u);
    ASSERT_TRUE(store->put_prekeys({}).ok());
}

TEST_F(ProfileRecords, Counters) {
    EXPECT_EQ(*store->counter("next_prekey_id", 17), 17);
    ASSERT_TRUE(store->set_counter("next_prekey_id", 100).ok());
    ASSERT_TRUE(store->set_counter("last_rotation_ms", -5).ok());
    ASSERT_TRUE(store->set_counter("next_prekey_id", 200).ok());
    EXPECT_EQ(*store->counter("next_prekey_id", 17), 200);
    EXPECT_EQ(*store->counter("last_rotation_ms", 0), -5);
}

TEST_F(ProfileRecords, Sessions) {
    auto one = make_session();
    auto two = make_session();
    EXPECT_FALSE(store->session(id16(1), 1)->has_value());
    ASSERT_TRUE(store->put_session(id16(1), 2, two).ok());
    ASSERT_TRUE(store->put_session(id16(1), 1, one).ok());
    ASSERT_TRUE(store->put_session(id16(9), 1, one).ok());
    reopen();
    auto got = store->session(id16(1), 2);
    ASSERT_TRUE(got.ok() && got->has_value());
    EXPECT_EQ(bytes_of((*got)->serialize()), bytes_of(two.serialize()));
    EXPECT_EQ(*store->session_devices(id16(1)), (std::vector<DeviceId>{1, 2}));
    // Replacing keeps one row.
    ASSERT_TRUE(store->put_session(id16(1), 2, one).ok());
    EXPECT_EQ(bytes_of((*store->session(id16(1), 2))->serialize()), bytes_of(one.serialize()));
    ASSERT_TRUE(store->delete_sessions(id16(1)).ok());
    EXPECT_TRUE(store->session_devices(id16(1))->empty());
    EXPECT_EQ(store->session_devices(id16(9))->size(), 1u);
}

TEST_F(ProfileRecords, SessionMovedToAnotherRowDoesNotOpen) {
    ASSERT_TRUE(store->put_session(id16(1), 1, make_session()).ok());
    ASSERT_TRUE(store->put_session(id16(1), 2, make_session()).ok());
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open((tmp.profile() / "profile.db").c_str(), &h), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(h,
                           "UPDATE sessions SET sealed = (SELECT sealed FROM sessions "
                           "WHERE device = 1) WHERE device = 2",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(h);
    auto moved = store->session(id16(1), 2);
    ASSERT_FALSE(moved.ok());
    EXPECT_EQ(moved.error().code, ErrorCode::kMalformed);
    EXPECT_TRUE(store->session(id16(1), 1).ok());
}

TEST_F(ProfileRecords, SenderKeys) {
    auto ours = make_sender_key();
    auto theirs = make_sender_key();
    const GroupId g = id16(0x33);
    EXPECT_FALSE(store->sender_key(g, id16(1), 1)->has_value());
    ASSERT_TRUE(store->put_sender_key(g, id16(1), 1, ours).ok());
    ASSERT_TRUE(store->put_sender_key(g, id16(2), 4, theirs).ok());
    ASSERT_TRUE(store->put_sender_key(id16(0x44), id16(2), 4, ours).ok());
    auto got = store->sender_key(g, id16(2), 4);
    ASSERT_TRUE(got.ok() && got->has_value());
    EXPECT_EQ(bytes_of((*got)->serialize()), bytes_of(theirs.serialize()));

    ASSERT_TRUE(store->index_sender_key(id16(2), 4, 12345, g).ok());
    EXPECT_EQ(*store->group_for_sender_key(id16(2), 4, 12345), std::optional<GroupId>(g));
    EXPECT_FALSE(store->group_for_sender_key(id16(2), 5, 12345)->has_value());

    EXPECT_FALSE(*store->sender_key_shared(g, 77, id16(5)));
    ASSERT_TRUE(store->mark_sender_key_shared(g, 77, id16(5)).ok());
    ASSERT_TRUE(store->mark_sender_key_shared(g, 77, id16(5)).ok());  // idempotent
    EXPECT_TRUE(*store->sender_key_shared(g, 77, id16(5)));
    EXPECT_FALSE(*store->sender_key_shared(g, 78, id16(5)));
    EXPECT_FALSE(*store->sender_key_shared(g, 77, id16(6)));

    ASSERT_TRUE(store->delete_sender_keys(g).ok());
    EXPECT_FALSE(store->sender_key(g, id16(1), 1)->has_value());
    EXPECT_FALSE(store->sender_key(g, id16(2), 4)->has_value());
    EXPECT_FALSE(store->group_for_sender_key(id16(2), 4, 12345)->has_value());
    EXPECT_FALSE(*store->sender_key_shared(g, 77, id16(5)));
    EXPECT_TRUE(store->sender_key(id16(0x44), id16(2), 4)->has_value());
}

Contact make_contact(std::uint8_t n, std::string name) {
    Contact c;
    c.account = id16(n);
    c.name = std::move(name);
    c.identity_key = key33(n);
    c.added_ms = 1000 + n;
    return c;
}

TEST_F(ProfileRecords, ContactsRoundTripAndSortByName) {
    auto bob = make_contact(2, "bob");
    bob.verified = true;
    bob.changed_identity_key = key33(0x22);
    ASSERT_TRUE(store->put_contact(make_contact(1, "carol")).ok());
    ASSERT_TRUE(store->put_contact(bob).ok());
    ASSERT_TRUE(store->put_contact(make_contact(3, "alice")).ok());
    reopen();
    auto got = store->contact(id16(2));
    ASSERT_TRUE(got.ok() && got->has_value());
    EXPECT_EQ((*got)->name, "bob");
    EXPECT_EQ((*got)->identity_key, key33(2));
    EXPECT_TRUE((*got)->verified);
    EXPECT_EQ((*got)->changed_identity_key, std::optional<Bytes>(key33(0x22)));
    EXPECT_EQ((*got)->added_ms, 1002);
    EXPECT_FALSE((*store->contact(id16(1)))->changed_identity_key.has_value());
    EXPECT_FALSE(store->contact(id16(8))->has_value());

    auto by_name = store->contact_by_name("alice");
    ASSERT_TRUE(by_name.ok() && by_name->has_value());
    EXPECT_EQ((*by_name)->account, id16(3));
    EXPECT_FALSE(store->contact_by_name("dave")->has_value());

    auto all = store->contacts();
    ASSERT_TRUE(all.ok());
    ASSERT_EQ(all->size(), 3u);
    EXPECT_EQ((*all)[0].name, "alice");
    EXPECT_EQ((*all)[1].name, "bob");
    EXPECT_EQ((*all)[2].name, "carol");
}

TEST_F(ProfileRecords, ContactNamesAreUnique) {
    ASSERT_TRUE(store->put_contact(make_contact(1, "alice")).ok());
    ASSERT_TRUE(store->put_contact(make_contact(2, "bob")).ok());
    auto clash = store->put_contact(make_contact(2, "alice"));
    ASSERT_FALSE(clash.ok());
    EXPECT_EQ(clash.error().code, ErrorCode::kLimitExceeded);
    EXPECT_EQ((*store->contact(id16(2)))->name, "bob");
    // Replacing a contact under its own name, or renaming it to a free one, is fine.
    auto renamed = make_contact(1, "alice");
    renamed.verified = true;
    ASSERT_TRUE(store->put_contact(renamed).ok());
    ASSERT_TRUE(store->put_contact(make_contact(2, "robert")).ok());
    ASSERT_TRUE(store->put_contact(make_contact(3, "bob")).ok());
    EXPECT_EQ(store->contacts()->size(), 3u);
    // Empty names are "no name" and never collide.
    ASSERT_TRUE(store->put_contact(make_contact(4, "")).ok());
    ASSERT_TRUE(store->put_contact(make_contact(5, "")).ok());
    EXPECT_FALSE(store->contact_by_name("")->has_value());
}

Group make_group(std::uint8_t n, std::string name) {
    Group g;
    g.id = id16(n);
    g.name = std::move(name);
    g.members = {{id16(1), key33(1)}, {id16(2), key33(2)}};
    g.revision = n;
    return g;
}

TEST_F(ProfileRecords, GroupsRoundTripAndNamesAreUnique) {
    auto g = make_group(0x50, "family");
    g.left = true;
    g.revision = 1ull << 40;
    ASSERT_TRUE(store->put_group(g).ok());
    ASSERT_TRUE(store->put_group(make_group(0x51, "book club")).ok());
    auto empty = make_group(0x52, "empty");
    empty.members.clear();
    ASSERT_TRUE(store->put_group(empty).ok());
    reopen();
    auto got = store->group(id16(0x50));
    ASSERT_TRUE(got.ok() && got->has_value());
    EXPECT_EQ((*got)->name, "family");
    EXPECT_EQ((*got)->members, g.members);
    EXPECT_EQ((*got)->revision, 1ull << 40);
    EXPECT_TRUE((*got)->left);
    EXPECT_TRUE((*store->group(id16(0x52)))->members.empty());
    EXPECT_FALSE(store->group(id16(0x53))->has_value());
    EXPECT_EQ((*store->group_by_name("book club"))->id, id16(0x51));
    EXPECT_FALSE(store->group_by_name("nope")->has_value());
    auto all = store->groups();
    ASSERT_TRUE(all.ok());
    ASSERT_EQ(all->size(), 3u);
    EXPECT_EQ((*all)[0].name, "book club");
    EXPECT_EQ((*all)[2].name, "family");

    auto clash = store->put_group(make_group(0x51, "family"));
    ASSERT_FALSE(clash.ok());
    EXPECT_EQ(clash.error().code, ErrorCode::kLimitExceeded);
    EXPECT_EQ((*store->group(id16(0x51)))->name, "book club");
    auto bumped = make_group(0x50, "family");
    bumped.revision = 7;
    ASSERT_TRUE(store->put_group(bumped).ok());
    EXPECT_EQ((*store->group(id16(0x50)))->revision, 7u);
}

TEST_F(ProfileRecords, MessagesRoundTripAndAreKeyedBySenderAndId) {
    auto m = make_message(2, 1, kConvA, Direction::kIncoming, 5000, "hello there");
    m.reply_to = id16(0x77);
    EXPECT_TRUE(*store->add_message(m));
    auto dup = m;
    dup.text = "changed";
    EXPECT_FALSE(*store->add_message(dup));
    // Same id from another sender is another message.
    EXPECT_TRUE(*store->add_message(make_message(3, 1, kConvA, Direction::kIncoming, 5001, "x")));
    reopen();
    auto got = store->message(id16(2), id16(1));
    ASSERT_TRUE(got.ok() && got->has_value());
    const Message& g = **got;
    EXPECT_EQ(g.text, "hello there");
    EXPECT_EQ(g.reply_to, std::optional<MessageId>(id16(0x77)));
    EXPECT_EQ(g.conversation, kConvA);
    EXPECT_EQ(g.direction, Direction::kIncoming);
    EXPECT_EQ(g.sender, id16(2));
    EXPECT_EQ(g.sent_ms, 4995);
    EXPECT_EQ(g.received_ms, 5000);
    EXPECT_EQ(g.status, MessageStatus::kReceived);
    EXPECT_FALSE((*store->message(id16(3), id16(1)))->reply_to.has_value());
    EXPECT_FALSE(store->message(id16(4), id16(1))->has_value());

    auto group_msg = make_message(9, 2, kConvB, Direction::kOutgoing, 6000, "");
    EXPECT_TRUE(*store->add_message(group_msg));
    EXPECT_EQ((*store->message(id16(9), id16(2)))->conversation, kConvB);
    EXPECT_EQ((*store->message(id16(9), id16(2)))->text, "");
}

TEST_F(ProfileRecords, StatusNeverGoesBackwards) {
    const AccountId me = id16(9);
    ASSERT_TRUE(*store->add_message(make_message(9, 1, kConvA, Direction::kOutgoing, 1, "out")));
    auto status = [&] { return (*store->message(me, id16(1)))->status; };
    ASSERT_TRUE(store->advance_status(me, id16(1), MessageStatus::kDelivered).ok());
    EXPECT_EQ(status(), MessageStatus::kDelivered);
    ASSERT_TRUE(store->advance_status(me, id16(1), MessageStatus::kSent).ok());  // late ack
    EXPECT_EQ(status(), MessageStatus::kDelivered);
    ASSERT_TRUE(store->advance_status(me, id16(1), MessageStatus::kPending).ok());
    EXPECT_EQ(status(), MessageStatus::kDelivered);
    ASSERT_TRUE(store->advance_status(me, id16(1), MessageStatus::kRead).ok());
    EXPECT_EQ(status(), MessageStatus::kRead);
    ASSERT_TRUE(store->advance_status(me, id16(1), MessageStatus::kDelivered).ok());
    EXPECT_EQ(status(), MessageStatus::kRead);
    EXPECT_EQ(store->advance_status(me, id16(1), MessageStatus::kReceived).error().code,
              ErrorCode::kMalformed);
    EXPECT_EQ(status(), MessageStatus::kRead);

    ASSERT_TRUE(*store->add_message(make_message(2, 2, kConvA, Direction::kIncoming, 2, "in")));
    EXPECT_EQ(store->advance_status(id16(2), id16(2), MessageStatus::kDelivered).error().code,
              ErrorCode::kMalformed);
    ASSERT_TRUE(store->advance_status(id16(2), id16(2), MessageStatus::kRead).ok());
    EXPECT_EQ((*store->message(id16(2), id16(2)))->status, MessageStatus::kRead);
    ASSERT_TRUE(store->advance_status(id16(2), id16(2), MessageStatus::kReceived).ok());
    EXPECT_EQ((*store->message(id16(2), id16(2)))->status, MessageStatus::kRead);

    // A receipt for a message we do not have changes nothing.
    EXPECT_TRUE(store->advance_status(me, id16(0x99), MessageStatus::kRead).ok());
    // A message stored with a status off its path is refused.
    auto odd = make_message(9, 3, kConvA, Direction::kOutgoing, 3, "odd");
    odd.status = MessageStatus::kReceived;
    EXPECT_EQ(store->add_message(odd).error().code, ErrorCode::kMalformed);
}

TEST_F(ProfileRecords, HistoryIsTheLastNOldestFirst) {
    for (std::uint8_t i = 1; i <= 5; ++i) {
        ASSERT_TRUE(*store->add_message(
            make_message(2, i, kConvA, Direction::kIncoming, 100 * i, "a" + std::to_string(i))));
    }
    ASSERT_TRUE(*store->add_message(make_message(2, 10, kConvB, Direction::kIncoming, 250, "b")));
    // Stored out of order: the receive time orders it, ties by arrival.
    ASSERT_TRUE(*store->add_message(make_message(9, 11, kConvA, Direction::kOutgoing, 250, "o1")));
    ASSERT_TRUE(*store->add_message(make_message(9, 12, kConvA, Direction::kOutgoing, 250, "o2")));

    auto texts = [&](std::size_t limit) {
        std::vector<std::string> out;
        auto history = store->history(kConvA, limit);
        EXPECT_TRUE(history.ok());
        if (history.ok()) {
            for (const auto& m : *history) out.push_back(m.text);
        }
        return out;
    };
    EXPECT_EQ(texts(3), (std::vector<std::string>{"a3", "a4", "a5"}));
    EXPECT_EQ(texts(5), (std::vector<std::string>{"o1", "o2", "a3", "a4", "a5"}));
    EXPECT_EQ(texts(100), (std::vector<std::string>{"a1", "a2", "o1", "o2", "a3", "a4", "a5"}));
    EXPECT_TRUE(texts(0).empty());
    EXPECT_EQ(store->history(kConvB, 10)->size(), 1u);
    EXPECT_TRUE(store->history({ConversationId::Kind::kGroup, id16(0xa1)}, 10)->empty());
}

TEST_F(ProfileRecords, UnreadAndMarkRead) {
    ASSERT_TRUE(*store->add_message(make_message(2, 1, kConvA, Direction::kIncoming, 300, "a1")));
    ASSERT_TRUE(*store->add_message(make_message(3, 2, kConvB, Direction::kIncoming, 200, "b1")));
    ASSERT_TRUE(*store->add_message(make_message(2, 3, kConvA, Direction::kIncoming, 400, "a2")));
    ASSERT_TRUE(*store->add_message(make_message(9, 4, kConvA, Direction::kOutgoing, 350, "me")));

    auto unread = store->unread();
    ASSERT_TRUE(unread.ok());
    ASSERT_EQ(unread->size(), 3u);
    EXPECT_EQ((*unread)[0].text, "b1");
    EXPECT_EQ((*unread)[1].text, "a1");
    EXPECT_EQ((*unread)[2].text, "a2");

    auto marked = store->mark_read(kConvA);
    ASSERT_TRUE(marked.ok());
    ASSERT_EQ(marked->size(), 2u);
    EXPECT_EQ((*marked)[0].text, "a1");
    EXPECT_EQ((*marked)[1].text, "a2");
    EXPECT_EQ((*marked)[0].status, MessageStatus::kRead);
    EXPECT_EQ((*store->message(id16(2), id16(3)))->status, MessageStatus::kRead);
    EXPECT_EQ((*store->message(id16(9), id16(4)))->status, MessageStatus::kPending);

    EXPECT_TRUE(store->mark_read(kConvA)->empty());
    ASSERT_EQ(store->unread()->size(), 1u);
    EXPECT_EQ((*store->unread())[0].text, "b1");
}

TEST_F(ProfileRecords, MarkProcessedIsIdempotent) {
    EXPECT_TRUE(*store->mark_processed(id16(2), 1, id16(0x10)));
    EXPECT_FALSE(*store->mark_processed(id16(2), 1, id16(0x10)));
    EXPECT_TRUE(*store->mark_processed(id16(2), 2, id16(0x10)));
    EXPECT_TRUE(*store->mark_processed(id16(3), 1, id16(0x10)));
    reopen();
    EXPECT_FALSE(*store->mark_processed(id16(2), 1, id16(0x10)));
}

TEST_F(ProfileRecords, OutboxKeepsOrderAndFirstBytes) {
    ASSERT_TRUE(store->outbox_add(id16(3), Bytes{3, 3, 3}).ok());
    ASSERT_TRUE(store->outbox_add(id16(1), Bytes{1}).ok());
    ASSERT_TRUE(store->outbox_add(id16(2), Bytes(5000, 2)).ok());
    ASSERT_TRUE(store->outbox_add(id16(3), Bytes{9, 9}).ok());  // a retry: same bytes kept
    reopen();
    EXPECT_EQ(*store->outbox_ids(), (std::vector<MessageId>{id16(3), id16(1), id16(2)}));
    EXPECT_EQ(*store->outbox_entry(id16(3)), (Bytes{3, 3, 3}));
    EXPECT_EQ(*store->outbox_entry(id16(1)), (Bytes{1}));
    EXPECT_EQ(*store->outbox_entry(id16(2)), Bytes(5000, 2));
    ASSERT_TRUE(store->outbox_remove(id16(1)).ok());
    ASSERT_TRUE(store->outbox_remove(id16(1)).ok());
    EXPECT_EQ(*store->outbox_ids(), (std::vector<MessageId>{id16(3), id16(2)}));
    EXPECT_EQ(*store->outbox_entry(id16(1)), std::nullopt);
}

// The envelope id goes into an entry once, before its first send: the new bytes replace the
// old in place, survive a reopen and keep the entry's turn; an unknown id changes nothing.
TEST_F(ProfileRecords, OutboxStampReplacesBytesInPlace) {
    ASSERT_TRUE(store->outbox_add(id16(1), Bytes{1}).ok());
    ASSERT_TRUE(store->outbox_add(id16(2), Bytes{2}).ok());
    ASSERT_TRUE(store->outbox_stamp(id16(1), Bytes{1, 0xE1, 0xE2}).ok());
    ASSERT_TRUE(store->outbox_stamp(id16(7), Bytes{7}).ok());
    reopen();
    EXPECT_EQ(*store->outbox_ids(), (std::vector<MessageId>{id16(1), id16(2)}));
    EXPECT_EQ(*store->outbox_entry(id16(1)), (Bytes{1, 0xE1, 0xE2}));
    EXPECT_EQ(*store->outbox_entry(id16(2)), Bytes{2});
    EXPECT_EQ(*store->outbox_entry(id16(7)), std::nullopt);
}

TEST_F(ProfileRecords, HeldEnvelopes) {
    ASSERT_TRUE(store->hold_envelope(id16(2), Bytes{1, 1}).ok());
    ASSERT_TRUE(store->hold_envelope(id16(3), Bytes{7}).ok());
    ASSERT_TRUE(store->hold_envelope(id16(2), Bytes{2, 2, 2}).ok());
    reopen();
    EXPECT_EQ(*store->held_envelopes(id16(2)), (std::vector<Bytes>{{1, 1}, {2, 2, 2}}));
    ASSERT_TRUE(store->drop_held_envelopes(id16(2)).ok());
    EXPECT_TRUE(store->held_envelopes(id16(2))->empty());
    EXPECT_EQ(*store->held_envelopes(id16(3)), (std::vector<Bytes>{{7}}));
    ASSERT_TRUE(store->hold_envelope(id16(2), Bytes{4}).ok());
    EXPECT_EQ(*store->held_envelopes(id16(2)), (std::vector<Bytes>{{4}}));
}

TEST_F(ProfileRecords, TransactionCommitsTogether) {
    auto r = store->transaction([&]() -> Result<void> {
        PP_TRY_VOID(store->set_counter("a", 1));
        PP_TRY_VOID(store->put_contact(make_contact(1, "alice")));  // multi-statement write
        PP_TRY_VOID(store->put_prekeys(protocol::generate_prekeys(1, 2)));
        PP_TRY(fresh, store->mark_processed(id16(1), 1, id16(1)));
        EXPECT_TRUE(fresh);
        return {};
    });
    ASSERT_TRUE(r.ok());
    reopen();
    EXPECT_EQ(*store->counter("a", 0), 1);
    EXPECT_TRUE(store->contact(id16(1))->has_value());
    EXPECT_EQ(*store->prekey_count(), 2u);
}

TEST_F(ProfileRecords, FailingBodyRollsEverythingBack) {
    ASSERT_TRUE(store->set_counter("a", 1).ok());
    auto r = store->transaction([&]() -> Result<void> {
        PP_TRY_VOID(store->set_counter("a", 2));
        PP_TRY_VOID(store->put_contact(make_contact(1, "alice")));
        PP_TRY_VOID(store->put_session(id16(1), 1, make_session()));
        PP_TRY_VOID(store->outbox_add(id16(5), Bytes{5}));
        PP_TRY(added,
               store->add_message(make_message(1, 1, kConvA, Direction::kIncoming, 10, "lost")));
        EXPECT_TRUE(added);
        return make_error(ErrorCode::kInvalidSignature, "body failed");
    });
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidSignature);
    EXPECT_EQ(*store->counter("a", 0), 1);
    EXPECT_FALSE(store->contact(id16(1))->has_value());
    EXPECT_FALSE(store->session(id16(1), 1)->has_value());
    EXPECT_TRUE(store->outbox_ids()->empty());
    EXPECT_FALSE(store->message(id16(1), id16(1))->has_value());

    // A failing store call inside the body rolls back the calls before it.
    ASSERT_TRUE(store->put_contact(make_contact(2, "bob")).ok());
    auto clash = store->transaction([&]() -> Result<void> {
        PP_TRY_VOID(store->set_counter("a", 3));
        return store->put_contact(make_contact(3, "bob"));
    });
    EXPECT_EQ(clash.error().code, ErrorCode::kLimitExceeded);
    EXPECT_EQ(*store->counter("a", 0), 1);

    // The store is usable afterwards, inside and outside transactions.
    ASSERT_TRUE(store->transaction([&] { return store->set_counter("a", 4); }).ok());
    EXPECT_EQ(*store->counter("a", 0), 4);
    ASSERT_TRUE(store->set_counter("a", 5).ok());
    EXPECT_EQ(*store->counter("a", 0), 5);
}

TEST_F(ProfileRecords, TransactionsDoNotNest) {
    auto r = store->transaction([&]() -> Result<void> {
        PP_TRY_VOID(store->set_counter("a", 1));
        auto inner = store->transaction([&] { return store->set_counter("b", 1); });
        EXPECT_FALSE(inner.ok());
        return inner;
    });
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(*store->counter("a", 0), 0);
    EXPECT_EQ(*store->counter("b", 0), 0);
    ASSERT_TRUE(store->transaction([&] { return store->set_counter("a", 1); }).ok());
    EXPECT_EQ(*store->counter("a", 0), 1);
}

}  // namespace
}  // namespace pp::client

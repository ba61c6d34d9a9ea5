// After writing secrets and personal data, none of it appears in clear in the database file or
// its write-ahead log: read as raw bytes, while the profile is open and after it is closed.
#include "profile_fixture.hpp"

namespace pp::client {
namespace {

using namespace testing;
namespace fs = std::filesystem;

Bytes view_bytes(ByteView v) {
    return Bytes(v.begin(), v.end());
}

Bytes text(std::string_view s) {
    return Bytes(s.begin(), s.end());
}

// Every 24-byte window of a serialized record that is mostly key material (at least 12 distinct
// byte values, so runs of zeros and small integers that any file holds do not count).
std::vector<Bytes> windows(const SecretBytes& record) {
    std::vector<Bytes> out;
    ByteView v = record.view();
    for (std::size_t i = 0; i + 24 <= v.size(); i += 4) {
        Bytes w(v.begin() + static_cast<std::ptrdiff_t>(i),
                v.begin() + static_cast<std::ptrdiff_t>(i + 24));
        std::vector<std::uint8_t> sorted = w;
        std::sort(sorted.begin(), sorted.end());
        auto distinct = std::unique(sorted.begin(), sorted.end()) - sorted.begin();
        if (distinct >= 12) out.push_back(std::move(w));
    }
    return out;
}

struct Needle {
    std::string what;
    Bytes bytes;
};

TEST(ProfileScan, NothingSecretOrPersonalIsStoredInClear) {
    TempDir tmp;
    std::vector<Needle> needles;
    auto add_key = [&](const std::string& what, const crypto::KeyPair& k) {
        needles.push_back({what + " private key", view_bytes(k.private_key.secret().view())});
    };
    auto add_text = [&](const std::string& what, std::string_view s) {
        needles.push_back({what, text(s)});
    };

    auto identity = crypto::KeyPair::generate();
    auto spk = protocol::generate_signed_prekey(identity, 1, 1000);
    auto prekeys = protocol::generate_prekeys(10, 3);
    auto session = make_session();
    auto sender_key = make_sender_key();
    auto contact_identity = crypto::KeyPair::generate().public_key.serialize();
    auto member_identity = crypto::KeyPair::generate().public_key.serialize();
    Bytes envelope = text("held-envelope-body-Q7x2Lm9");
    Bytes request = text("outbox-request-body-Z3k8Pw1");

    add_key("identity", identity);
    add_key("signed prekey", spk.key_pair);
    for (const auto& pk : prekeys) add_key("prekey", pk.key_pair);
    for (auto& w : windows(session.serialize())) needles.push_back({"session bytes", w});
    for (auto& w : windows(sender_key.serialize())) needles.push_back({"sender key bytes", w});
    add_text("message text", "meet me at the old bridge at nine");
    add_text("reply text", "bring the second passport");
    add_text("contact name", "Natasha Rostova");
    add_text("group name", "Samizdat Reading Circle");
    add_text("username", "natasha_r_1805");
    add_text("server host", "secret-host.example.net");
    needles.push_back(
        {"contact identity key", Bytes(contact_identity.begin(), contact_identity.end())});
    needles.push_back(
        {"member identity key", Bytes(member_identity.begin(), member_identity.end())});
    add_text("proxy password", "pr0xy-Passw0rd-Kq81");
    add_text("relay host", "quiet-relay.example.org");
    add_text("cached endpoint list", "endpoint-list-bytes-Vn3o");
    needles.push_back({"held envelope", envelope});
    needles.push_back({"outbox request", request});
    ASSERT_GT(needles.size(), 20u);

    auto scan = [&](const char* when) {
        for (const char* name : {"profile.db", "profile.db-wal"}) {
            fs::path p = tmp.profile() / name;
            if (!fs::exists(p)) continue;
            Bytes raw = read_file(p);
            for (const auto& n : needles) {
                EXPECT_FALSE(contains(raw, n.bytes)) << n.what << " in " << name << " " << when;
            }
        }
    };

    {
        auto store = must(ProfileStore::create(tmp.profile(), std::nullopt));
        ASSERT_TRUE(store);
        ASSERT_TRUE(store->set_identity(identity, 1234).ok());
        ASSERT_TRUE(store->put_signed_prekey(spk).ok());
        ASSERT_TRUE(store->put_prekeys(prekeys).ok());
        ASSERT_TRUE(store->put_session(id16(2), 1, session).ok());
        ASSERT_TRUE(store->put_sender_key(id16(0x40), id16(2), 1, sender_key).ok());

        AccountRecord account;
        account.server = {"secret-host.example.net", 443, std::string(64, 'f')};
        account.account = id16(1);
        account.username = "natasha_r_1805";
        ASSERT_TRUE(store->set_account(account).ok());

        Contact c;
        c.account = id16(2);
        c.name = "Natasha Rostova";
        c.identity_key = Bytes(contact_identity.begin(), contact_identity.end());
        ASSERT_TRUE(store->put_contact(c).ok());

        Group g;
        g.id = id16(0x40);
        g.name = "Samizdat Reading Circle";
        g.members = {{id16(2), Bytes(member_identity.begin(), member_identity.end())}};
        ASSERT_TRUE(store->put_group(g).ok());

        auto m = make_message(2, 1, {ConversationId::Kind::kContact, id16(2)}, Direction::kIncoming,
                              100, "meet me at the old bridge at nine");
        ASSERT_TRUE(*store->add_message(m));
        auto reply = make_message(1, 2, {ConversationId::Kind::kContact, id16(2)},
                                  Direction::kOutgoing, 200, "bring the second passport");
        reply.reply_to = m.id;
        ASSERT_TRUE(*store->add_message(reply));
        ASSERT_TRUE(store->hold_envelope(id16(2), envelope).ok());
        ASSERT_TRUE(store->outbox_add(id16(9), request).ok());
        ASSERT_TRUE(
            store->add_route("socks5://u:pr0xy-Passw0rd-Kq81@quiet-relay.example.org:1080"));
        ASSERT_TRUE(store->set_setting("endpoint_list", text("endpoint-list-bytes-Vn3o")).ok());

        ASSERT_TRUE(fs::exists(tmp.profile() / "profile.db-wal"));
        EXPECT_GT(fs::file_size(tmp.profile() / "profile.db-wal"), 0u);
        scan("while open");
    }
    scan("after close");

    // The scan itself works: the same bytes are found where they are in clear.
    Bytes probe = text("xx meet me at the old bridge at nine xx");
    EXPECT_TRUE(contains(probe, text("meet me at the old bridge at nine")));
    auto store = must(ProfileStore::open(tmp.profile(), std::nullopt));
    ASSERT_TRUE(store);
    EXPECT_EQ((*store->contact(id16(2)))->name, "Natasha Rostova");
}

}  // namespace
}  // namespace pp::client

// Contacts and groups. Names are sealed, so lookups by name decrypt every row: a profile has
// few of either. An empty name is "none" and never collides.
#include <algorithm>

#include "client/profile/codec.hpp"
#include "client/profile/store.hpp"

namespace pp::client::profile {
namespace {

constexpr std::uint8_t kContactV1 = 1;
constexpr std::uint8_t kGroupV1 = 1;

template <std::size_t N>
bool copy_id(const Bytes& from, std::array<std::uint8_t, N>& to) {
    if (from.size() != N) return false;
    std::copy(from.begin(), from.end(), to.begin());
    return true;
}

template <typename T>
void sort_by_name(std::vector<T>& v, auto key) {
    std::sort(v.begin(), v.end(), [&](const T& a, const T& b) {
        return std::tie(a.name, key(a)) < std::tie(b.name, key(b));
    });
}

}  // namespace

Result<Contact> SqliteProfileStore::read_contact(const Stmt& s) const {
    Contact c;
    if (!s.blob_into(0, c.account)) {
        return make_error(ErrorCode::kMalformed, "stored contact id is malformed");
    }
    c.added_ms = s.int64(1);
    PP_TRY(plain, open_value(s.blob(2), Ad("contacts").id(c.account)));
    Reader r(plain.view(), kContactV1);
    c.name = r.str();
    c.identity_key = r.bytes();
    c.verified = r.u8() != 0;
    if (r.u8() != 0) c.changed_identity_key = r.bytes();
    if (!r.done()) return make_error(ErrorCode::kMalformed, "stored contact is malformed");
    return c;
}

Result<void> SqliteProfileStore::put_contact(const Contact& contact) {
    return write<void>([&]() -> Result<void> {
        if (!contact.name.empty()) {
            PP_TRY(same, contact_by_name(contact.name));
            if (same && same->account != contact.account) {
                return make_error(ErrorCode::kLimitExceeded, "another contact has that name");
            }
        }
        Writer w(kContactV1);
        w.str(contact.name).bytes(contact.identity_key).u8(contact.verified ? 1 : 0);
        if (contact.changed_identity_key) {
            w.u8(1).bytes(*contact.changed_identity_key);
        } else {
            w.u8(0);
        }
        Bytes sealed = seal_value(w.view(), Ad("contacts").id(contact.account));
        PP_TRY(s, db_->prepare("INSERT OR REPLACE INTO contacts (account, added_ms, sealed) "
                               "VALUES (?1, ?2, ?3)"));
        return s.bind_blob(1, contact.account).bind(2, contact.added_ms).bind_blob(3, sealed).run();
    });
}

Result<std::optional<Contact>> SqliteProfileStore::contact(const AccountId& account) {
    PP_TRY(s, db_->prepare("SELECT account, added_ms, sealed FROM contacts WHERE account = ?1"));
    PP_TRY(row, s.bind_blob(1, account).step());
    if (!row) return std::optional<Contact>{};
    PP_TRY(c, read_contact(s));
    return std::optional<Contact>(std::move(c));
}

Result<std::optional<Contact>> SqliteProfileStore::contact_by_name(std::string_view name) {
    if (name.empty()) return std::optional<Contact>{};
    PP_TRY(all, contacts());
    for (auto& c : all) {
        if (c.name == name) return std::optional<Contact>(std::move(c));
    }
    return std::optional<Contact>{};
}

Result<std::vector<Contact>> SqliteProfileStore::contacts() {
    PP_TRY(s, db_->prepare("SELECT account, added_ms, sealed FROM contacts"));
    std::vector<Contact> out;
    for (;;) {
        PP_TRY(row, s.step());
        if (!row) break;
        PP_TRY(c, read_contact(s));
        out.push_back(std::move(c));
    }
    sort_by_name(out, [](const Contact& c) -> const AccountId& { return c.account; });
    return out;
}

Result<Group> SqliteProfileStore::read_group(const Stmt& s) const {
    Group g;
    if (!s.blob_into(0, g.id))
        return make_error(ErrorCode::kMalformed, "stored group id is malformed");
    g.revision = static_cast<std::uint64_t>(s.int64(1));
    g.left = s.int64(2) != 0;
    PP_TRY(plain, open_value(s.blob(3), Ad("groups").id(g.id)));
    Reader r(plain.view(), kGroupV1);
    g.name = r.str();
    auto count = r.u32();
    for (std::uint32_t i = 0; i < count && r.ok(); ++i) {
        GroupMember m;
        Bytes account = r.bytes();
        m.identity_key = r.bytes();
        if (!copy_id(account, m.account)) break;
        g.members.push_back(std::move(m));
    }
    if (!r.done() || g.members.size() != count) {
        return make_error(ErrorCode::kMalformed, "stored group is malformed");
    }
    return g;
}

Result<void> SqliteProfileStore::put_group(const Group& group) {
    return write<void>([&]() -> Result<void> {
        if (!group.name.empty()) {
            PP_TRY(same, group_by_name(group.name));
            if (same && same->id != group.id) {
                return make_error(ErrorCode::kLimitExceeded, "another group has that name");
            }
        }
        Writer w(kGroupV1);
        w.str(group.name).u32(static_cast<std::uint32_t>(group.members.size()));
        for (const auto& m : group.members) w.bytes(m.account).bytes(m.identity_key);
        Bytes sealed = seal_value(w.view(), Ad("groups").id(group.id));
        PP_TRY(s,
               db_->prepare("INSERT OR REPLACE INTO chat_groups (id, revision, has_left, sealed) "
                            "VALUES (?1, ?2, ?3, ?4)"));
        return s.bind_blob(1, group.id)
            .bind(2, static_cast<std::int64_t>(group.revision))
            .bind(3, group.left ? 1 : 0)
            .bind_blob(4, sealed)
            .run();
    });
}

Result<std::optional<Group>> SqliteProfileStore::group(const GroupId& id) {
    PP_TRY(s, db_->prepare("SELECT id, revision, has_left, sealed FROM chat_groups WHERE id = ?1"));
    PP_TRY(row, s.bind_blob(1, id).step());
    if (!row) return std::optional<Group>{};
    PP_TRY(g, read_group(s));
    return std::optional<Group>(std::move(g));
}

Result<std::optional<Group>> SqliteProfileStore::group_by_name(std::string_view name) {
    if (name.empty()) return std::optional<Group>{};
    PP_TRY(all, groups());
    for (auto& g : all) {
        if (g.name == name) return std::optional<Group>(std::move(g));
    }
    return std::optional<Group>{};
}

Result<std::vector<Group>> SqliteProfileStore::groups() {
    PP_TRY(s, db_->prepare("SELECT id, revision, has_left, sealed FROM chat_groups"));
    std::vector<Group> out;
    for (;;) {
        PP_TRY(row, s.step());
        if (!row) break;
        PP_TRY(g, read_group(s));
        out.push_back(std::move(g));
    }
    sort_by_name(out, [](const Group& g) -> const GroupId& { return g.id; });
    return out;
}

}  // namespace pp::client::profile

// Pairwise sessions and group sender keys.
#include "client/profile/store.hpp"

namespace pp::client::profile {

Result<std::optional<protocol::SessionRecord>> SqliteProfileStore::session(const AccountId& account,
                                                                           DeviceId device) {
    PP_TRY(s, db_->prepare("SELECT sealed FROM sessions WHERE account = ?1 AND device = ?2"));
    PP_TRY(row, s.bind_blob(1, account).bind(2, device).step());
    if (!row) return std::optional<protocol::SessionRecord>{};
    PP_TRY(plain, open_value(s.blob(0), Ad("sessions").id(account).num(device)));
    PP_TRY(record, protocol::SessionRecord::deserialize(plain.view()));
    return std::optional<protocol::SessionRecord>(std::move(record));
}

Result<void> SqliteProfileStore::put_session(const AccountId& account, DeviceId device,
                                             const protocol::SessionRecord& record) {
    SecretBytes plain = record.serialize();
    Bytes sealed = seal_value(plain.view(), Ad("sessions").id(account).num(device));
    PP_TRY(s, db_->prepare("INSERT OR REPLACE INTO sessions (account, device, sealed) "
                           "VALUES (?1, ?2, ?3)"));
    return s.bind_blob(1, account).bind(2, device).bind_blob(3, sealed).run();
}

Result<std::vector<DeviceId>> SqliteProfileStore::session_devices(const AccountId& account) {
    PP_TRY(s, db_->prepare("SELECT device FROM sessions WHERE account = ?1 ORDER BY device"));
    s.bind_blob(1, account);
    std::vector<DeviceId> out;
    for (;;) {
        PP_TRY(row, s.step());
        if (!row) break;
        out.push_back(static_cast<DeviceId>(s.int64(0)));
    }
    return out;
}

Result<void> SqliteProfileStore::delete_sessions(const AccountId& account) {
    // Our sender keys went to this account over those sessions; a new session (a re-install)
    // means they must be shared again, so the "already shared" marks go too.
    return write<void>([&]() -> Result<void> {
        {
            PP_TRY(s, db_->prepare("DELETE FROM sessions WHERE account = ?1"));
            PP_TRY_VOID(s.bind_blob(1, account).run());
        }
        PP_TRY(s, db_->prepare("DELETE FROM sender_key_shared WHERE member = ?1"));
        return s.bind_blob(1, account).run();
    });
}

Result<std::optional<protocol::SenderKeyRecord>> SqliteProfileStore::sender_key(
    const GroupId& group, const AccountId& sender, DeviceId device) {
    PP_TRY(s, db_->prepare("SELECT sealed FROM sender_keys "
                           "WHERE group_id = ?1 AND sender = ?2 AND device = ?3"));
    PP_TRY(row, s.bind_blob(1, group).bind_blob(2, sender).bind(3, device).step());
    if (!row) return std::optional<protocol::SenderKeyRecord>{};
    PP_TRY(plain, open_value(s.blob(0), Ad("sender_keys").id(group).id(sender).num(device)));
    PP_TRY(record, protocol::SenderKeyRecord::deserialize(plain.view()));
    return std::optional<protocol::SenderKeyRecord>(std::move(record));
}

Result<void> SqliteProfileStore::put_sender_key(const GroupId& group, const AccountId& sender,
                                                DeviceId device,
                                                const protocol::SenderKeyRecord& r) {
    SecretBytes plain = r.serialize();
    Bytes sealed = seal_value(plain.view(), Ad("sender_keys").id(group).id(sender).num(device));
    PP_TRY(s, db_->prepare("INSERT OR REPLACE INTO sender_keys (group_id, sender, device, sealed) "
                           "VALUES (?1, ?2, ?3, ?4)"));
    return s.bind_blob(1, group).bind_blob(2, sender).bind(3, device).bind_blob(4, sealed).run();
}

// The records go, and with them the key-id index and the "already shared" marks: they describe
// keys that no longer exist.
Result<void> SqliteProfileStore::delete_sender_keys(const GroupId& group) {
    return write<void>([&]() -> Result<void> {
        {
            PP_TRY(s, db_->prepare("DELETE FROM sender_keys WHERE group_id = ?1"));
            PP_TRY_VOID(s.bind_blob(1, group).run());
        }
        {
            PP_TRY(s, db_->prepare("DELETE FROM sender_key_ids WHERE group_id = ?1"));
            PP_TRY_VOID(s.bind_blob(1, group).run());
        }
        PP_TRY(s, db_->prepare("DELETE FROM sender_key_shared WHERE group_id = ?1"));
        return s.bind_blob(1, group).run();
    });
}

Result<void> SqliteProfileStore::index_sender_key(const AccountId& sender, DeviceId device,
                                                  std::uint32_t key_id, const GroupId& group) {
    PP_TRY(s, db_->prepare("INSERT OR REPLACE INTO sender_key_ids (sender, device, key_id, "
                           "group_id) VALUES (?1, ?2, ?3, ?4)"));
    return s.bind_blob(1, sender).bind(2, device).bind(3, key_id).bind_blob(4, group).run();
}

Result<std::optional<GroupId>> SqliteProfileStore::group_for_sender_key(const AccountId& sender,
                                                                        DeviceId device,
                                                                        std::uint32_t key_id) {
    PP_TRY(s, db_->prepare("SELECT group_id FROM sender_key_ids "
                           "WHERE sender = ?1 AND device = ?2 AND key_id = ?3"));
    PP_TRY(row, s.bind_blob(1, sender).bind(2, device).bind(3, key_id).step());
    if (!row) return std::optional<GroupId>{};
    GroupId g{};
    if (!s.blob_into(0, g))
        return make_error(ErrorCode::kMalformed, "stored group id is malformed");
    return std::optional<GroupId>(g);
}

Result<bool> SqliteProfileStore::sender_key_shared(const GroupId& group, std::uint32_t key_id,
                                                   const AccountId& member) {
    PP_TRY(s, db_->prepare("SELECT 1 FROM sender_key_shared "
                           "WHERE group_id = ?1 AND key_id = ?2 AND member = ?3"));
    return s.bind_blob(1, group).bind(2, key_id).bind_blob(3, member).step();
}

Result<void> SqliteProfileStore::mark_sender_key_shared(const GroupId& group, std::uint32_t key_id,
                                                        const AccountId& member) {
    PP_TRY(s, db_->prepare("INSERT OR IGNORE INTO sender_key_shared (group_id, key_id, member) "
                           "VALUES (?1, ?2, ?3)"));
    return s.bind_blob(1, group).bind(2, key_id).bind_blob(3, member).run();
}

}  // namespace pp::client::profile

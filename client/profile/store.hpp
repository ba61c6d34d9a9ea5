#pragma once
// The SQLite implementation of ProfileStore, private to client/. Its methods are spread over
// client/profile/*.cpp by subject; opening and creating live in client/profile_store.cpp.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/hex.hpp"
#include "client/at_rest.hpp"
#include "client/profile_store.hpp"
#include "store/sqlite/db.hpp"

namespace pp::client::profile {

using store::sqlite::Connection;
using store::sqlite::Stmt;
using store::sqlite::Transaction;

// Associated data of a sealed value: the table it lives in and its row key, so a value copied
// to another row or table does not open. "pp-profile-v1/<table>[/<key part>]...", key parts
// as lowercase hex (ids) or decimal (numbers).
class Ad {
  public:
    explicit Ad(std::string_view table) : s_("pp-profile-v1/") { s_ += table; }
    Ad& id(ByteView v) {
        s_ += '/';
        s_ += to_hex(v);
        return *this;
    }
    Ad& num(std::uint64_t v) {
        s_ += '/';
        s_ += std::to_string(v);
        return *this;
    }
    operator std::string_view() const { return s_; }  // NOLINT: used where an AD is expected

  private:
    std::string s_;
};

class SqliteProfileStore final : public ProfileStore {
  public:
    SqliteProfileStore(std::unique_ptr<Connection> db, const ProfileKey& key)
        : db_(std::move(db)), key_(key) {}

    Result<void> transaction(const std::function<Result<void>()>& body) override;

    Result<void> set_identity(const protocol::IdentityKeyPair& identity,
                              std::uint32_t registration_id) override;
    Result<protocol::IdentityKeyPair> identity() override;
    Result<std::uint32_t> registration_id() override;
    Result<void> set_account(const AccountRecord& account) override;
    Result<std::optional<AccountRecord>> account() override;

    Result<void> put_signed_prekey(const protocol::SignedPreKeyRecord& record) override;
    Result<std::optional<protocol::SignedPreKeyRecord>> signed_prekey(std::uint32_t id) override;
    Result<std::vector<protocol::SignedPreKeyRecord>> signed_prekeys() override;
    Result<void> remove_signed_prekey(std::uint32_t id) override;
    Result<void> put_prekeys(const std::vector<protocol::PreKeyRecord>& records) override;
    Result<std::optional<protocol::PreKeyRecord>> prekey(std::uint32_t id) override;
    Result<void> remove_prekey(std::uint32_t id) override;
    Result<std::size_t> prekey_count() override;

    Result<std::int64_t> counter(std::string_view name, std::int64_t fallback) override;
    Result<void> set_counter(std::string_view name, std::int64_t value) override;

    Result<std::optional<protocol::SessionRecord>> session(const AccountId& account,
                                                           DeviceId device) override;
    Result<void> put_session(const AccountId& account, DeviceId device,
                             const protocol::SessionRecord& record) override;
    Result<std::vector<DeviceId>> session_devices(const AccountId& account) override;
    Result<void> delete_sessions(const AccountId& account) override;

    Result<std::optional<protocol::SenderKeyRecord>> sender_key(const GroupId& group,
                                                                const AccountId& sender,
                                                                DeviceId device) override;
    Result<void> put_sender_key(const GroupId& group, const AccountId& sender, DeviceId device,
                                const protocol::SenderKeyRecord& r) override;
    Result<void> delete_sender_keys(const GroupId& group) override;
    Result<void> index_sender_key(const AccountId& sender, DeviceId device, std::uint32_t key_id,
                                  const GroupId& group) override;
    Result<std::optional<GroupId>> group_for_sender_key(const AccountId& sender, DeviceId device,
                                                        std::uint32_t key_id) override;
    Result<bool> sender_key_shared(const GroupId& group, std::uint32_t key_id,
                                   const AccountId& member) override;
    Result<void> mark_sender_key_shared(const GroupId& group, std::uint32_t key_id,
                                        const AccountId& member) override;

    Result<void> put_contact(const Contact& contact) override;
    Result<std::optional<Contact>> contact(const AccountId& account) override;
    Result<std::optional<Contact>> contact_by_name(std::string_view name) override;
    Result<std::vector<Contact>> contacts() override;

    Result<void> put_group(const Group& group) override;
    Result<std::optional<Group>> group(const GroupId& id) override;
    Result<std::optional<Group>> group_by_name(std::string_view name) override;
    Result<std::vector<Group>> groups() override;

    Result<bool> add_message(const Message& message) override;
    Result<std::optional<Message>> message(const AccountId& sender, const MessageId& id) override;
    Result<void> advance_status(const AccountId& sender, const MessageId& id,
                                MessageStatus status) override;
    Result<std::vector<Message>> history(const ConversationId& c, std::size_t limit) override;
    Result<std::vector<Message>> unread() override;
    Result<std::vector<Message>> mark_read(const ConversationId& c) override;

    Result<bool> mark_processed(const AccountId& sender, DeviceId device,
                                const MessageId& envelope_id) override;
    Result<void> outbox_add(const MessageId& id, ByteView request) override;
    Result<std::vector<MessageId>> outbox_ids() override;
    Result<std::optional<Bytes>> outbox_entry(const MessageId& id) override;
    Result<void> outbox_stamp(const MessageId& id, ByteView request) override;
    Result<void> outbox_remove(const MessageId& id) override;
    Result<void> hold_envelope(const AccountId& sender, ByteView envelope) override;
    Result<std::vector<Bytes>> held_envelopes(const AccountId& sender) override;
    Result<void> drop_held_envelopes(const AccountId& sender) override;

    Result<std::optional<Bytes>> setting(std::string_view name) override;
    Result<void> set_setting(std::string_view name, ByteView value) override;
    Result<std::int64_t> add_route(std::string_view link) override;
    Result<std::vector<RouteEntry>> routes() override;
    Result<bool> remove_route(std::int64_t id) override;

  private:
    // Runs `body` in a write transaction of its own, or inside the caller's transaction() if
    // one is open: for writes that take more than one statement.
    template <typename T, typename F>
    Result<T> write(F&& body);

    Bytes seal_value(ByteView plaintext, std::string_view ad) const {
        return seal(key_, plaintext, ad);
    }
    // A value that does not open is reported as corrupt, whatever the cause.
    Result<SecretBytes> open_value(ByteView sealed, std::string_view ad) const;

    // Row readers shared by several queries (messages and contacts come from several SELECTs).
    Result<Contact> read_contact(const Stmt& s) const;
    Result<Group> read_group(const Stmt& s) const;
    Result<Message> read_message(const Stmt& s) const;
    Result<std::vector<Message>> read_messages(Stmt& s) const;

    std::unique_ptr<Connection> db_;
    ProfileKey key_;
    bool in_transaction_ = false;
};

template <typename T, typename F>
Result<T> SqliteProfileStore::write(F&& body) {
    if (in_transaction_) return body();
    PP_TRY(tx, Transaction::begin(*db_, Transaction::Kind::kWrite));
    Result<T> r = body();
    if (!r) return r;  // the transaction rolls back
    PP_TRY_VOID(tx.commit());
    return r;
}

}  // namespace pp::client::profile

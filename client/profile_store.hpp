#pragma once
// A profile's local database: one SQLite file in the profile directory holding this device's
// identity and prekeys, Signal sessions, sender keys, contacts, groups, message history, the
// outbox of sends not yet accepted by the server, and the ids of envelopes already processed.
//
// At rest, everything secret or personal is sealed (XChaCha20-Poly1305, see at_rest.hpp) under
// the profile key: private keys, session and sender-key state, message text, contact and group
// names, group member lists. Only what must be an index stays clear: account, group and message
// ids, device ids, timestamps and statuses.
//
// Not thread-safe: one owner (the Client) serialises every call. Errors are values.
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "client/types.hpp"
#include "protocol/prekeys.hpp"
#include "protocol/sender_keys.hpp"
#include "protocol/session_state.hpp"

namespace pp::client {

class ProfileStore {
  public:
    // Creates <dir> (0700) with a new database. With a passphrase the profile key comes from
    // Argon2id (crypto_pwhash) of it and a random salt kept in the database; without one a
    // random key is written to <dir>/profile.key with mode 0600. kLimitExceeded if a profile
    // already exists there; kInvalidKey for an empty passphrase (omit it instead).
    static Result<std::unique_ptr<ProfileStore>> create(
        const std::filesystem::path& dir, const std::optional<std::string>& passphrase);
    // kNoSession if there is no profile in <dir>; kBadMac ("wrong passphrase") if the
    // passphrase does not open it, or one is missing/superfluous (or the key file is another
    // profile's). kInvalidKey if the key file is missing, not a regular file, not 32 bytes, or
    // has a mode wider than 0600. Nothing is modified then.
    static Result<std::unique_ptr<ProfileStore>> open(const std::filesystem::path& dir,
                                                      const std::optional<std::string>& passphrase);
    static bool exists(const std::filesystem::path& dir);

    virtual ~ProfileStore() = default;

    // Every call made inside `body` commits together, or none does if body fails.
    // Not reentrant.
    virtual Result<void> transaction(const std::function<Result<void>()>& body) = 0;

    // --- this device ---
    virtual Result<void> set_identity(const protocol::IdentityKeyPair& identity,
                                      std::uint32_t registration_id) = 0;
    virtual Result<protocol::IdentityKeyPair> identity() = 0;  // kNoSession before set_identity
    virtual Result<std::uint32_t> registration_id() = 0;
    virtual Result<void> set_account(const AccountRecord& account) = 0;
    virtual Result<std::optional<AccountRecord>> account() = 0;  // nullopt: not registered yet

    virtual Result<void> put_signed_prekey(const protocol::SignedPreKeyRecord& record) = 0;
    virtual Result<std::optional<protocol::SignedPreKeyRecord>> signed_prekey(std::uint32_t id) = 0;
    virtual Result<std::vector<protocol::SignedPreKeyRecord>> signed_prekeys() = 0;  // newest first
    virtual Result<void> remove_signed_prekey(std::uint32_t id) = 0;
    virtual Result<void> put_prekeys(const std::vector<protocol::PreKeyRecord>& records) = 0;
    virtual Result<std::optional<protocol::PreKeyRecord>> prekey(std::uint32_t id) = 0;
    virtual Result<void> remove_prekey(std::uint32_t id) = 0;
    virtual Result<std::size_t> prekey_count() = 0;

    // Small named integers (next prekey id, last signed-prekey rotation, ...). `fallback` when
    // the name was never set.
    virtual Result<std::int64_t> counter(std::string_view name, std::int64_t fallback) = 0;
    virtual Result<void> set_counter(std::string_view name, std::int64_t value) = 0;

    // --- pairwise sessions, one per (account, device) ---
    virtual Result<std::optional<protocol::SessionRecord>> session(const AccountId& account,
                                                                   DeviceId device) = 0;
    virtual Result<void> put_session(const AccountId& account, DeviceId device,
                                     const protocol::SessionRecord& record) = 0;
    virtual Result<std::vector<DeviceId>> session_devices(const AccountId& account) = 0;
    // Every device's session, and the marks that our sender keys were shared with the account
    // (a new session means a new install that must be given them again).
    virtual Result<void> delete_sessions(const AccountId& account) = 0;

    // --- sender keys, one record per (group, sender account, sender device); ours included ---
    virtual Result<std::optional<protocol::SenderKeyRecord>> sender_key(const GroupId& group,
                                                                        const AccountId& sender,
                                                                        DeviceId device) = 0;
    virtual Result<void> put_sender_key(const GroupId& group, const AccountId& sender,
                                        DeviceId device, const protocol::SenderKeyRecord& r) = 0;
    // Every sender's, with the group's key-id index entries and "shared" marks.
    virtual Result<void> delete_sender_keys(const GroupId& group) = 0;
    // SenderKeyMessages do not name their group: a sender's key id does.
    virtual Result<void> index_sender_key(const AccountId& sender, DeviceId device,
                                          std::uint32_t key_id, const GroupId& group) = 0;
    virtual Result<std::optional<GroupId>> group_for_sender_key(const AccountId& sender,
                                                                DeviceId device,
                                                                std::uint32_t key_id) = 0;
    // Members that already hold our sender key `key_id` for `group`, so it is sent once each.
    virtual Result<bool> sender_key_shared(const GroupId& group, std::uint32_t key_id,
                                           const AccountId& member) = 0;
    virtual Result<void> mark_sender_key_shared(const GroupId& group, std::uint32_t key_id,
                                                const AccountId& member) = 0;

    // --- contacts ---
    // Insert or replace by account id. kLimitExceeded if another account has that name. An
    // empty name means "none": it never collides and contact_by_name("") finds nothing.
    virtual Result<void> put_contact(const Contact& contact) = 0;
    virtual Result<std::optional<Contact>> contact(const AccountId& account) = 0;
    virtual Result<std::optional<Contact>> contact_by_name(std::string_view name) = 0;
    virtual Result<std::vector<Contact>> contacts() = 0;  // sorted by name

    // --- groups ---
    // Insert or replace by id. kLimitExceeded if another group has that name (empty: none).
    virtual Result<void> put_group(const Group& group) = 0;
    virtual Result<std::optional<Group>> group(const GroupId& id) = 0;
    virtual Result<std::optional<Group>> group_by_name(std::string_view name) = 0;
    virtual Result<std::vector<Group>> groups() = 0;  // sorted by name

    // --- history ---
    // Messages are keyed by (sender, id). False (nothing changed) if that key exists.
    // kMalformed if the status is off the direction's path (kReceived on an outgoing one...).
    virtual Result<bool> add_message(const Message& message) = 0;
    virtual Result<std::optional<Message>> message(const AccountId& sender,
                                                   const MessageId& id) = 0;
    // Moves the status forward only (kSent -> kDelivered -> kRead); never backwards. A status
    // not ahead of the stored one, or an unknown message, changes nothing (ok); a status off
    // the message's path (kDelivered for incoming, kReceived for outgoing) is kMalformed.
    virtual Result<void> advance_status(const AccountId& sender, const MessageId& id,
                                        MessageStatus status) = 0;
    // The last `limit` messages of a conversation, oldest first.
    virtual Result<std::vector<Message>> history(const ConversationId& c, std::size_t limit) = 0;
    // Incoming messages not yet read (status kReceived), oldest first, all conversations.
    virtual Result<std::vector<Message>> unread() = 0;
    // Marks the conversation's unread incoming messages kRead and returns them (for receipts).
    virtual Result<std::vector<Message>> mark_read(const ConversationId& c) = 0;

    // --- transport ---
    // Remembers an envelope (sender, sender device, envelope id) as processed. False if it was
    // already: the push is a redelivery and must only be acknowledged again.
    virtual Result<bool> mark_processed(const AccountId& sender, DeviceId device,
                                        const MessageId& envelope_id) = 0;
    // Sends not yet acknowledged by the server, as serialized SendRequest bodies, kept so a
    // crash or a lost connection resends exactly the same bytes under the same id (the server
    // de-duplicates by id). Oldest first. Keyed by the local message id; the envelope id the
    // server sees is stamped into the request at the first attempt (outbox_stamp).
    virtual Result<void> outbox_add(const MessageId& id, ByteView request) = 0;
    // One entry's bytes; nullopt once it is gone (sent, or dropped).
    virtual Result<std::optional<Bytes>> outbox_entry(const MessageId& id) = 0;
    // Replaces a queued entry's bytes, keeping its place in the order, to set the envelope
    // id the server will see. Done once per entry, before its first send, inside a
    // transaction that re-read it (Client::Impl::outbox_request); after that an entry's
    // bytes never change. Unknown ids change nothing.
    virtual Result<void> outbox_stamp(const MessageId& id, ByteView request) = 0;
    // The entries' ids alone, oldest first: what a flush walks, reading each afresh.
    virtual Result<std::vector<MessageId>> outbox_ids() = 0;
    virtual Result<void> outbox_remove(const MessageId& id) = 0;
    // Envelopes from a contact whose identity key changed, kept (sealed) until the user accepts
    // or rejects the new key. Oldest first.
    virtual Result<void> hold_envelope(const AccountId& sender, ByteView envelope) = 0;
    virtual Result<std::vector<Bytes>> held_envelopes(const AccountId& sender) = 0;
    virtual Result<void> drop_held_envelopes(const AccountId& sender) = 0;

    // --- ways to the server ---
    // Small sealed values by name (the server's endpoint-list key, the cached signed list,
    // the route that won last). nullopt when never set.
    virtual Result<std::optional<Bytes>> setting(std::string_view name) = 0;
    virtual Result<void> set_setting(std::string_view name, ByteView value) = 0;
    // Routes the user added, kept as the links they came from (sealed: proxy passwords and
    // relay secrets). Ids only grow; listed oldest first.
    struct RouteEntry {
        std::int64_t id = 0;
        std::string link;
    };
    virtual Result<std::int64_t> add_route(std::string_view link) = 0;
    virtual Result<std::vector<RouteEntry>> routes() = 0;
    virtual Result<bool> remove_route(std::int64_t id) = 0;  // false: no such route
};

}  // namespace pp::client

#pragma once
// client/ internal: the state behind Client and the steps its public calls are made of. The
// work is split by direction: outgoing.cpp (encrypt, outbox, receipts), incoming.cpp (decrypt,
// store, acknowledge), groups.cpp (membership and sender keys), network.cpp (connect,
// authenticate, prekeys, poll), client.cpp (profile, contacts, safety numbers).
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/unix_time.hpp"
#include "client/client.hpp"
#include "client/connection.hpp"
#include "client/content_codec.hpp"
#include "client/profile_store.hpp"
#include "client/routes.hpp"
#include "protocol/session_cipher.hpp"
#include "wire/server_clock.hpp"

namespace pp::client {

// One-time prekeys kept on the server; refilled when fewer than kPrekeyLowWater remain.
inline constexpr std::uint32_t kPrekeyBatch = 100;
inline constexpr std::uint32_t kPrekeyLowWater = 25;
inline constexpr std::size_t kMaxLocalPrekeys = 1000;
// The signed prekey is replaced after this long; the old one is kept a while for late first
// messages that still name it.
inline constexpr std::int64_t kSignedPrekeyRotationMs = 7LL * 24 * 3600 * 1000;
inline constexpr std::size_t kMaxTextBytes = 16 * 1024;
inline constexpr std::size_t kMaxAcksPerRequest = 64;

// Events, built field by field (designated initializers would leave the rest unnamed).
inline Event make_event(Event::Kind kind, const ConversationId& c = {}, std::string detail = {}) {
    Event e;
    e.kind = kind;
    e.conversation = c;
    e.detail = std::move(detail);
    return e;
}
inline Event message_event(const Message& m) {
    Event e = make_event(Event::Kind::kMessage, m.conversation);
    e.message = m;
    return e;
}
inline Event status_event(const ConversationId& c, const MessageId& id, MessageStatus s) {
    Event e = make_event(Event::Kind::kStatus, c);
    e.ids = {id};
    e.status = s;
    return e;
}
inline Event identity_event(const Contact& contact) {
    Event e = make_event(Event::Kind::kIdentityChanged,
                         {ConversationId::Kind::kContact, contact.account});
    e.contact = contact;
    return e;
}
inline Event group_event(const Group& g) {
    Event e = make_event(Event::Kind::kGroupChanged, {ConversationId::Kind::kGroup, g.id});
    e.group = g;
    return e;
}
// The device's clock, then 80 random bits (wire/message_id.hpp): for the ids inside the
// ciphertext, which only the recipients read.
MessageId new_message_id();
// The id of a send as the server sees it: the server's clock as `server` estimates it at `now`,
// then 80 random bits. With no estimate (a server that does not give its clock, or a last
// reading older than ServerClock::kMaxAge), all 16 bytes are random: slower for the server's
// index, but the device's clock never shows.
MessageId new_server_message_id(const wire::ServerClock& server,
                                std::chrono::steady_clock::time_point now);
GroupId random_group_id();
std::string short_hex(ByteView id);  // the first 8 hex digits: for display

// Ids between their fixed-size form and protobuf `bytes`.
inline std::string str(ByteView b) {
    return std::string(b.begin(), b.end());
}
template <std::size_t N>
bool copy_id(const std::string& in, std::array<std::uint8_t, N>& out) {
    if (in.size() != N) return false;
    std::copy(in.begin(), in.end(), out.begin());
    return true;
}

struct Client::Impl {
    std::unique_ptr<ProfileStore> store;
    std::optional<AccountRecord> account;
    protocol::IdentityKeyPair identity;
    std::uint32_t registration_id = 0;

    std::function<void(const Event&)> on_event;

    // Online state.
    std::unique_ptr<Connection> conn;
    bool authenticated = false;
    // QueueEmpty pushes still to come: one per authentication and per DrainRequest.
    std::size_t queue_empty_due = 0;
    std::uint64_t connections = 0;      // authenticated connections made so far
    std::vector<std::string> acks_due;  // envelope ids stored, not yet acknowledged
    std::chrono::steady_clock::time_point next_attempt{};
    std::chrono::milliseconds backoff{0};
    std::string last_error;
    // The server's clock, estimated from its answers (authentication, sends): the clock of the
    // ids the server sees (docs/protocol.md, "Message ids").
    wire::ServerClock server_clock;

    // Ways to the server (ways.cpp).
    RouteBackoff route_backoff;
    std::string route_in_use;  // describe() of the route the connection took

    // Events of the envelope being processed: emitted only once its transaction committed.
    std::vector<Event> deferred;

    void emit(const Event& e) const {
        if (on_event) on_event(e);
    }

    // network.cpp
    Result<void> ensure_online(milliseconds timeout);
    Result<void> connect_and_authenticate(milliseconds timeout);
    Result<void> maintain_prekeys(milliseconds timeout);
    void drop_connection(std::string why);
    // One request on the authenticated connection. A connection found broken (the server
    // restarted, a NAT forgot us) is replaced once and the request sent again: every request
    // the client makes is safe to repeat (sends and acks are idempotent by id).
    Result<v1::Response> rpc(const v1::Request& req, milliseconds timeout);
    Result<std::size_t> receive(milliseconds timeout, bool until_queue_empty);
    Result<void> flush_acks(milliseconds timeout);

    // ways.cpp
    // Everything worth racing to `server`, in preference order, before backoff.
    Result<std::vector<Candidate>> route_candidates(const ServerAddress& server);
    // Races the candidates not resting after failures; remembers the winner.
    Result<std::unique_ptr<Connection>> open_connection(const ServerAddress& server,
                                                        milliseconds timeout);
    // On the authenticated connection: fetches the signed endpoint list when the cached one is
    // older than an hour (or always with `force`), verifies and keeps it.
    Result<void> refresh_endpoints(milliseconds timeout, bool force);
    // Verifies `signed_list` with the pinned key and decides whether to keep it (ways.cpp);
    // `from_server`: it came over the server's own authenticated connection.
    Result<EndpointListInfo> accept_endpoint_list(ByteView signed_list, bool from_server);

    // outgoing.cpp
    // Makes sure a session exists with every device of `to`, fetching bundles when there is
    // none. Bundles must carry the identity key we trust for `to` (kUntrustedIdentity).
    Result<void> ensure_sessions(const AccountId& to, milliseconds timeout);
    // Local only, inside the caller's transaction: encrypts `c` for every device of `to` we
    // have a session with and queues the send in the outbox under `id`.
    Result<void> queue_pairwise(const AccountId& to, const MessageId& id,
                                const content::Content& c);
    // Local only: encrypts `c` once with our sender key and queues one group send.
    Result<void> queue_group(const Group& g, const MessageId& id, const content::Content& c);
    // Sends what waits in the outbox, oldest first. Transient refusals leave the rest queued.
    Result<void> flush_outbox(milliseconds timeout);
    // The SendRequest an outbox entry holds now, with its envelope id stamped (and stored) if
    // it had none yet; nullopt once the entry is gone.
    Result<std::optional<v1::SendRequest>> outbox_request(const MessageId& id);
    // Refuses to talk to a contact whose identity key changed until the user accepts it.
    Result<void> check_not_changed(const AccountId& to);

    // incoming.cpp
    // Decrypts, stores and schedules the acknowledgement of one envelope. True when it was
    // new (false: a redelivery of one stored before, now only acknowledged again).
    // `held_replay`: an envelope held back for a changed identity, processed after acceptance.
    Result<bool> handle_envelope(const v1::Envelope& e, bool held_replay = false);
    Result<std::optional<Bytes>> decrypt_pairwise(const v1::Envelope& e, const AccountId& sender,
                                                  std::optional<Contact>& contact);
    Result<void> apply_content(const content::Content& c, const AccountId& sender, DeviceId device,
                               const v1::Envelope& e, bool group_message,
                               std::optional<GroupId> group);

    // groups.cpp
    // Stores the group's new state (rotating our sender key if asked) and queues its whole
    // state pairwise to `recipients` (current and removed members), in one transaction.
    Result<void> commit_group_change(const Group& g, const std::vector<GroupMember>& recipients,
                                     bool rotate, milliseconds timeout);
    Result<void> apply_group_update(const content::GroupUpdate& u, const AccountId& sender);
    // Sends our current sender key to every member who does not hold it yet.
    Result<void> share_sender_key(const Group& g, milliseconds timeout);
    Result<void> rotate_own_sender_key(const GroupId& g);
    Result<void> process_distribution(const content::SenderKeyDistribution& d,
                                      const AccountId& sender, DeviceId device);

    // client.cpp
    Result<Contact> contact_for_sender(const AccountId& sender, const Bytes& identity_key);
    std::optional<Bytes> trusted_key_for(const AccountId& account);
};

// The profile's keys, as protocol/ asks for them when answering a PreKeySignalMessage.
class StorePreKeys final : public protocol::LocalPreKeys {
  public:
    StorePreKeys(ProfileStore& store, const protocol::IdentityKeyPair& identity,
                 std::uint32_t registration_id)
        : store_(store), identity_(identity), registration_id_(registration_id) {}
    const protocol::IdentityKeyPair& identity() const override { return identity_; }
    std::uint32_t registration_id() const override { return registration_id_; }
    const protocol::SignedPreKeyRecord* signed_prekey(std::uint32_t id) const override;
    const protocol::PreKeyRecord* prekey(std::uint32_t id) const override;

  private:
    ProfileStore& store_;
    const protocol::IdentityKeyPair& identity_;
    std::uint32_t registration_id_;
    // The records handed out stay alive as long as this adapter.
    mutable std::optional<protocol::SignedPreKeyRecord> signed_;
    mutable std::optional<protocol::PreKeyRecord> one_time_;
};

}  // namespace pp::client

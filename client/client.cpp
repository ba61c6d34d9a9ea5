// Client: opening profiles, the account, contacts and safety numbers. The network and the
// message paths live in network.cpp, outgoing.cpp, incoming.cpp and groups.cpp.
#include <algorithm>
#include <cstdlib>

#include "base/hex.hpp"
#include "client/client_impl.hpp"
#include "client/links.hpp"
#include "crypto/init.hpp"
#include "crypto/random.hpp"
#include "protocol/fingerprint.hpp"
#include "wire/message_id.hpp"

namespace pp::client {

MessageId new_message_id() {
    std::array<std::uint8_t, wire::kMessageIdTailBytes> tail{};
    crypto::random_bytes(tail);
    return wire::message_id_at(unix_ms_now(), tail);
}

MessageId new_server_message_id(const wire::ServerClock& server,
                                std::chrono::steady_clock::time_point now) {
    const auto clock = server.at(now);
    if (!clock) {
        MessageId id{};
        crypto::random_bytes(id);
        return id;
    }
    std::array<std::uint8_t, wire::kMessageIdTailBytes> tail{};
    crypto::random_bytes(tail);
    return wire::message_id_at(*clock, tail);
}

GroupId random_group_id() {
    GroupId id{};
    crypto::random_bytes(id);
    return id;
}

std::string short_hex(ByteView id) {
    return to_hex(id.first(std::min<std::size_t>(4, id.size())));
}

const protocol::SignedPreKeyRecord* StorePreKeys::signed_prekey(std::uint32_t id) const {
    auto r = store_.signed_prekey(id);
    if (!r || !*r) return nullptr;
    signed_ = std::move(**r);
    return &*signed_;
}

const protocol::PreKeyRecord* StorePreKeys::prekey(std::uint32_t id) const {
    auto r = store_.prekey(id);
    if (!r || !*r) return nullptr;
    one_time_ = std::move(**r);
    return &*one_time_;
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Client::~Client() {
    if (impl_ && impl_->conn) impl_->conn->close();
}

std::filesystem::path Client::default_profile_dir(std::string_view profile) {
    std::filesystem::path base;
    if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg)
        base = xdg;
    else if (const char* home = std::getenv("HOME"); home && *home)
        base = std::filesystem::path(home) / ".local" / "share";
    else
        base = ".";
    return base / "paperplane" / std::string(profile);
}

namespace {

Result<std::unique_ptr<Client::Impl>> load(std::unique_ptr<ProfileStore> store) {
    auto im = std::make_unique<Client::Impl>();
    PP_TRY(identity, store->identity());
    PP_TRY(registration_id, store->registration_id());
    PP_TRY(account, store->account());
    im->identity = std::move(identity);
    im->registration_id = registration_id;
    im->account = std::move(account);
    im->store = std::move(store);
    return im;
}

}  // namespace

Result<std::unique_ptr<Client>> Client::create(const ProfileOptions& options) {
    crypto::ensure_initialized();
    PP_TRY(store, ProfileStore::create(options.dir, options.passphrase));
    // The device's keys exist from the start; registering only publishes their public halves.
    const auto identity = protocol::IdentityKeyPair::generate();
    const auto registration_id = protocol::generate_registration_id();
    const auto signed_prekey =
        protocol::generate_signed_prekey(identity, 1, static_cast<std::uint64_t>(unix_ms_now()));
    const auto prekeys = protocol::generate_prekeys(1, kPrekeyBatch);
    auto* s = store.get();
    PP_TRY_VOID(s->transaction([&]() -> Result<void> {
        PP_TRY_VOID(s->set_identity(identity, registration_id));
        PP_TRY_VOID(s->put_signed_prekey(signed_prekey));
        PP_TRY_VOID(s->put_prekeys(prekeys));
        PP_TRY_VOID(s->set_counter("next_prekey_id", kPrekeyBatch + 1));
        PP_TRY_VOID(s->set_counter("next_signed_prekey_id", 2));
        return s->set_counter("signed_prekey_ms", unix_ms_now());
    }));
    PP_TRY(im, load(std::move(store)));
    return std::unique_ptr<Client>(new Client(std::move(im)));
}

Result<std::unique_ptr<Client>> Client::open(const ProfileOptions& options) {
    crypto::ensure_initialized();
    PP_TRY(store, ProfileStore::open(options.dir, options.passphrase));
    PP_TRY(im, load(std::move(store)));
    return std::unique_ptr<Client>(new Client(std::move(im)));
}

std::optional<AccountRecord> Client::account() const {
    return impl_->account;
}

Result<std::string> Client::contact_link() const {
    if (!impl_->account)
        return make_error(ErrorCode::kNoSession, "not registered yet: run `paperplane register`");
    ContactLink link;
    link.server = impl_->account->server;
    link.account = impl_->account->account;
    const auto key = impl_->identity.public_key.serialize();
    link.identity_key.assign(key.begin(), key.end());
    link.name = impl_->account->username;  // a suggestion; the receiver names us as they like
    return format_contact_link(link);
}

Result<Contact> Client::add_contact(std::string_view link, std::string name) {
    PP_TRY(parsed, parse_contact_link(link));
    if (!impl_->account)
        return make_error(ErrorCode::kNoSession, "register first: `paperplane register`");
    if (parsed.server != impl_->account->server)
        return make_error(ErrorCode::kInvalidKey,
                          "that contact is on another server; talking across servers is not "
                          "supported yet");
    if (parsed.account == impl_->account->account)
        return make_error(ErrorCode::kInvalidKey, "that is your own link");
    if (name.empty()) name = parsed.name;
    if (name.empty()) name = "contact-" + short_hex(parsed.account);
    if (!valid_display_name(name))
        return make_error(ErrorCode::kMalformed, "a name is 1-64 printable characters");
    PP_TRY(existing, impl_->store->contact(parsed.account));
    Contact c;
    if (existing) {
        c = *existing;
        if (c.identity_key != parsed.identity_key) {
            // The link is newer evidence than what we had; it is still a change to flag.
            c.changed_identity_key = parsed.identity_key;
            c.verified = false;
        }
        c.name = name;
    } else {
        c.account = parsed.account;
        c.identity_key = parsed.identity_key;
        c.name = name;
        c.added_ms = unix_ms_now();
    }
    PP_TRY_VOID(impl_->store->put_contact(c));
    return c;
}

Result<std::vector<Contact>> Client::contacts() const {
    return impl_->store->contacts();
}

Result<ConversationId> Client::resolve(std::string_view name) const {
    auto& s = *impl_->store;
    PP_TRY(contact, s.contact_by_name(name));
    if (contact) return contact_conversation(contact->account);
    PP_TRY(group, s.group_by_name(name));
    if (group) return group_conversation(group->id);
    // A hex prefix of an id (what `contacts`/`group list` show for unnamed peers).
    if (name.size() >= 4) {
        PP_TRY(all, s.contacts());
        for (const auto& c : all)
            if (to_hex(c.account).starts_with(name)) return contact_conversation(c.account);
        PP_TRY(gs, s.groups());
        for (const auto& g : gs)
            if (to_hex(g.id).starts_with(name)) return group_conversation(g.id);
    }
    return make_error(ErrorCode::kNoSession,
                      "no contact or group by that name: see `paperplane contacts`");
}

std::string Client::display_name(const AccountId& account) const {
    if (impl_->account && account == impl_->account->account) return "me";
    auto c = impl_->store->contact(account);
    if (c && *c) return (*c)->name;
    return "user-" + short_hex(account);
}

std::string Client::display_name(const ConversationId& c) const {
    if (c.kind == ConversationId::Kind::kContact) return display_name(AccountId(c.id));
    auto g = impl_->store->group(c.id);
    if (g && *g) return (*g)->name;
    return "group-" + short_hex(c.id);
}

Result<SafetyNumber> Client::safety_number(const AccountId& contact) const {
    if (!impl_->account) return make_error(ErrorCode::kNoSession, "not registered yet");
    PP_TRY(c, impl_->store->contact(contact));
    if (!c) return make_error(ErrorCode::kNoSession, "no such contact");
    // Account ids as the stable identifiers: both sides name each other the same way.
    const std::string ours_id = to_hex(impl_->account->account);
    const std::string their_id = to_hex(c->account);
    auto number = [&](const Bytes& key) -> Result<protocol::Fingerprint> {
        PP_TRY(theirs, crypto::PublicKey::deserialize(key));
        protocol::FingerprintGenerator gen;
        return gen.create(ours_id, impl_->identity.public_key, their_id, theirs);
    };
    SafetyNumber out;
    PP_TRY(current, number(c->changed_identity_key ? *c->changed_identity_key : c->identity_key));
    out.digits = protocol::group_digits(current.displayable.text());
    out.scannable = current.scannable.serialize();
    out.verified = c->verified && !c->changed_identity_key;
    if (c->changed_identity_key) {
        out.pending_change = true;
        PP_TRY(previous, number(c->identity_key));
        out.previous_digits = protocol::group_digits(previous.displayable.text());
    }
    return out;
}

Result<void> Client::reject_identity_change(const AccountId& contact) {
    auto& s = *impl_->store;
    PP_TRY(c, s.contact(contact));
    if (!c) return make_error(ErrorCode::kNoSession, "no such contact");
    if (!c->changed_identity_key) return {};
    c->changed_identity_key.reset();
    return s.transaction([&]() -> Result<void> {
        PP_TRY_VOID(s.put_contact(*c));
        return s.drop_held_envelopes(contact);
    });
}

Result<void> Client::verify(const AccountId& contact, bool accept_new_identity) {
    auto& s = *impl_->store;
    PP_TRY(c, s.contact(contact));
    if (!c) return make_error(ErrorCode::kNoSession, "no such contact");
    if (c->changed_identity_key && !accept_new_identity)
        return make_error(ErrorCode::kUntrustedIdentity,
                          "this contact's identity key changed: compare the new safety number, "
                          "then run verify with --accept-new-identity");
    const bool accepted = c->changed_identity_key.has_value();
    PP_TRY_VOID(s.transaction([&]() -> Result<void> {
        if (accepted) {
            c->identity_key = *c->changed_identity_key;
            c->changed_identity_key.reset();
            // Sessions with the old key are over; the next message starts a new one.
            PP_TRY_VOID(s.delete_sessions(contact));
        }
        c->verified = true;
        return s.put_contact(*c);
    }));
    // Messages that arrived under the new key were held back: process them now (also after a
    // crash that interrupted an earlier replay: acceptance is committed, the held ones remain).
    // Dropped only after the replay: a crash in between replays them again, and the message
    // history ignores what it already has.
    PP_TRY(held, s.held_envelopes(contact));
    for (const auto& bytes : held) {
        v1::Envelope e;
        if (!e.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) continue;
        auto r = impl_->handle_envelope(e, true);
        if (!r)
            impl_->emit(make_event(Event::Kind::kUndecryptable, contact_conversation(contact),
                                   std::string(r.error().detail)));
    }
    return s.drop_held_envelopes(contact);
}

Result<Contact> Client::Impl::contact_for_sender(const AccountId& sender,
                                                 const Bytes& identity_key) {
    PP_TRY(existing, store->contact(sender));
    if (existing) return *existing;
    // Someone who has our link wrote first: they become a contact, trusted on first use and
    // shown unverified until the safety numbers are compared.
    Contact c;
    c.account = sender;
    c.identity_key = identity_key;
    c.added_ms = unix_ms_now();
    // A free name: the server picks account ids, so prefixes can be made to collide.
    const std::string base = "user-" + short_hex(sender);
    c.name = base;
    for (int n = 2;; ++n) {
        PP_TRY(taken, store->contact_by_name(c.name));
        if (!taken) break;
        c.name = base + "-" + std::to_string(n);
    }
    PP_TRY_VOID(store->put_contact(c));
    return c;
}

std::optional<Bytes> Client::Impl::trusted_key_for(const AccountId& who) {
    auto c = store->contact(who);
    if (c && *c) return (*c)->identity_key;
    // A fellow group member we never added: the key the member who added them vouched for.
    auto gs = store->groups();
    if (!gs) return std::nullopt;
    for (const auto& g : *gs)
        for (const auto& m : g.left ? std::vector<GroupMember>{} : g.members)
            if (m.account == who) return m.identity_key;
    return std::nullopt;
}

Result<std::vector<Message>> Client::history(const ConversationId& c, std::size_t limit) const {
    return impl_->store->history(c, limit);
}

Result<std::vector<Message>> Client::unread() const {
    return impl_->store->unread();
}

Result<std::vector<Group>> Client::groups() const {
    return impl_->store->groups();
}

void Client::set_event_handler(std::function<void(const Event&)> handler) {
    impl_->on_event = std::move(handler);
}

Status Client::status() const {
    Status st;
    st.registered = impl_->account.has_value();
    st.online = impl_->conn && impl_->authenticated;
    if (st.online) st.route = impl_->route_in_use;
    if (impl_->account)
        st.server = impl_->account->server.host + ":" + std::to_string(impl_->account->server.port);
    if (auto o = impl_->store->outbox_ids()) st.outbox = o->size();
    if (auto u = impl_->store->unread()) st.unread = u->size();
    if (auto n = impl_->store->prekey_count()) st.prekeys = *n;
    st.last_error = impl_->last_error;
    return st;
}

}  // namespace pp::client

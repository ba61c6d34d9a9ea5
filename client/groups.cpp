// Client: groups. Membership travels as a whole-state GroupUpdate over the pairwise sessions
// (so the server learns nothing about who is in a group); messages travel once, encrypted with
// each member's Sender Key, which is itself sent pairwise to the members that lack it. When a
// member is removed every remaining member rotates its sender key, so nothing sent afterwards
// can be read with what the removed member holds.
#include <sodium.h>

#include <algorithm>

#include "client/client_impl.hpp"
#include "client/links.hpp"

namespace pp::client {

namespace {

constexpr std::size_t kMaxGroupMembers = 1000;
constexpr std::uint64_t kMaxRevisionJump = 1 << 20;

// A digest of a group's state (name, members, keys) for ordering concurrent updates.
std::string state_digest(const Group& g) {
    std::vector<std::string> members;
    for (const auto& m : g.members)
        members.push_back(std::string(m.account.begin(), m.account.end()) +
                          std::string(m.identity_key.begin(), m.identity_key.end()));
    std::sort(members.begin(), members.end());
    std::string all = g.name;
    all.push_back('\0');
    for (const auto& m : members) all += m;
    std::array<std::uint8_t, crypto_hash_sha256_BYTES> h{};
    crypto_hash_sha256(h.data(), reinterpret_cast<const unsigned char*>(all.data()), all.size());
    return std::string(h.begin(), h.end());
}

bool is_member(const Group& g, const AccountId& a) {
    return std::any_of(g.members.begin(), g.members.end(),
                       [&](const GroupMember& m) { return m.account == a; });
}

content::Content update_content(const Group& g) {
    content::Content c;
    auto* u = c.mutable_group_update();
    u->set_group_id(str(g.id));
    u->set_name(g.name);
    u->set_revision(g.revision);
    for (const auto& m : g.members) {
        auto* out = u->add_members();
        out->set_account_id(str(m.account));
        out->set_identity_key(str(m.identity_key));
    }
    return c;
}

}  // namespace

Result<void> Client::Impl::commit_group_change(const Group& g,
                                               const std::vector<GroupMember>& recipients,
                                               bool rotate, milliseconds timeout) {
    // Sessions first (network, best effort), then ONE transaction: the new state, our key
    // rotation and the update queued for every recipient in the outbox, which retries until
    // the server has them. A crash or a lost connection can no longer leave some members
    // uninformed of a removal.
    for (const auto& r : recipients)
        if (r.account != account->account && check_not_changed(r.account))
            (void)ensure_sessions(r.account, timeout);
    bool missed = false;
    const auto c = update_content(g);
    PP_TRY_VOID(store->transaction([&]() -> Result<void> {
        PP_TRY_VOID(store->put_group(g));
        if (rotate) PP_TRY_VOID(rotate_own_sender_key(g.id));
        for (const auto& r : recipients) {
            if (r.account == account->account) continue;
            PP_TRY(devices, store->session_devices(r.account));
            if (devices.empty() || !check_not_changed(r.account)) {
                missed = true;
                continue;
            }
            PP_TRY_VOID(queue_pairwise(r.account, new_message_id(), c));
        }
        return {};
    }));
    if (missed)
        emit(make_event(Event::Kind::kUndeliverable, group_conversation(g.id),
                        "some members could not be told of the change yet (no session, or a "
                        "changed safety number)"));
    (void)flush_outbox(timeout);  // offline: the outbox sends it later
    return {};
}

Result<void> Client::Impl::share_sender_key(const Group& g, milliseconds timeout) {
    PP_TRY(existing, store->sender_key(g.id, account->account, account->device));
    protocol::SenderKeyRecord own = existing ? std::move(*existing) : protocol::SenderKeyRecord{};
    const bool fresh = own.empty();
    PP_TRY(distribution, protocol::create_sender_key_distribution(own));
    if (fresh) PP_TRY_VOID(store->put_sender_key(g.id, account->account, account->device, own));
    const std::uint32_t key_id = own.current()->key_id();
    content::Content c;
    c.mutable_sender_key()->set_group_id(str(g.id));
    c.mutable_sender_key()->set_distribution(str(distribution.serialized));
    for (const auto& m : g.members) {
        if (m.account == account->account) continue;
        PP_TRY(shared, store->sender_key_shared(g.id, key_id, m.account));
        if (shared) continue;
        // A member whose safety number changed (undecided) or who cannot be reached now does
        // not get the key; the rest of the group is not held hostage. They get it on a later
        // send, once the session exists.
        if (!check_not_changed(m.account) || !ensure_sessions(m.account, timeout)) {
            emit(make_event(Event::Kind::kUndeliverable, group_conversation(g.id),
                            "a member could not be given the group key yet"));
            continue;
        }
        PP_TRY_VOID(store->transaction([&]() -> Result<void> {
            PP_TRY_VOID(queue_pairwise(m.account, new_message_id(), c));
            return store->mark_sender_key_shared(g.id, key_id, m.account);
        }));
    }
    return {};
}

Result<void> Client::Impl::rotate_own_sender_key(const GroupId& g) {
    PP_TRY(own, store->sender_key(g, account->account, account->device));
    if (!own || own->empty()) return {};  // never sent: the next send makes a fresh key anyway
    (void)protocol::rotate_sender_key(*own);
    return store->put_sender_key(g, account->account, account->device, *own);
}

Result<void> Client::Impl::process_distribution(const content::SenderKeyDistribution& d,
                                                const AccountId& sender, DeviceId device) {
    GroupId gid{};
    if (!copy_id(d.group_id(), gid)) return make_error(ErrorCode::kMalformed, "bad group id");
    PP_TRY(g, store->group(gid));
    // An unknown group is fine: the update naming it may still be on its way. Membership is
    // checked again when a message under this key arrives.
    if (g && (!is_member(*g, sender) || g->left)) return {};
    PP_TRY(parsed, protocol::SenderKeyDistributionMessage::parse(as_bytes(d.distribution())));
    PP_TRY(existing, store->sender_key(gid, sender, device));
    protocol::SenderKeyRecord record =
        existing ? std::move(*existing) : protocol::SenderKeyRecord{};
    PP_TRY_VOID(protocol::process_sender_key_distribution(record, parsed));
    PP_TRY_VOID(store->put_sender_key(gid, sender, device, record));
    return store->index_sender_key(sender, device, parsed.key_id, gid);
}

Result<void> Client::Impl::apply_group_update(const content::GroupUpdate& u,
                                              const AccountId& sender) {
    GroupId gid{};
    if (!copy_id(u.group_id(), gid) || !valid_display_name(u.name()) || u.members_size() == 0 ||
        static_cast<std::size_t>(u.members_size()) > kMaxGroupMembers)
        return make_error(ErrorCode::kMalformed, "malformed group update");
    Group next;
    next.id = gid;
    next.name = u.name();
    next.revision = u.revision();
    for (const auto& m : u.members()) {
        GroupMember member;
        if (!copy_id(m.account_id(), member.account) || m.identity_key().size() != 33)
            return make_error(ErrorCode::kMalformed, "malformed group member");
        member.identity_key.assign(m.identity_key().begin(), m.identity_key().end());
        if (!is_member(next, member.account)) next.members.push_back(std::move(member));
    }
    PP_TRY(current, store->group(gid));
    const bool me_in = is_member(next, account->account);
    if (current) {
        // Only a current member may change the group, and only forwards: a higher revision
        // (within a sane jump, so no one can freeze the group at the top of the range), or the
        // same revision with the larger state digest, so two concurrent changes settle on the
        // same state everywhere.
        if (current->left || !is_member(*current, sender)) return {};
        if (next.revision > current->revision + kMaxRevisionJump) return {};
        if (next.revision < current->revision) return {};
        if (next.revision == current->revision && state_digest(next) <= state_digest(*current))
            return {};
        // Keys of members we already know stay the ones we were first told (or verified):
        // an update may add and remove members, not re-key them.
        for (auto& m : next.members)
            for (const auto& known : current->members)
                if (known.account == m.account) m.identity_key = known.identity_key;
    } else {
        if (!me_in || !is_member(next, sender)) return {};
    }
    next.left = !me_in;
    bool someone_left = false;
    if (current)
        for (const auto& m : current->members) someone_left |= !is_member(next, m.account);
    // Names are unique locally; an incoming name that clashes gets a suffix until it does not
    // (a peer must not be able to make an update unstorable, which would stall the queue).
    if (!current || current->name != next.name) {
        const std::string base = next.name;
        for (int n = 1;; ++n) {
            PP_TRY(same_name, store->group_by_name(next.name));
            if (!same_name || same_name->id == gid) break;
            next.name = base + " (" + short_hex(gid) + (n > 1 ? "-" + std::to_string(n) : "") + ")";
        }
    }
    PP_TRY_VOID(store->put_group(next));
    if (someone_left || next.left) PP_TRY_VOID(rotate_own_sender_key(gid));
    deferred.push_back(group_event(next));
    return {};
}

Result<Group> Client::create_group(std::string name, const std::vector<AccountId>& members) {
    auto& im = *impl_;
    if (!im.account) return make_error(ErrorCode::kNoSession, "not registered yet");
    if (!valid_display_name(name))
        return make_error(ErrorCode::kMalformed, "a group name is 1-64 printable characters");
    PP_TRY(taken, im.store->group_by_name(name));
    if (taken) return make_error(ErrorCode::kLimitExceeded, "a group by that name exists");
    Group g;
    g.id = random_group_id();
    g.name = std::move(name);
    g.revision = 1;
    const auto mine = im.identity.public_key.serialize();
    g.members.push_back({im.account->account, Bytes(mine.begin(), mine.end())});
    for (const auto& a : members) {
        PP_TRY(c, im.store->contact(a));
        if (!c) return make_error(ErrorCode::kNoSession, "group members must be contacts");
        PP_TRY_VOID(im.check_not_changed(a));
        if (!is_member(g, a)) g.members.push_back({a, c->identity_key});
    }
    PP_TRY_VOID(im.ensure_online(milliseconds(10000)));
    PP_TRY_VOID(im.commit_group_change(g, g.members, false, milliseconds(10000)));
    im.emit(group_event(g));
    return g;
}

Result<Group> Client::add_member(const GroupId& group, const AccountId& member) {
    auto& im = *impl_;
    PP_TRY(g, im.store->group(group));
    if (!g || g->left) return make_error(ErrorCode::kNoSession, "no such group");
    PP_TRY(c, im.store->contact(member));
    if (!c) return make_error(ErrorCode::kNoSession, "only contacts can be added");
    PP_TRY_VOID(im.check_not_changed(member));
    if (is_member(*g, member)) return *g;
    g->members.push_back({member, c->identity_key});
    ++g->revision;
    (void)im.ensure_online(milliseconds(10000));
    PP_TRY_VOID(im.commit_group_change(*g, g->members, false, milliseconds(10000)));
    im.emit(group_event(*g));
    return *g;
}

Result<Group> Client::remove_member(const GroupId& group, const AccountId& member) {
    auto& im = *impl_;
    PP_TRY(g, im.store->group(group));
    if (!g || g->left) return make_error(ErrorCode::kNoSession, "no such group");
    if (!is_member(*g, member)) return make_error(ErrorCode::kNoSession, "not a member");
    if (member == im.account->account)
        return make_error(ErrorCode::kMalformed, "to leave a group, ask a member to remove you");
    const auto before = g->members;
    std::erase_if(g->members, [&](const GroupMember& m) { return m.account == member; });
    ++g->revision;
    (void)im.ensure_online(milliseconds(10000));
    // The removed member hears of it too, so their client stops sending to the group.
    PP_TRY_VOID(im.commit_group_change(*g, before, true, milliseconds(10000)));
    im.emit(group_event(*g));
    return *g;
}

Result<Group> Client::rename_group(const GroupId& group, std::string name) {
    auto& im = *impl_;
    if (!valid_display_name(name))
        return make_error(ErrorCode::kMalformed, "a group name is 1-64 printable characters");
    PP_TRY(g, im.store->group(group));
    if (!g || g->left) return make_error(ErrorCode::kNoSession, "no such group");
    PP_TRY(taken, im.store->group_by_name(name));
    if (taken && taken->id != group)
        return make_error(ErrorCode::kLimitExceeded, "a group by that name exists");
    g->name = std::move(name);
    ++g->revision;
    (void)im.ensure_online(milliseconds(10000));
    PP_TRY_VOID(im.commit_group_change(*g, g->members, false, milliseconds(10000)));
    im.emit(group_event(*g));
    return *g;
}

}  // namespace pp::client

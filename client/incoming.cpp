// Client: the way in. One envelope is decrypted, its effects (session state, message, receipt
// to send back, group change) are committed in ONE transaction together with the record that
// it was processed, and only then is it acknowledged. A crash anywhere before the commit
// leaves the envelope on the server; after it, the redelivery is recognised and only acked.
#include "client/client_impl.hpp"

namespace pp::client {

namespace {

// The local database failing (locked, unwritable, full: all kInternal), as opposed to a
// message that fails on its own: then nothing may be acknowledged.
bool is_database_failure(const Error& e) {
    return e.code == ErrorCode::kInternal;
}

}  // namespace

Result<std::optional<Bytes>> Client::Impl::decrypt_pairwise(const v1::Envelope& e,
                                                            const AccountId& sender,
                                                            std::optional<Contact>& contact) {
    const DeviceId device = e.sender_device();
    PP_TRY(known, store->contact(sender));
    contact = known;
    if (contact && contact->changed_identity_key &&
        e.type() == static_cast<std::uint32_t>(protocol::MessageType::kPreKey)) {
        // A new session under the changed key: kept, unread, until the user decides. Messages
        // on the session we already have are still from the key we trust, and flow on.
        PP_TRY_VOID(store->hold_envelope(sender, as_bytes(e.SerializeAsString())));
        return std::optional<Bytes>{};
    }
    PP_TRY(existing, store->session(sender, device));
    protocol::SessionRecord record = existing ? std::move(*existing) : protocol::SessionRecord{};
    if (e.type() == static_cast<std::uint32_t>(protocol::MessageType::kSignal)) {
        if (!existing) return make_error(ErrorCode::kNoSession, "no session with the sender");
        PP_TRY(plain, protocol::decrypt_signal_message(record, as_bytes(e.content())));
        PP_TRY_VOID(store->put_session(sender, device, record));
        return std::optional<Bytes>(std::move(plain));
    }
    // Incoming sessions are checked against contacts' keys only; someone we do not know yet
    // is trusted on first use. (Keys vouched for in groups serve our outgoing sessions: a
    // group member cannot make a stranger's real first message unreadable.)
    std::optional<crypto::PublicKey> trusted;
    if (contact) {
        auto k = crypto::PublicKey::deserialize(contact->identity_key);
        if (k) trusted = *k;
    }
    StorePreKeys keys(*store, identity, registration_id);
    auto r = protocol::decrypt_prekey_message(record, keys, as_bytes(e.content()), trusted);
    if (!r && r.error().code == ErrorCode::kUntrustedIdentity && contact) {
        // A known contact now writes with another identity key: hold the message and warn.
        PP_TRY(msg, protocol::PreKeySignalMessage::parse(as_bytes(e.content())));
        const auto offered = msg.identity_key.serialize();
        contact->changed_identity_key = Bytes(offered.begin(), offered.end());
        contact->verified = false;
        PP_TRY_VOID(store->put_contact(*contact));
        PP_TRY_VOID(store->hold_envelope(sender, as_bytes(e.SerializeAsString())));
        deferred.push_back(identity_event(*contact));
        return std::optional<Bytes>{};
    }
    if (!r) return r.error();
    if (r->consumed_prekey_id) PP_TRY_VOID(store->remove_prekey(*r->consumed_prekey_id));
    PP_TRY_VOID(store->put_session(sender, device, record));
    if (!contact) {
        const auto key = r->remote_identity.serialize();
        PP_TRY(c, contact_for_sender(sender, Bytes(key.begin(), key.end())));
        contact = c;
    }
    return std::optional<Bytes>(std::move(r->plaintext));
}

Result<void> Client::Impl::apply_content(const content::Content& c, const AccountId& sender,
                                         DeviceId device, const v1::Envelope& e, bool group_message,
                                         std::optional<GroupId> group) {
    (void)e;
    switch (c.body_case()) {
        case content::Content::kData: {
            const auto& d = c.data();
            Message m;
            if (!copy_id(d.id(), m.id) || d.text().empty() || d.text().size() > kMaxTextBytes)
                return make_error(ErrorCode::kMalformed, "malformed message");
            if (group_message != !d.group_id().empty())
                return make_error(ErrorCode::kMalformed, "group message outside its group");
            if (group_message) {
                GroupId gid{};
                if (!copy_id(d.group_id(), gid) || gid != *group)
                    return make_error(ErrorCode::kMalformed, "group message for another group");
                m.conversation = group_conversation(gid);
            } else {
                m.conversation = contact_conversation(sender);
            }
            m.direction = Direction::kIncoming;
            m.sender = sender;
            m.text = d.text();
            m.sent_ms = static_cast<std::int64_t>(d.sent_ms());
            m.received_ms = unix_ms_now();
            MessageId reply{};
            if (copy_id(d.reply_to(), reply)) m.reply_to = reply;
            m.status = MessageStatus::kReceived;
            PP_TRY(added, store->add_message(m));
            if (!added) return {};  // the same message under another envelope: seen already
            deferred.push_back(message_event(m));
            // Tell the sender it is stored here (pairwise, inside this same transaction).
            PP_TRY(devices, store->session_devices(sender));
            if (!devices.empty()) {
                content::Content receipt;
                receipt.mutable_receipt()->set_kind(content::Receipt::DELIVERED);
                receipt.mutable_receipt()->add_message_ids(str(m.id));
                PP_TRY_VOID(queue_pairwise(sender, new_message_id(), receipt));
            }
            return {};
        }
        case content::Content::kReceipt: {
            if (group_message) return make_error(ErrorCode::kMalformed, "receipt in a group");
            const auto status = c.receipt().kind() == content::Receipt::READ
                                    ? MessageStatus::kRead
                                    : MessageStatus::kDelivered;
            for (const auto& raw : c.receipt().message_ids()) {
                MessageId id{};
                if (!copy_id(raw, id)) continue;
                PP_TRY(m, store->message(account->account, id));
                if (!m) continue;
                // Only someone the message went to may report on it.
                bool recipient = m->conversation == contact_conversation(sender);
                if (m->conversation.kind == ConversationId::Kind::kGroup) {
                    PP_TRY(g, store->group(m->conversation.id));
                    if (g)
                        for (const auto& member : g->members) recipient |= member.account == sender;
                }
                if (!recipient) continue;
                PP_TRY_VOID(store->advance_status(account->account, id, status));
                deferred.push_back(status_event(m->conversation, id, status));
            }
            return {};
        }
        case content::Content::kSenderKey:
            if (group_message) return make_error(ErrorCode::kMalformed, "sender key in a group");
            return process_distribution(c.sender_key(), sender, device);
        case content::Content::kGroupUpdate:
            if (group_message) return make_error(ErrorCode::kMalformed, "group update in a group");
            return apply_group_update(c.group_update(), sender);
        default:
            return make_error(ErrorCode::kMalformed, "empty content");
    }
}

Result<bool> Client::Impl::handle_envelope(const v1::Envelope& e, bool held_replay) {
    AccountId sender{};
    MessageId envelope_id{};
    if (!copy_id(e.sender_account(), sender) || !copy_id(e.message_id(), envelope_id)) {
        // Nothing we could ever do with it: acknowledge so it does not come back.
        if (!e.message_id().empty()) acks_due.push_back(e.message_id());
        return false;
    }
    const DeviceId device = e.sender_device();
    deferred.clear();
    std::optional<std::string> undecryptable;
    bool is_new = false;
    auto committed = store->transaction([&]() -> Result<void> {
        // A held envelope was recorded (and acknowledged) when it was held back.
        PP_TRY(fresh, held_replay ? Result<bool>(true)
                                  : store->mark_processed(sender, device, envelope_id));
        if (!fresh) return {};  // stored before; only the acknowledgement was lost
        is_new = true;
        std::optional<Bytes> plain;
        bool group_message = false;
        std::optional<GroupId> group;
        if (e.type() == static_cast<std::uint32_t>(protocol::MessageType::kSenderKey)) {
            group_message = true;
            auto parsed = protocol::SenderKeyMessage::parse(as_bytes(e.content()));
            if (!parsed) {
                undecryptable = "malformed group message";
                return {};
            }
            PP_TRY(gid, store->group_for_sender_key(sender, device, parsed->key_id));
            PP_TRY(g, gid ? store->group(*gid) : Result<std::optional<Group>>(std::nullopt));
            const bool member =
                g && !g->left &&
                std::any_of(g->members.begin(), g->members.end(),
                            [&](const GroupMember& m) { return m.account == sender; });
            if (!member) {
                undecryptable = "a group message without a key from a current member";
                return {};
            }
            group = *gid;
            PP_TRY(record, store->sender_key(*gid, sender, device));
            if (!record) {
                undecryptable = "no sender key from this member";
                return {};
            }
            auto r = protocol::group_decrypt(*record, as_bytes(e.content()));
            if (!r) {
                undecryptable = std::string(r.error().detail);
                return {};
            }
            PP_TRY_VOID(store->put_sender_key(*gid, sender, device, *record));
            plain = std::move(*r);
        } else if (e.type() == static_cast<std::uint32_t>(protocol::MessageType::kSignal) ||
                   e.type() == static_cast<std::uint32_t>(protocol::MessageType::kPreKey)) {
            std::optional<Contact> contact;
            auto r = decrypt_pairwise(e, sender, contact);
            if (!r) {
                // Undecryptable (tampered, replayed, unknown session): nothing to keep. It
                // is acknowledged so it does not block the queue, and reported.
                undecryptable = std::string(r.error().detail);
                return {};
            }
            if (!*r) return {};  // held back until a changed identity is accepted
            plain = std::move(**r);
        } else {
            undecryptable = "unknown message type";
            return {};
        }
        auto content = decode_content(*plain);
        if (!content) {
            undecryptable = std::string(content.error().detail);
            return {};
        }
        return apply_content(*content, sender, device, e, group_message, group);
    });
    if (!committed) {
        // Whatever failed (content a peer crafted to fail, or the database), nothing of it was
        // kept. If only this envelope is the problem, a transaction that records just its id
        // succeeds: it is acknowledged and reported, and the queue behind it moves on. If the
        // database itself fails, this fails too and nothing is acknowledged.
        deferred.clear();
        const Error first = committed.error();
        if (is_database_failure(first)) return first;
        auto recorded = store->transaction([&]() -> Result<void> {
            if (held_replay) return {};
            PP_TRY(fresh, store->mark_processed(sender, device, envelope_id));
            is_new = fresh;
            return {};
        });
        if (!recorded) return recorded.error();
        undecryptable = std::string(first.detail);
    }
    if (!held_replay) acks_due.push_back(e.message_id());
    auto events = std::move(deferred);
    deferred.clear();
    for (const auto& ev : events) emit(ev);
    if (undecryptable)
        emit(make_event(Event::Kind::kUndecryptable, contact_conversation(sender), *undecryptable));
    return is_new;
}

}  // namespace pp::client

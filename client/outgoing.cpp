// Client: the way out. A message is stored and encrypted into the outbox in one transaction,
// then handed to the server. Its envelope id is stamped and stored at the first attempt;
// from then on the outbox keeps the exact bytes until the server has them durably, so
// retries after a crash or a lost connection reuse the same id and ciphertext.
#include <set>

#include "base/hex.hpp"
#include "client/client_impl.hpp"
#include "client/server_errors.hpp"
#include "wire/keys.hpp"

namespace pp::client {

Result<void> Client::Impl::check_not_changed(const AccountId& to) {
    PP_TRY(c, store->contact(to));
    if (c && c->changed_identity_key)
        return make_error(ErrorCode::kUntrustedIdentity,
                          "this contact's safety number changed: compare it (`paperplane safety`) "
                          "and accept it (`paperplane verify --accept-new-identity`) first");
    return {};
}

Result<void> Client::Impl::ensure_sessions(const AccountId& to, milliseconds timeout) {
    PP_TRY(devices, store->session_devices(to));
    if (!devices.empty()) return {};
    const auto trusted = trusted_key_for(to);
    if (!trusted)
        return make_error(ErrorCode::kUntrustedIdentity,
                          "no identity key to check this account against: add it from a link");
    PP_TRY(trusted_key, crypto::PublicKey::deserialize(*trusted));
    if (!conn || !authenticated)
        return make_error(ErrorCode::kNoSession,
                          "offline, and the first message to someone needs the server: try again "
                          "when connected");
    v1::Request req;
    req.mutable_fetch_bundles()->set_account_id(str(to));
    PP_TRY(resp, rpc(req, timeout));
    if (resp.status() != v1::OK) return status_error(resp);
    std::vector<std::pair<DeviceId, protocol::SessionRecord>> made;
    for (const auto& b : resp.fetch_bundles().bundles()) {
        PP_TRY(bundle, wire::to_protocol_bundle(b));
        protocol::SessionRecord record;
        auto r =
            protocol::process_prekey_bundle(record, identity, registration_id, bundle, trusted_key);
        if (!r && r.error().code == ErrorCode::kUntrustedIdentity) {
            // The server offered a key other than the one in the link or group we trust: a
            // re-installed contact, or a server substituting keys. Either way, not silently.
            PP_TRY(c, store->contact(to));
            if (c) {
                const auto offered = bundle.identity_key.serialize();
                c->changed_identity_key = Bytes(offered.begin(), offered.end());
                c->verified = false;
                PP_TRY_VOID(store->put_contact(*c));
                emit(identity_event(*c));
            }
            return make_error(ErrorCode::kUntrustedIdentity,
                              "the server handed out an identity key that does not match the one "
                              "you trust for this contact: refusing to encrypt to it");
        }
        if (!r) return r.error();
        made.emplace_back(b.device_id(), std::move(record));
    }
    if (made.empty()) return make_error(ErrorCode::kNoSession, "the account has no devices");
    return store->transaction([&]() -> Result<void> {
        for (const auto& [device, record] : made)
            PP_TRY_VOID(store->put_session(to, device, record));
        return {};
    });
}

Result<void> Client::Impl::queue_pairwise(const AccountId& to, const MessageId& id,
                                          const content::Content& c) {
    PP_TRY(devices, store->session_devices(to));
    if (devices.empty()) return make_error(ErrorCode::kNoSession, "no session with this account");
    const Bytes plaintext = encode_content(c);
    v1::SendRequest send;  // message_id is left for flush_outbox() to stamp
    send.set_recipient(str(to));
    for (const DeviceId device : devices) {
        PP_TRY(record, store->session(to, device));
        if (!record) return make_error(ErrorCode::kNoSession, "session vanished");
        PP_TRY(ct, protocol::encrypt(*record, plaintext));
        PP_TRY_VOID(store->put_session(to, device, *record));
        auto* m = send.add_messages();
        m->set_device_id(device);
        m->set_type(static_cast<std::uint32_t>(ct.type));
        m->set_content(str(ct.bytes));
    }
    return store->outbox_add(id, as_bytes(send.SerializeAsString()));
}

Result<void> Client::Impl::queue_group(const Group& g, const MessageId& id,
                                       const content::Content& c) {
    PP_TRY(own, store->sender_key(g.id, account->account, account->device));
    if (!own) return make_error(ErrorCode::kNoSession, "no sender key for this group yet");
    PP_TRY(ct, protocol::group_encrypt(*own, encode_content(c)));
    PP_TRY_VOID(store->put_sender_key(g.id, account->account, account->device, *own));
    v1::SendRequest send;  // message_id is left for flush_outbox() to stamp
    auto* group = send.mutable_group();
    group->set_type(static_cast<std::uint32_t>(protocol::MessageType::kSenderKey));
    group->set_shared_content(str(ct));
    for (const auto& m : g.members) {
        if (m.account == account->account) continue;
        PP_TRY(devices, store->session_devices(m.account));
        if (devices.empty()) devices.push_back(1);
        for (const DeviceId d : devices) {
            auto* r = group->add_recipients();
            r->set_account_id(str(m.account));
            r->set_device_id(d);
        }
    }
    if (group->recipients_size() == 0) return {};  // alone in the group: history only
    return store->outbox_add(id, as_bytes(send.SerializeAsString()));
}

Result<std::optional<v1::SendRequest>> Client::Impl::outbox_request(const MessageId& id) {
    std::optional<v1::SendRequest> out;
    PP_TRY_VOID(store->transaction([&]() -> Result<void> {
        // Read afresh rather than from flush_outbox()'s list: an event handler's own send (a
        // nested flush), or another process on this profile, may have sent it since.
        PP_TRY(bytes, store->outbox_entry(id));
        if (!bytes) return {};
        v1::SendRequest send;
        if (!send.ParseFromArray(bytes->data(), static_cast<int>(bytes->size()))) {
            return store->outbox_remove(id);  // cannot happen unless corrupted
        }
        if (send.message_id().empty()) {
            // The id the server sees is made now, at the first attempt, not when the send was
            // queued: its clock then tells the server about when it arrives, not when a
            // message was written offline or a conversation read. It is the server's clock as
            // estimated from its answers (wire/server_clock.hpp), never the device's, whose
            // offset would tell devices apart. Stored before it goes out, in this
            // transaction, so every retry repeats it.
            send.set_message_id(
                str(new_server_message_id(server_clock, std::chrono::steady_clock::now())));
            PP_TRY_VOID(store->outbox_stamp(id, as_bytes(send.SerializeAsString())));
        }
        out = std::move(send);
        return {};
    }));
    return out;
}

Result<void> Client::Impl::flush_outbox(milliseconds timeout) {
    if (!conn || !authenticated) return {};
    PP_TRY(ids, store->outbox_ids());
    for (const MessageId& id : ids) {
        PP_TRY(send, outbox_request(id));
        if (!send) continue;  // sent meanwhile, or dropped
        v1::Request req;
        *req.mutable_send() = std::move(*send);
        const auto sent_at = std::chrono::steady_clock::now();
        auto resp = rpc(req, timeout);
        if (!resp) return resp.error();
        // The answer's clock refreshes the estimate the next ids are stamped with (kept only
        // if better: a round trip that had to reconnect first is a poor bound).
        server_clock.observe(resp->send().server_time_ms(), sent_at,
                             std::chrono::steady_clock::now());
        switch (resp->status()) {
            case v1::OK: {
                PP_TRY_VOID(store->transaction([&]() -> Result<void> {
                    PP_TRY_VOID(store->outbox_remove(id));
                    return store->advance_status(account->account, id, MessageStatus::kSent);
                }));
                PP_TRY(m, store->message(account->account, id));
                if (m) emit(status_event(m->conversation, id, MessageStatus::kSent));
                break;
            }
            case v1::UNAUTHENTICATED:
                drop_connection("the server asked to sign in again");
                return {};
            case v1::RATE_LIMITED:
            case v1::QUEUE_FULL:
            case v1::INTERNAL:
                // Transient: keep it (and everything after it, to keep the order) for later.
                last_error = std::string(status_error(*resp).detail);
                return {};
            default: {
                // Refused for good (an account that is gone, devices that changed): drop it so
                // it does not block the messages behind it, and say so.
                PP_TRY_VOID(store->outbox_remove(id));
                PP_TRY(m, store->message(account->account, id));
                Event e =
                    make_event(Event::Kind::kUndeliverable, m ? m->conversation : ConversationId{},
                               std::string(status_error(*resp).detail));
                e.ids = {id};
                emit(e);
                if (resp->status() == v1::STALE_DEVICES && !req.send().recipient().empty()) {
                    // Start over with the account's current devices next time.
                    AccountId to{};
                    if (req.send().recipient().size() == to.size()) {
                        std::copy(req.send().recipient().begin(), req.send().recipient().end(),
                                  to.begin());
                        PP_TRY_VOID(store->delete_sessions(to));
                    }
                }
                break;
            }
        }
    }
    return {};
}

Result<Message> Client::send_text(const ConversationId& to, std::string text,
                                  std::optional<Message> reply_to, milliseconds timeout) {
    auto& im = *impl_;
    if (!im.account)
        return make_error(ErrorCode::kNoSession, "not registered yet: run `paperplane register`");
    if (text.empty()) return make_error(ErrorCode::kMalformed, "nothing to send");
    if (text.size() > kMaxTextBytes)
        return make_error(ErrorCode::kLimitExceeded, "a message is at most 16 KiB of text");
    (void)im.ensure_online(timeout);  // offline is fine if the sessions exist already

    Message m;
    m.id = new_message_id();
    m.conversation = to;
    m.direction = Direction::kOutgoing;
    m.sender = im.account->account;
    m.text = std::move(text);
    m.sent_ms = unix_ms_now();
    m.received_ms = m.sent_ms;
    m.status = MessageStatus::kPending;
    content::Content c;
    auto* data = c.mutable_data();
    data->set_id(str(m.id));
    data->set_text(m.text);
    data->set_sent_ms(static_cast<std::uint64_t>(m.sent_ms));
    if (reply_to) {
        m.reply_to = reply_to->id;
        data->set_reply_to(str(reply_to->id));
        data->set_reply_to_sender(str(reply_to->sender));
    }

    if (to.kind == ConversationId::Kind::kContact) {
        const AccountId peer(to.id);
        PP_TRY(contact, im.store->contact(peer));
        if (!contact) return make_error(ErrorCode::kNoSession, "no such contact");
        PP_TRY_VOID(im.check_not_changed(peer));
        PP_TRY_VOID(im.ensure_sessions(peer, timeout));
        PP_TRY_VOID(im.store->transaction([&]() -> Result<void> {
            PP_TRY(added, im.store->add_message(m));
            (void)added;
            return im.queue_pairwise(peer, m.id, c);
        }));
    } else {
        PP_TRY(g, im.store->group(to.id));
        if (!g) return make_error(ErrorCode::kNoSession, "no such group");
        if (g->left) return make_error(ErrorCode::kNoSession, "you are no longer in this group");
        // Take in what is queued for us first (a removal, a new member) so the message goes to
        // the group as it is now, with the keys it has now.
        if (im.conn && im.authenticated && im.queue_empty_due > 0) (void)im.receive(timeout, true);
        PP_TRY(now, im.store->group(to.id));
        if (!now || now->left)
            return make_error(ErrorCode::kNoSession, "you are no longer in this group");
        g = std::move(now);
        data->set_group_id(str(g->id));
        PP_TRY_VOID(im.share_sender_key(*g, timeout));
        PP_TRY_VOID(im.store->transaction([&]() -> Result<void> {
            PP_TRY(added, im.store->add_message(m));
            (void)added;
            return im.queue_group(*g, m.id, c);
        }));
    }
    (void)im.flush_outbox(timeout);  // offline or refused for now: it stays in the outbox
    PP_TRY(stored, im.store->message(m.sender, m.id));
    return stored ? *stored : m;
}

Result<std::size_t> Client::mark_read(const ConversationId& c) {
    auto& im = *impl_;
    std::size_t n = 0;
    PP_TRY_VOID(im.store->transaction([&]() -> Result<void> {
        PP_TRY(read, im.store->mark_read(c));
        n = read.size();
        std::map<AccountId, std::vector<MessageId>> by_sender;
        for (const auto& m : read) by_sender[m.sender].push_back(m.id);
        for (const auto& [sender, ids] : by_sender) {
            PP_TRY(devices, im.store->session_devices(sender));
            if (devices.empty()) continue;  // no way to tell them; the receipt is optional
            content::Content receipt;
            receipt.mutable_receipt()->set_kind(content::Receipt::READ);
            for (const auto& id : ids) receipt.mutable_receipt()->add_message_ids(str(id));
            PP_TRY_VOID(im.queue_pairwise(sender, new_message_id(), receipt));
        }
        return {};
    }));
    (void)im.flush_outbox(milliseconds(5000));
    return n;
}

}  // namespace pp::client

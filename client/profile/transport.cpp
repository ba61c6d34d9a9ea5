// Transport bookkeeping: processed envelope ids, the outbox, envelopes held while a contact's
// identity key change waits for the user.
#include "client/profile/store.hpp"

namespace pp::client::profile {

Result<bool> SqliteProfileStore::mark_processed(const AccountId& sender, DeviceId device,
                                                const MessageId& envelope_id) {
    PP_TRY(s, db_->prepare("INSERT OR IGNORE INTO processed (sender, device, envelope_id) "
                           "VALUES (?1, ?2, ?3)"));
    PP_TRY_VOID(s.bind_blob(1, sender).bind(2, device).bind_blob(3, envelope_id).run());
    return db_->changes() == 1;
}

// An id already queued keeps its first bytes: a resend must repeat exactly what was sent.
Result<void> SqliteProfileStore::outbox_add(const MessageId& id, ByteView request) {
    Bytes sealed = seal_value(request, Ad("outbox").id(id));
    PP_TRY(s, db_->prepare("INSERT OR IGNORE INTO outbox (id, sealed) VALUES (?1, ?2)"));
    return s.bind_blob(1, id).bind_blob(2, sealed).run();
}

Result<std::vector<MessageId>> SqliteProfileStore::outbox_ids() {
    PP_TRY(s, db_->prepare("SELECT id FROM outbox ORDER BY seq"));
    std::vector<MessageId> out;
    for (;;) {
        PP_TRY(row, s.step());
        if (!row) break;
        MessageId id{};
        if (!s.blob_into(0, id))
            return make_error(ErrorCode::kMalformed, "stored outbox id is malformed");
        out.push_back(id);
    }
    return out;
}

Result<std::optional<Bytes>> SqliteProfileStore::outbox_entry(const MessageId& id) {
    PP_TRY(s, db_->prepare("SELECT sealed FROM outbox WHERE id = ?1"));
    s.bind_blob(1, id);
    PP_TRY(row, s.step());
    if (!row) return std::optional<Bytes>{};
    PP_TRY(plain, open_value(s.blob(0), Ad("outbox").id(id)));
    return std::optional<Bytes>{Bytes(plain.view().begin(), plain.view().end())};
}

Result<void> SqliteProfileStore::outbox_stamp(const MessageId& id, ByteView request) {
    Bytes sealed = seal_value(request, Ad("outbox").id(id));
    PP_TRY(s, db_->prepare("UPDATE outbox SET sealed = ?2 WHERE id = ?1"));
    return s.bind_blob(1, id).bind_blob(2, sealed).run();
}

Result<void> SqliteProfileStore::outbox_remove(const MessageId& id) {
    PP_TRY(s, db_->prepare("DELETE FROM outbox WHERE id = ?1"));
    return s.bind_blob(1, id).run();
}

// The row's seq is chosen before the insert so the seal can name it.
Result<void> SqliteProfileStore::hold_envelope(const AccountId& sender, ByteView envelope) {
    return write<void>([&]() -> Result<void> {
        std::int64_t seq = 0;
        {
            PP_TRY(s, db_->prepare("SELECT coalesce(max(seq), 0) + 1 FROM held_envelopes"));
            PP_TRY(row, s.step());
            if (!row) return make_error(ErrorCode::kInternal, "max returned nothing");
            seq = s.int64(0);
        }
        Bytes sealed = seal_value(
            envelope, Ad("held_envelopes").id(sender).num(static_cast<std::uint64_t>(seq)));
        PP_TRY(s, db_->prepare(
                      "INSERT INTO held_envelopes (seq, sender, sealed) VALUES (?1, ?2, ?3)"));
        return s.bind(1, seq).bind_blob(2, sender).bind_blob(3, sealed).run();
    });
}

Result<std::vector<Bytes>> SqliteProfileStore::held_envelopes(const AccountId& sender) {
    PP_TRY(s,
           db_->prepare("SELECT seq, sealed FROM held_envelopes WHERE sender = ?1 ORDER BY seq"));
    s.bind_blob(1, sender);
    std::vector<Bytes> out;
    for (;;) {
        PP_TRY(row, s.step());
        if (!row) break;
        auto seq = static_cast<std::uint64_t>(s.int64(0));
        PP_TRY(plain, open_value(s.blob(1), Ad("held_envelopes").id(sender).num(seq)));
        out.emplace_back(plain.view().begin(), plain.view().end());
    }
    return out;
}

Result<void> SqliteProfileStore::drop_held_envelopes(const AccountId& sender) {
    PP_TRY(s, db_->prepare("DELETE FROM held_envelopes WHERE sender = ?1"));
    return s.bind_blob(1, sender).run();
}

}  // namespace pp::client::profile

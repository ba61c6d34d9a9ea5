// Message history: clear ids, conversation, direction, timestamps and status (the indexes);
// sealed text and reply_to.
#include <algorithm>
#include <limits>

#include "client/profile/codec.hpp"
#include "client/profile/store.hpp"

namespace pp::client::profile {
namespace {

constexpr std::uint8_t kMessageV1 = 1;
// The SQL below and the partial index in schema.cpp spell these two statuses as numbers.
static_assert(static_cast<int>(MessageStatus::kRead) == 3);
static_assert(static_cast<int>(MessageStatus::kReceived) == 4);

// Position of a status along its direction's path; nullopt if it is not on that path.
std::optional<int> rank(Direction d, MessageStatus s) {
    if (d == Direction::kOutgoing) {
        switch (s) {
            case MessageStatus::kPending:
                return 0;
            case MessageStatus::kSent:
                return 1;
            case MessageStatus::kDelivered:
                return 2;
            case MessageStatus::kRead:
                return 3;
            case MessageStatus::kReceived:
                return std::nullopt;
        }
        return std::nullopt;
    }
    switch (s) {
        case MessageStatus::kReceived:
            return 0;
        case MessageStatus::kRead:
            return 1;
        default:
            return std::nullopt;
    }
}

Ad message_ad(const AccountId& sender, const MessageId& id) {
    Ad ad("messages");
    ad.id(sender).id(id);
    return ad;
}

}  // namespace

// Columns: sender, id, conv_kind, conv_id, direction, sent_ms, received_ms, status, sealed.
Result<Message> SqliteProfileStore::read_message(const Stmt& s) const {
    Message m;
    auto kind = s.int64(2);
    auto direction = s.int64(4);
    auto status = s.int64(7);
    if (!s.blob_into(0, m.sender) || !s.blob_into(1, m.id) || !s.blob_into(3, m.conversation.id) ||
        kind < 0 || kind > 1 || direction < 0 || direction > 1 || status < 0 || status > 4) {
        return make_error(ErrorCode::kMalformed, "stored message is malformed");
    }
    m.conversation.kind = static_cast<ConversationId::Kind>(kind);
    m.direction = static_cast<Direction>(direction);
    m.status = static_cast<MessageStatus>(status);
    m.sent_ms = s.int64(5);
    m.received_ms = s.int64(6);
    PP_TRY(plain, open_value(s.blob(8), message_ad(m.sender, m.id)));
    Reader r(plain.view(), kMessageV1);
    m.text = r.str();
    if (r.u8() != 0) {
        Bytes reply = r.bytes();
        MessageId reply_to{};
        if (reply.size() != reply_to.size()) {
            return make_error(ErrorCode::kMalformed, "stored message is malformed");
        }
        std::copy(reply.begin(), reply.end(), reply_to.begin());
        m.reply_to = reply_to;
    }
    if (!r.done()) return make_error(ErrorCode::kMalformed, "stored message is malformed");
    return m;
}

Result<std::vector<Message>> SqliteProfileStore::read_messages(Stmt& s) const {
    std::vector<Message> out;
    for (;;) {
        PP_TRY(row, s.step());
        if (!row) break;
        PP_TRY(m, read_message(s));
        out.push_back(std::move(m));
    }
    return out;
}

Result<bool> SqliteProfileStore::add_message(const Message& m) {
    if (!rank(m.direction, m.status)) {
        return make_error(ErrorCode::kMalformed, "message status does not fit its direction");
    }
    Writer w(kMessageV1);
    w.str(m.text);
    if (m.reply_to) {
        w.u8(1).bytes(*m.reply_to);
    } else {
        w.u8(0);
    }
    Bytes sealed = seal_value(w.view(), message_ad(m.sender, m.id));
    PP_TRY(s, db_->prepare("INSERT OR IGNORE INTO messages (sender, id, conv_kind, conv_id, "
                           "direction, sent_ms, received_ms, status, sealed) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"));
    PP_TRY_VOID(s.bind_blob(1, m.sender)
                    .bind_blob(2, m.id)
                    .bind(3, static_cast<std::int64_t>(m.conversation.kind))
                    .bind_blob(4, m.conversation.id)
                    .bind(5, static_cast<std::int64_t>(m.direction))
                    .bind(6, m.sent_ms)
                    .bind(7, m.received_ms)
                    .bind(8, static_cast<std::int64_t>(m.status))
                    .bind_blob(9, sealed)
                    .run());
    return db_->changes() == 1;
}

Result<std::optional<Message>> SqliteProfileStore::message(const AccountId& sender,
                                                           const MessageId& id) {
    PP_TRY(s,
           db_->prepare("SELECT sender, id, conv_kind, conv_id, direction, sent_ms, "
                        "received_ms, status, sealed FROM messages WHERE sender = ?1 AND id = ?2"));
    PP_TRY(row, s.bind_blob(1, sender).bind_blob(2, id).step());
    if (!row) return std::optional<Message>{};
    PP_TRY(m, read_message(s));
    return std::optional<Message>(std::move(m));
}

// A status that is not ahead of the stored one (a late or repeated receipt) changes nothing; so
// does a message we do not have. A status off the message's path is the caller's bug.
Result<void> SqliteProfileStore::advance_status(const AccountId& sender, const MessageId& id,
                                                MessageStatus status) {
    return write<void>([&]() -> Result<void> {
        std::int64_t direction = 0;
        std::int64_t current = 0;
        {
            PP_TRY(s, db_->prepare("SELECT direction, status FROM messages "
                                   "WHERE sender = ?1 AND id = ?2"));
            PP_TRY(row, s.bind_blob(1, sender).bind_blob(2, id).step());
            if (!row) return {};
            direction = s.int64(0);
            current = s.int64(1);
        }
        if (direction < 0 || direction > 1 || current < 0 || current > 4) {
            return make_error(ErrorCode::kMalformed, "stored message is malformed");
        }
        auto d = static_cast<Direction>(direction);
        auto to = rank(d, status);
        if (!to) return make_error(ErrorCode::kMalformed, "status does not fit the message");
        auto from = rank(d, static_cast<MessageStatus>(current));
        if (from && *to <= *from) return {};
        PP_TRY(s, db_->prepare("UPDATE messages SET status = ?3 WHERE sender = ?1 AND id = ?2"));
        return s.bind_blob(1, sender)
            .bind_blob(2, id)
            .bind(3, static_cast<std::int64_t>(status))
            .run();
    });
}

Result<std::vector<Message>> SqliteProfileStore::history(const ConversationId& c,
                                                         std::size_t limit) {
    auto n = static_cast<std::int64_t>(std::min<std::size_t>(
        limit, static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())));
    PP_TRY(s, db_->prepare("SELECT sender, id, conv_kind, conv_id, direction, sent_ms, "
                           "received_ms, status, sealed FROM messages "
                           "WHERE conv_kind = ?1 AND conv_id = ?2 "
                           "ORDER BY received_ms DESC, seq DESC LIMIT ?3"));
    s.bind(1, static_cast<std::int64_t>(c.kind)).bind_blob(2, c.id).bind(3, n);
    PP_TRY(out, read_messages(s));
    std::reverse(out.begin(), out.end());
    return out;
}

Result<std::vector<Message>> SqliteProfileStore::unread() {
    PP_TRY(s, db_->prepare("SELECT sender, id, conv_kind, conv_id, direction, sent_ms, "
                           "received_ms, status, sealed FROM messages "
                           "WHERE status = 4 ORDER BY received_ms, seq"));
    return read_messages(s);
}

Result<std::vector<Message>> SqliteProfileStore::mark_read(const ConversationId& c) {
    return write<std::vector<Message>>([&]() -> Result<std::vector<Message>> {
        std::vector<Message> out;
        {
            PP_TRY(s, db_->prepare("SELECT sender, id, conv_kind, conv_id, direction, sent_ms, "
                                   "received_ms, status, sealed FROM messages "
                                   "WHERE conv_kind = ?1 AND conv_id = ?2 AND status = 4 "
                                   "ORDER BY received_ms, seq"));
            s.bind(1, static_cast<std::int64_t>(c.kind)).bind_blob(2, c.id);
            PP_TRY(found, read_messages(s));
            out = std::move(found);
        }
        if (out.empty()) return out;
        PP_TRY(s, db_->prepare("UPDATE messages SET status = 3 "
                               "WHERE conv_kind = ?1 AND conv_id = ?2 AND status = 4"));
        PP_TRY_VOID(s.bind(1, static_cast<std::int64_t>(c.kind)).bind_blob(2, c.id).run());
        for (auto& m : out) m.status = MessageStatus::kRead;
        return out;
    });
}

}  // namespace pp::client::profile

#include "apps/cli/output.hpp"

#include <cstdio>
#include <ctime>

#include "base/hex.hpp"
#include "wire/message_id.hpp"

namespace pp::cli {

std::string status_name(client::MessageStatus s) {
    switch (s) {
        case client::MessageStatus::kPending:
            return "pending";
        case client::MessageStatus::kSent:
            return "sent";
        case client::MessageStatus::kDelivered:
            return "delivered";
        case client::MessageStatus::kRead:
            return "read";
        case client::MessageStatus::kReceived:
            return "received";
    }
    return "unknown";
}

std::string clock_time(std::int64_t ms) {
    const std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[16];
    std::strftime(buf, sizeof buf, "%H:%M", &tm);
    return buf;
}

std::string iso_time(std::int64_t ms) {
    const std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    char out[40];
    std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
    return out;
}

nlohmann::json to_json(const client::Client& c, const client::Message& m) {
    nlohmann::json j;
    j["id"] = to_hex(m.id);
    j["conversation"] = c.display_name(m.conversation);
    j["conversation_kind"] =
        m.conversation.kind == client::ConversationId::Kind::kGroup ? "group" : "contact";
    j["direction"] = m.direction == client::Direction::kIncoming ? "in" : "out";
    j["sender"] = c.display_name(m.sender);
    j["sender_id"] = to_hex(m.sender);
    j["text"] = m.text;
    j["sent"] = iso_time(m.sent_ms);
    j["received"] = iso_time(m.received_ms);
    j["status"] = status_name(m.status);
    if (m.reply_to) j["reply_to"] = to_hex(*m.reply_to);
    return j;
}

nlohmann::json to_json(const client::Contact& c) {
    nlohmann::json j;
    j["name"] = c.name;
    j["account"] = to_hex(c.account);
    j["identity_key"] = to_hex(c.identity_key);
    j["verified"] = c.verified && !c.changed_identity_key;
    j["identity_changed"] = c.changed_identity_key.has_value();
    return j;
}

nlohmann::json to_json(const client::Client& c, const client::Group& g) {
    nlohmann::json j;
    j["name"] = g.name;
    j["id"] = to_hex(g.id);
    j["revision"] = g.revision;
    j["left"] = g.left;
    auto members = nlohmann::json::array();
    for (const auto& m : g.members) members.push_back(c.display_name(m.account));
    j["members"] = members;
    return j;
}

std::string printable(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto b = static_cast<unsigned char>(text[i]);
        if (b == '\n') {
            out += "\n    ";
        } else if (b < 0x20 || b == 0x7F) {
            out += '?';
        } else if (b == 0xC2 && i + 1 < text.size() &&
                   static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
                   static_cast<unsigned char>(text[i + 1]) <= 0x9F) {
            out += '?';
            ++i;
        } else {
            out += static_cast<char>(b);
        }
    }
    return out;
}

std::string short_message_id(const client::MessageId& id) {
    return to_hex(ByteView(id).subspan(wire::kMessageIdClockBytes, 4));
}

std::string message_line(const client::Client& c, const client::Message& m) {
    std::string line = "[" + clock_time(m.sent_ms) + "] ";
    if (m.conversation.kind == client::ConversationId::Kind::kGroup)
        line += printable(c.display_name(m.conversation)) + " / ";
    line += printable(c.display_name(m.sender)) + ": " + printable(m.text);
    if (m.reply_to) line += "  (reply to #" + short_message_id(*m.reply_to) + ")";
    return line;
}

int fail(const Error& e, std::string_view hint) {
    std::fprintf(stderr, "error: %.*s\n", static_cast<int>(e.detail.size()), e.detail.data());
    if (!hint.empty())
        std::fprintf(stderr, "hint: %.*s\n", static_cast<int>(hint.size()), hint.data());
    switch (e.code) {
        case ErrorCode::kBadMac:
        case ErrorCode::kUntrustedIdentity:
            return kExitNoPerm;
        default:
            return kExitFailure;
    }
}

}  // namespace pp::cli

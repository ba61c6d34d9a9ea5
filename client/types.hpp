#pragma once
// Vocabulary of the client library: ids, the server a profile lives on, and the records its
// profile keeps. Public data only; key material lives in protocol/ types and SecretBytes.
#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.hpp"

namespace pp::client {

using AccountId = std::array<std::uint8_t, 16>;  // assigned by the server at registration
using MessageId = std::array<std::uint8_t, 16>;  // chosen by the sender: wire/message_id.hpp
using GroupId = std::array<std::uint8_t, 16>;    // random, chosen by the group's creator
using DeviceId = std::uint32_t;

// Where a profile's account lives. The pin is the lowercase hex SHA-256 of the server's TLS
// certificate: every connection checks it, whatever route it takes.
struct ServerAddress {
    std::string host;
    std::uint16_t port = 0;
    std::string pin;
    friend bool operator==(const ServerAddress&, const ServerAddress&) = default;
};

// This profile's own registration.
struct AccountRecord {
    ServerAddress server;
    AccountId account{};
    DeviceId device = 1;
    std::uint32_t registration_id = 0;
    std::string username;  // empty: none
};

struct Contact {
    AccountId account{};
    std::string name;       // local nickname, unique within the profile
    Bytes identity_key;     // 33 bytes: the key we trust (from their link, or first contact)
    bool verified = false;  // the user compared safety numbers and confirmed them
    // A different identity key seen since (a re-install, or an attack): a loud warning; nothing
    // is sent to or accepted from the contact until the user accepts it (`verify --accept`).
    std::optional<Bytes> changed_identity_key;
    std::int64_t added_ms = 0;
};

struct GroupMember {
    AccountId account{};
    Bytes identity_key;  // 33 bytes, as the member who added them vouched for
    friend bool operator==(const GroupMember&, const GroupMember&) = default;
};

struct Group {
    GroupId id{};
    std::string name;
    std::vector<GroupMember> members;  // everyone, ourselves included
    std::uint64_t revision = 0;        // bumped by every change; older updates are ignored
    bool left = false;                 // we were removed (or left): history stays, sending stops
};

// A conversation is either a contact (by account id) or a group (by group id).
struct ConversationId {
    enum class Kind : std::uint8_t { kContact = 0, kGroup = 1 };
    Kind kind = Kind::kContact;
    std::array<std::uint8_t, 16> id{};
    friend auto operator<=>(const ConversationId&, const ConversationId&) = default;
};

enum class Direction : std::uint8_t { kIncoming = 0, kOutgoing = 1 };

// Outgoing: kPending (stored locally, not yet accepted by the server) -> kSent (the server
// acknowledged it durably) -> kDelivered (the recipient's device stored it) -> kRead.
// Incoming: kReceived -> kRead once the user has seen it. Statuses never go backwards.
enum class MessageStatus : std::uint8_t {
    kPending = 0,
    kSent = 1,
    kDelivered = 2,
    kRead = 3,
    kReceived = 4,
};

struct Message {
    MessageId id{};
    ConversationId conversation;
    Direction direction = Direction::kIncoming;
    AccountId sender{};  // ourselves for outgoing messages
    std::string text;
    std::int64_t sent_ms = 0;      // the sender's clock
    std::int64_t received_ms = 0;  // ours (for outgoing: when we stored it)
    std::optional<MessageId> reply_to;
    MessageStatus status = MessageStatus::kPending;
};

}  // namespace pp::client

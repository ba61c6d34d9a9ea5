#pragma once
// libpaperplane: an end-to-end encrypted messenger client in one object.
//
// A Client owns one profile (a directory holding its encrypted database) and, while online,
// one connection to its home server. It is synchronous and single-threaded: every call runs
// on the caller's thread, network calls take timeouts, and incoming events are handed to the
// event handler from inside poll()/sync()/send calls. A front end that must react while the
// user types (the CLI's `chat`) reads input on another thread and calls the Client from one.
//
//     auto alice = pp::client::Client::create({.dir = "/tmp/alice"}).value();
//     alice->register_account(server, {.username = "alice"});        // pins server.pin
//     std::string link = alice->contact_link().value();              // give this to Bob
//     auto bob_contact = alice->add_contact(bob_link, "Bob").value(); // checks Bob's key
//     alice->set_event_handler([](const pp::client::Event& e) { ... });
//     alice->send_text(pp::client::contact_conversation(bob_contact.account), "hi");
//     while (running) alice->poll(std::chrono::milliseconds(200));   // receive, resend, ack
//
// Guarantees: a message is acknowledged to the server only after it (and the session state
// that decrypted it) is committed to the profile database, so a crash never loses one; pushes
// are de-duplicated by id; outgoing messages wait in an outbox and are re-sent under the same
// id until the server has them durably. The identity key in a contact link is checked against
// what the server hands out: a substituted key is refused (kUntrustedIdentity), and a key that
// changes later stops the conversation with a warning until the user accepts it.
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "client/types.hpp"

namespace pp::client {

using std::chrono::milliseconds;

struct ProfileOptions {
    std::filesystem::path dir;
    std::optional<std::string> passphrase;  // none: a random key in <dir>/profile.key (0600)
};

struct RegisterOptions {
    std::string username;     // optional, unique on the server (3-32 of a-z 0-9 _ .); also
                              // the name our contact link suggests
    std::string invite_code;  // for servers whose registration is invite-only
    milliseconds timeout{30000};
};

// Something that happened while the client was talking to the server.
struct Event {
    enum class Kind : std::uint8_t {
        kMessage,          // `message` arrived (already stored)
        kStatus,           // our messages `ids` in `conversation` reached `status`
        kIdentityChanged,  // `contact`'s identity key changed: nothing flows until accepted
        kGroupChanged,     // `group` was created, renamed, or its members changed
        kUndecryptable,    // a message from `contact` could not be decrypted (`detail`)
        kUndeliverable,    // the server refused our message `ids` for good (`detail`)
        kConnected,        // online (`detail`: the route taken, e.g. "relay 203.0.113.9:443")
        kDisconnected,     // offline (`detail`: why); the client reconnects with backoff
    };
    Kind kind = Kind::kMessage;
    std::optional<Message> message;
    ConversationId conversation;
    std::vector<MessageId> ids;
    MessageStatus status = MessageStatus::kSent;
    std::optional<Contact> contact;
    std::optional<Group> group;
    std::string detail;
};

struct SafetyNumber {
    std::string digits;  // 60 digits, grouped in fives: the same on both phones
    Bytes scannable;     // what the QR code carries (libsignal-compatible)
    bool verified = false;
    // The contact's identity key changed and the user has not decided yet: `digits` is the
    // number for the NEW key (what to compare before accepting), `previous_digits` the old.
    bool pending_change = false;
    std::string previous_digits;
};

struct Status {
    bool registered = false;
    bool online = false;
    std::string server;      // host:port
    std::string route;       // how the current connection reached it: "direct H:P", "relay H:P"
    std::size_t outbox = 0;  // messages waiting for the server
    std::size_t unread = 0;
    std::size_t prekeys = 0;  // one-time prekeys held locally
    std::string last_error;   // why the last connection attempt failed, if it did
};

// A way to the server, as `paperplane route list` shows it (never passwords or secrets).
struct RouteInfo {
    std::int64_t id = 0;  // for remove_route(); 0 for routes the user did not add
    std::string kind;     // "direct", "socks5", "http", "relay"
    std::string address;  // host:port of the proxy, relay or server endpoint
    std::string source;   // "user", "server" (the account's address), "endpoint list"
    bool last_used = false;
};

// The server's signed list of its endpoints and the relays it vouches for, as last verified.
struct EndpointListInfo {
    std::uint64_t issued_at = 0;         // unix seconds, set by the server when it signed
    std::vector<std::string> endpoints;  // host:port
    std::vector<std::string> relays;     // host:port of each relay (their secrets stay inside)
};

class Client {
  public:
    // kLimitExceeded if a profile exists in the directory already.
    static Result<std::unique_ptr<Client>> create(const ProfileOptions& options);
    // kNoSession if there is none; kBadMac for a wrong passphrase (nothing is touched).
    static Result<std::unique_ptr<Client>> open(const ProfileOptions& options);
    // $XDG_DATA_HOME/paperplane/<profile>, or ~/.local/share/paperplane/<profile>.
    static std::filesystem::path default_profile_dir(std::string_view profile);

    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // --- account ---
    // Registers on the server (whose certificate pin is taken from `server`) and stays online.
    Result<AccountRecord> register_account(const ServerAddress& server,
                                           const RegisterOptions& options);
    std::optional<AccountRecord> account() const;
    Result<std::string> contact_link() const;  // paperplane://contact?... for people to add us

    // --- contacts ---
    // Trusts the identity key in the link. kLimitExceeded if the name is taken, kMalformed for
    // a bad link, kInvalidKey if the link is our own or for another server.
    Result<Contact> add_contact(std::string_view link, std::string name);
    Result<std::vector<Contact>> contacts() const;
    // A contact or group by name (contacts first), or by the hex prefix of its id.
    Result<ConversationId> resolve(std::string_view name) const;
    std::string display_name(const ConversationId& c) const;
    std::string display_name(const AccountId& account) const;

    Result<SafetyNumber> safety_number(const AccountId& contact) const;
    // Marks the contact's current key verified. With accept_new_identity, first trusts the
    // changed key the contact now has (and processes the messages held back meanwhile).
    Result<void> verify(const AccountId& contact, bool accept_new_identity);
    // Keeps the old key after an identity change: the messages held back under the new key are
    // dropped unread, and the contact can be written to again on the old session.
    Result<void> reject_identity_change(const AccountId& contact);

    // --- messages ---
    // Stores the message (status kPending), encrypts it and queues it in the outbox, then tries
    // to hand it to the server within `timeout`; an offline client keeps it for later.
    Result<Message> send_text(const ConversationId& to, std::string text,
                              std::optional<Message> reply_to = std::nullopt,
                              milliseconds timeout = milliseconds(10000));
    Result<std::vector<Message>> history(const ConversationId& c, std::size_t limit) const;
    Result<std::vector<Message>> unread() const;
    // Marks the conversation read and sends read receipts to the senders.
    Result<std::size_t> mark_read(const ConversationId& c);

    // --- groups ---
    Result<Group> create_group(std::string name, const std::vector<AccountId>& members);
    Result<Group> add_member(const GroupId& group, const AccountId& member);
    // Removes the member and rotates our sender key; every other member rotates theirs when
    // the update reaches them, so the removed member can read nothing sent after.
    Result<Group> remove_member(const GroupId& group, const AccountId& member);
    Result<Group> rename_group(const GroupId& group, std::string name);
    Result<std::vector<Group>> groups() const;

    // --- the network ---
    void set_event_handler(std::function<void(const Event&)> handler);
    // One round: connects when due (with backoff), re-sends the outbox, receives for up to
    // `timeout`, stores and acknowledges what came. Returns how many messages arrived.
    Result<std::size_t> poll(milliseconds timeout);
    // Connects and receives until the server says the queue is empty (or `timeout`); the
    // outbox is flushed too. Unlike poll(), failing to connect is an error.
    Result<std::size_t> sync(milliseconds timeout);
    // Goes online now if offline (ignoring the backoff); an error says why it could not.
    Result<void> connect(milliseconds timeout);
    void disconnect();
    Status status() const;

    // --- ways around a block ---
    // Connecting races every route (last winner first, then the user's routes, the account's
    // address, the endpoint list's addresses and relays); the first to finish TLS with the
    // pinned certificate wins. A route adds from a link (see client/routes.hpp for the kinds);
    // kMalformed for a bad link, kLimitExceeded if the same link is there already.
    Result<RouteInfo> add_route(std::string_view link);
    Result<std::vector<RouteInfo>> routes() const;
    Result<void> remove_route(std::int64_t id);  // kNoSession: no such route
    // The cached list (nullopt: none yet). It is fetched after connecting when older than an
    // hour; refresh_endpoint_list() fetches it now. Lists are verified with the key pinned at
    // registration. The server's own connection always has the last word; an imported list
    // must be newer than the cached one (no rollback) and never strips its relays.
    Result<std::optional<EndpointListInfo>> endpoint_list() const;
    Result<EndpointListInfo> refresh_endpoint_list(milliseconds timeout);
    // paperplane://endpoints?list=... carrying the signed list verbatim, for a file or a QR
    // code; anyone importing it verifies the server's signature, so it can travel any way.
    Result<std::string> export_endpoint_list() const;
    Result<EndpointListInfo> import_endpoint_list(std::string_view link);

    struct Impl;

  private:
    explicit Client(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Helpers for front ends.
inline ConversationId contact_conversation(const AccountId& a) {
    return {ConversationId::Kind::kContact, a};
}
inline ConversationId group_conversation(const GroupId& g) {
    return {ConversationId::Kind::kGroup, g};
}

}  // namespace pp::client

#pragma once
// The server's storage interface. The server keeps only what delivery needs: public keys,
// opaque ciphertext queued per device, and counters; never plaintext, never private keys.
// Backends: sqlite/ (embedded default). A PostgreSQL backend comes later, so nothing here
// assumes a single process or a local file.
//
// Every method is synchronous and thread-safe; callers run them off the network threads.
// Errors are values (`Result`), never exceptions.
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.hpp"
#include "base/result.hpp"

namespace pp::store {

using AccountId = std::array<std::uint8_t, 16>;  // random, assigned at registration
using MessageId = std::array<std::uint8_t, 16>;  // chosen by the sending client; retries reuse it
using DeviceId = std::uint32_t;

// create_account registers the account's first device under this id (Signal's convention).
inline constexpr DeviceId kPrimaryDevice = 1;

struct DeviceAddress {
    AccountId account{};
    DeviceId device = 0;
    friend bool operator==(const DeviceAddress&, const DeviceAddress&) = default;
};

struct SignedPreKey {
    std::uint32_t id = 0;
    Bytes public_key;  // 33 bytes, 0x05 || X25519
    Bytes signature;   // 64 bytes, XEdDSA by the identity key
};

struct OneTimePreKey {
    std::uint32_t id = 0;
    Bytes public_key;  // 33 bytes
};

struct NewAccount {
    AccountId account{};
    Bytes identity_key;  // 33 bytes
    std::uint32_t registration_id = 0;
    std::optional<std::string> username;
    SignedPreKey signed_prekey;
    std::vector<OneTimePreKey> prekeys;
    std::optional<std::string> invite_code;  // consumed atomically with the registration
    std::int64_t now_ms = 0;
};

struct Device {
    DeviceId id = 0;
    std::uint32_t registration_id = 0;
};

struct Account {
    AccountId id{};
    Bytes identity_key;
    std::optional<std::string> username;
    std::vector<Device> devices;
};

struct Bundle {
    DeviceId device = 0;
    std::uint32_t registration_id = 0;
    Bytes identity_key;
    SignedPreKey signed_prekey;
    std::optional<OneTimePreKey> prekey;  // handed out once, then deleted
};

// One message for one device. `content` may be shared by many rows (a group send): the
// backend stores it once.
struct QueuedMessage {
    std::uint64_t seq = 0;  // per-device order, assigned by the store, never reused; acks name it
    MessageId id{};
    DeviceAddress sender;
    std::uint32_t type = 0;  // ciphertext type as the client labelled it
    Bytes content;           // opaque ciphertext
    std::int64_t server_time_ms = 0;
};

// One send: the same message id to one or more devices; content per device or shared.
// Every `content_index` must be < contents.size(); a batch where one is not is refused whole
// (kMalformed) before anything is written, since only a server bug can produce it.
struct Send {
    MessageId id{};
    DeviceAddress sender;
    std::int64_t now_ms = 0;
    // Absolute: the message is gone once now_ms >= expires_ms. The (sender, id) pair is also
    // remembered until then, so that is the window in which a retry is recognised.
    std::int64_t expires_ms = 0;
    struct Delivery {
        DeviceAddress to;
        std::uint32_t type = 0;
        std::size_t content_index = 0;  // into `contents`
    };
    std::vector<Bytes> contents;
    std::vector<Delivery> deliveries;
};

enum class SendOutcome : std::uint8_t {
    kStored,         // committed durably to every recipient queue
    kDuplicate,      // this sender already sent this id: nothing stored again (idempotent retry)
    kQueueFull,      // a recipient queue is at its cap: nothing stored
    kUnknownDevice,  // a recipient device does not exist (stale device list): nothing stored
};

// What commit() did with one send.
struct SendResult {
    SendOutcome outcome = SendOutcome::kStored;
    // When stored: the seq each delivery got in its device's queue, in the order of the
    // send's `deliveries`. The server pushes a message it just stored from memory under that
    // seq instead of reading it back.
    std::vector<std::uint64_t> seqs;
};

struct StoreLimits {
    std::size_t max_queue_messages = 10'000;     // per device
    std::size_t max_prekeys_per_device = 1'000;  // one-time prekeys held per device
    // The database file's size bound; 0: only the disk bounds it. Past it a write fails as
    // on a full disk (kInternal, "database or disk is full") and changes nothing.
    std::uint64_t max_database_bytes = 0;
};

struct Stats {
    std::uint64_t accounts = 0;
    std::uint64_t devices = 0;
    std::uint64_t queued_messages = 0;
    std::uint64_t stored_contents = 0;
    std::uint64_t invites_open = 0;
    // The database's pages as of the read (the file's size once checkpointed), and those of
    // them free: emptied by acks and expiry, reused before the file grows. Without a vacuum
    // the file never shrinks, so room left under the bound is max - (bytes - free).
    std::uint64_t database_bytes = 0;
    std::uint64_t database_free_bytes = 0;
    std::uint64_t database_max_bytes = 0;  // StoreLimits::max_database_bytes; 0: unbounded
};

class Store {
  public:
    virtual ~Store() = default;

    // Accounts and keys. kLimitExceeded when the username is taken, the account id exists or the
    // invite is not open; nothing is stored then. The first device is kPrimaryDevice.
    // Usernames are compared byte for byte: the server normalises them before they get here.
    // Methods taking a DeviceAddress return kNoSession when that device does not exist.
    virtual Result<void> create_account(const NewAccount& a) = 0;
    virtual Result<Account> account(const AccountId& id) = 0;  // kNoSession if unknown
    virtual Result<AccountId> account_by_username(const std::string& name) = 0;
    virtual Result<void> set_signed_prekey(const DeviceAddress& d, const SignedPreKey& k) = 0;
    // An id already held is replaced. kLimitExceeded (nothing stored) past max_prekeys_per_device.
    virtual Result<void> add_prekeys(const DeviceAddress& d,
                                     const std::vector<OneTimePreKey>& k) = 0;
    virtual Result<std::size_t> count_prekeys(const DeviceAddress& d) = 0;
    // One bundle per device. With `take_prekeys`, each carries one one-time prekey, taken
    // atomically (concurrent fetches never share one; a device that has none left gets a
    // bundle without). Without it, no prekey is handed out or consumed: the server does that
    // for a requester past its prekey limit.
    virtual Result<std::vector<Bundle>> take_bundles(const AccountId& id, bool take_prekeys) = 0;

    // Delivery, as the group committer writes it: many sends and the acks of many devices in
    // ONE transaction, so under load one fsync covers all of them. Sends are written first (a
    // batch's acks can only name rows stored earlier). Returns a result per send, in order,
    // only after the transaction is durable; on an error nothing of the batch is written.
    // Acks of unknown devices are skipped.
    struct DeviceAcks {
        DeviceAddress device;
        std::vector<std::uint64_t> seqs;
    };
    virtual Result<std::vector<SendResult>> commit(const std::vector<Send>& sends,
                                                   const std::vector<DeviceAcks>& acks) = 0;
    // The halves of commit() alone.
    Result<std::vector<SendResult>> commit_sends(const std::vector<Send>& sends) {
        return commit(sends, {});
    }
    Result<void> acknowledge_batch(const std::vector<DeviceAcks>& acks) {
        auto r = commit({}, acks);
        if (!r) return r.error();
        return {};
    }
    // Oldest first, with seq > after_seq; expired messages are not returned. At most `limit`
    // messages, and it stops after the message that reaches `max_bytes` of content (so with
    // max_bytes > 0 at least one comes back while any is pending): a backlog of large messages
    // is read a window at a time, not a whole `limit` of them.
    virtual Result<std::vector<QueuedMessage>> pending(const DeviceAddress& d,
                                                       std::uint64_t after_seq, std::size_t limit,
                                                       std::size_t max_bytes,
                                                       std::int64_t now_ms) = 0;
    // Deletes acknowledged rows from the device's queue, named by their seq (as `pending`
    // returned them), in one transaction. A message id alone is not enough: ids are chosen by
    // senders, so two senders' messages may share one; the server acks exactly the rows it
    // pushed. Seqs of rows already gone (or never there) are fine. Seqs are per device,
    // assigned by the store in increasing order and never reused, so a stale seq can never name
    // a newer message.
    virtual Result<void> acknowledge(const DeviceAddress& d,
                                     const std::vector<std::uint64_t>& seqs) = 0;
    virtual Result<std::size_t> queue_depth(const DeviceAddress& d) = 0;
    // Whether commit() would find this send a duplicate: the sender's id is recorded (a send
    // of it was committed, and expire() has not swept its idempotency record yet). Asked
    // before answering a stale device list, so that a retry of a send stored before the list
    // changed is a duplicate there too.
    virtual Result<bool> was_sent(const DeviceAddress& sender, const MessageId& id) = 0;
    // Drops expired messages, unreferenced contents and expired message ids (the idempotency
    // records); returns how many messages went. May work in several transactions (so sends are
    // not held up by one large sweep): on an error, what was swept stays swept and the rest
    // waits for the next call. keep_going is asked before each transaction; once it says no,
    // the rest waits for the next call too (so a stopping server, or other upkeep, need not
    // wait for a large sweep to finish).
    using KeepGoing = std::function<bool()>;
    virtual Result<std::size_t> expire(std::int64_t now_ms, const KeepGoing& keep_going) = 0;

    // Invites (registration policy "invite"). kLimitExceeded if the code already exists.
    virtual Result<void> add_invite(const std::string& code, std::int64_t now_ms) = 0;

    virtual Result<Stats> stats() = 0;
};

}  // namespace pp::store

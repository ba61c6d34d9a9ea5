#pragma once
// The home server's behaviour: every frame a device sends, and every message it is owed.
// A connection's frames are handled on its network strand as they arrive, so its requests are
// answered in order and a send reaches the group committer without a thread hand-off. Requests
// that write the store outside the committer (registration, prekey upload, bundle fetches,
// which take one-time prekeys) would wait there for the store's write lock through the
// committer's fsync: they run on a small worker pool, and the connection's later frames wait
// until that answer is queued. Pushes run on the strand too.
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include "crypto/keys.hpp"
#include "net/server.hpp"
#include "server/config.hpp"
#include "server/device_directory.hpp"
#include "server/event_log.hpp"
#include "server/group_committer.hpp"
#include "server/keyed_rate_limiter.hpp"
#include "server/metrics.hpp"
#include "server/rate_limiter.hpp"
#include "store/store.hpp"
#include "wire/frame_codec.hpp"

namespace pp::server {

class Service : public net::Handler {
  public:
    // `worker_threads` 0: half the cores, at least two. The workers run registration, prekey
    // upload and bundle fetch requests, which wait for the store's write lock; a second worker
    // checks the next one's signatures meanwhile.
    Service(store::Store& store, Config config, Metrics& metrics, unsigned worker_threads = 0);
    ~Service() override;

    void on_open(const std::shared_ptr<net::Connection>& conn) override;
    void on_frame(const std::shared_ptr<net::Connection>& conn, Bytes frame) override;
    void on_close(const std::shared_ptr<net::Connection>& conn) override;

    // Graceful stop: answers every request already received, commits every send already
    // accepted, then stops the workers. Call after the network stopped accepting.
    void shutdown();

    // Forgets rate-limit buckets that have refilled (the housekeeper calls this now and then,
    // so the tables shrink after a burst of clients).
    void sweep_rate_limiters();
    // Runs again the drains that could not finish (a store error, out of memory; the
    // housekeeper calls this with sweep_rate_limiters), so a device that is owed its queue gets
    // it without waiting for an ack, a new message or a reconnect. After a lost wake-up it
    // drains every session once (see drain_everyone).
    void retry_stalled_drains();

  private:
    struct Session;
    using SessionPtr = std::shared_ptr<Session>;
    using DeviceKey = std::pair<store::AccountId, store::DeviceId>;

    // On the connection's strand: decodes, rate-limits and answers one frame, or hands it to
    // run_on_worker when slow().
    // `arrived`: when the network layer handed the frame over (it may have waited since).
    void handle(const SessionPtr& s, Bytes bytes, std::chrono::steady_clock::time_point arrived);
    static bool slow(const wire::v1::Request& req);
    // Marks the session busy and runs the request on a worker; resume() follows on the strand.
    void run_on_worker(const SessionPtr& s, wire::v1::Frame frame,
                       std::chrono::steady_clock::time_point arrived);
    void resume(const SessionPtr& s);  // handles the frames that waited, in order
    void drop_waiting(Session& s);     // forgets the frames waiting behind a worker's request
    // drain() for a request that is answered OK whatever happens: a failure (out of memory)
    // leaves the rest for the next wake, ack, drain or housekeeping tick instead of escaping as
    // a second answer.
    void drain_or_defer(const SessionPtr& s) noexcept;
    // On the strand, after a drain could not finish (a store error, out of memory): lists the
    // session for retry_stalled_drains(), once.
    void retry_later(const SessionPtr& s) noexcept;
    // For error paths that run out of memory: the client reconnects and starts clean.
    static void close_quietly(const SessionPtr& s) noexcept;
    // Counts the frame as rejected and answers INTERNAL; for the catch blocks at the thread
    // boundaries, so it throws nothing itself.
    void answer_internal(const SessionPtr& s, std::uint64_t request_id) noexcept;
    void respond(const SessionPtr& s, const wire::v1::Frame& frame);
    // nullopt when the handler answered itself (or will, from the group committer); a handler
    // that answered itself must not throw afterwards, or handle() would answer INTERNAL too.
    std::optional<wire::v1::Frame> dispatch(const SessionPtr& s, const wire::v1::Request& req);

    wire::v1::Frame on_register(const SessionPtr& s, const wire::v1::Request& req);
    wire::v1::Frame on_challenge(const SessionPtr& s, const wire::v1::Request& req);
    std::optional<wire::v1::Frame> on_authenticate(const SessionPtr& s,
                                                   const wire::v1::Request& req);
    wire::v1::Frame on_upload_prekeys(const SessionPtr& s, const wire::v1::Request& req);
    wire::v1::Frame on_fetch_bundles(const SessionPtr& s, const wire::v1::Request& req);
    wire::v1::Frame on_prekey_count(const SessionPtr& s, const wire::v1::Request& req);
    std::optional<wire::v1::Frame> on_send(const SessionPtr& s, const wire::v1::Request& req);
    // OK to a send, stored now or before (duplicate), counted as such.
    wire::v1::Frame send_answer(std::uint64_t request_id, bool duplicate);
    std::optional<wire::v1::Frame> on_ack(const SessionPtr& s, const wire::v1::Request& req);
    wire::v1::Frame on_lookup_username(const SessionPtr& s, const wire::v1::Request& req);
    wire::v1::Frame on_get_endpoints(const wire::v1::Request& req) const;

    // Pushes queued messages to the session's device from the store, up to its window, when
    // the store may hold some not yet pushed there. On the connection's strand.
    void drain(const SessionPtr& s);
    // After a commit: hands each connected recipient the messages just stored for it.
    void wake(std::vector<CommittedDelivery> stored);
    // After a commit whose wake-ups were lost (out of memory): the recipients are unknown, so
    // every session drains from the store once, at the next housekeeping tick. A drain of a
    // queue with nothing new reads one index page and pushes nothing.
    void drain_everyone();
    // On the connection's strand: pushes just-committed messages from memory when they are the
    // next in the device's queue and the window has room; otherwise drains from the store.
    void push_committed(const SessionPtr& s, const std::vector<CommittedDelivery>& stored);
    // One push frame; the session's window and in-flight rows account for it.
    void push(const SessionPtr& s, std::uint64_t seq, const store::MessageId& id,
              const store::DeviceAddress& sender, std::uint32_t type, ByteView content,
              std::int64_t server_time_ms);
    bool window_open(const Session& s) const;
    // Counts a refused request; logs the connection's first refusal.
    void note_rate_limited(const SessionPtr& s, std::string_view limit);
    // Whether this fetch may take the target's one-time prekeys (the prekey limits).
    bool may_take_prekeys(const SessionPtr& s, const store::AccountId& target);
    void store_failed(std::string_view op, const Error& e);

    store::Store& store_;
    Config config_;
    Metrics& metrics_;
    boost::asio::thread_pool workers_;
    std::mutex mutex_;
    std::unordered_map<std::uint64_t, SessionPtr> sessions_;
    std::map<DeviceKey, std::set<std::uint64_t>> by_device_;  // connection ids
    std::vector<std::weak_ptr<Session>> stalled_;             // drains to retry
    DeviceDirectory directory_;
    std::unique_ptr<GroupCommitter> committer_;
    KeyedRateLimiter account_limiter_;
    KeyedRateLimiter address_limiter_;
    KeyedRateLimiter registration_limiter_;
    KeyedRateLimiter prekey_pair_limiter_;       // key: requester account || target account
    KeyedRateLimiter prekey_requester_limiter_;  // key: requester account
    EventLog events_;
    // Verified against when an account or device is unknown, so that answer takes as long as
    // a bad signature does and timing does not tell them apart.
    crypto::PublicKey decoy_identity_;
    std::atomic<bool> stopped_{false};              // after shutdown(): no more work is posted
    std::atomic<bool> drain_everyone_owed_{false};  // set by the committer's on_wake_lost
};

}  // namespace pp::server

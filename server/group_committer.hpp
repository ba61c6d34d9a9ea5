#pragma once
// Group commit: sends and acknowledgements from every connection queue here, and one thread
// writes whatever has accumulated in a single transaction. Under load
// a transaction carries hundreds of sends, so the fsync that makes an acknowledgement durable is
// paid once per batch, not once per message. A send's callback runs only after its transaction is
// durable (or failed).
//
// The queues are bounded (`max_pending_sends` sends waiting, `max_pending_acks` ack requests
// waiting, and `max_pending_send_bytes` of content in the sends accepted and not yet answered,
// passed by at most one send): a submit past a bound is refused at once with kLimitExceeded
// ("server busy"), before anything is queued, so the caller can tell its client to retry. Nothing
// already queued is ever dropped. The byte bound matters while the disk is slow: 20,000 sends of
// the largest frame would otherwise hold 5 GiB.
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "server/metrics.hpp"
#include "store/store.hpp"

namespace pp::server {

// A message just made durable in one device's queue, with what it takes to push it without
// reading it back from the store.
struct CommittedDelivery {
    store::DeviceAddress to;
    std::uint64_t seq = 0;
    std::shared_ptr<const store::Send> send;  // shared by every delivery of one send
    std::size_t delivery = 0;                 // index into send->deliveries
};

class GroupCommitter {
  public:
    using Done = std::function<void(Result<store::SendOutcome>)>;
    using AckDone = std::function<void(Result<void>)>;
    // After each send transaction, on the committer's thread: every delivery it stored, in
    // commit order (so in seq order per device).
    using Committed = std::function<void(std::vector<CommittedDelivery>)>;
    // When a batch failed part way (out of memory), or on_committed threw: rows it stored may
    // not have reached on_committed, so their connected recipients were never told. Which
    // ones is not known then. Must not throw.
    using WakeLost = std::function<void()>;
    // The error of a send or ack in a batch that failed part way: it may or may not have been
    // committed, and sending it again is safe either way.
    static constexpr std::string_view kNotConfirmed = "not confirmed; send it again";

    struct Bounds {
        std::size_t max_batch = 512;  // sends (and ack requests) per transaction
        std::size_t max_pending_sends = 20'000;
        std::size_t max_pending_send_bytes = 128 << 20;
        std::size_t max_pending_acks = 20'000;
    };
    GroupCommitter(store::Store& store, Metrics& metrics, Bounds bounds, Committed on_committed,
                   WakeLost on_wake_lost = nullptr);
    ~GroupCommitter();
    GroupCommitter(const GroupCommitter&) = delete;
    GroupCommitter& operator=(const GroupCommitter&) = delete;

    void submit(store::Send send, Done done);
    // `done` runs on the committer's thread, or inline when refused (busy or stopping).
    void submit_acks(store::DeviceAddress device, std::vector<std::uint64_t> seqs, AckDone done);
    // Commits everything already submitted, then stops the thread. Later submits fail.
    void stop();

  private:
    struct Pending {
        store::Send send;
        Done done;
        std::chrono::steady_clock::time_point received;
        std::size_t bytes = 0;  // the send's contents, counted in held_bytes_
    };
    struct PendingAcks {
        store::Store::DeviceAcks acks;
        AckDone done;
    };
    void run();
    void commit(std::vector<Pending>& sends, std::vector<PendingAcks>& acks);
    void wake_lost() noexcept;

    // The batch being committed, reserved to max_batch up front (so taking a batch off the
    // queues, under the lock, never allocates); only the committer's thread touches them.
    std::vector<Pending> batch_;
    std::vector<PendingAcks> ack_batch_;

    store::Store& store_;
    Metrics& metrics_;
    Bounds bounds_;
    Committed on_committed_;
    WakeLost on_wake_lost_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Pending> queue_;
    std::size_t held_bytes_ = 0;  // contents of the sends accepted and not yet answered
    std::deque<PendingAcks> acks_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace pp::server

#pragma once
// Group commit: sends and acknowledgements from every connection queue here, and one thread
// writes whatever has accumulated in a single transaction (one for sends, one for acks). Under load
// a transaction carries hundreds of sends, so the fsync that makes an acknowledgement durable is
// paid once per batch, not once per message. A send's callback runs only after its transaction is
// durable (or failed).
//
// The queues are bounded (`max_pending_sends` sends, `max_pending_acks` ack requests): a submit
// past the bound is refused at once with kLimitExceeded ("server busy"), before anything is queued,
// so the caller can tell its client to retry. Nothing already queued is ever dropped.
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "server/metrics.hpp"
#include "store/store.hpp"

namespace pp::server {

class GroupCommitter {
  public:
    using Done = std::function<void(Result<store::SendOutcome>)>;
    using AckDone = std::function<void(Result<void>)>;
    using Committed = std::function<void(const std::vector<store::DeviceAddress>&)>;

    GroupCommitter(store::Store& store, Metrics& metrics, std::size_t max_batch,
                   std::size_t max_pending_sends, std::size_t max_pending_acks,
                   Committed on_committed);
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
    };
    struct PendingAcks {
        store::Store::DeviceAcks acks;
        AckDone done;
    };
    void run();
    void commit_sends(std::vector<Pending>& batch);
    void commit_acks(std::vector<PendingAcks>& batch);

    store::Store& store_;
    Metrics& metrics_;
    std::size_t max_batch_;
    std::size_t max_pending_sends_;
    std::size_t max_pending_acks_;
    Committed on_committed_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Pending> queue_;
    std::deque<PendingAcks> acks_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace pp::server

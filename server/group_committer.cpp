#include "server/group_committer.hpp"

#include <algorithm>
#include <exception>
#include <utility>

namespace pp::server {

namespace {
Error busy() {
    return make_error(ErrorCode::kLimitExceeded, "server busy; retry");
}
}  // namespace

GroupCommitter::GroupCommitter(store::Store& store, Metrics& metrics, Bounds bounds,
                               Committed on_committed, WakeLost on_wake_lost)
    : store_(store),
      metrics_(metrics),
      bounds_(bounds),
      on_committed_(std::move(on_committed)),
      on_wake_lost_(std::move(on_wake_lost)) {
    bounds_.max_batch = std::max<std::size_t>(bounds_.max_batch, 1);
    bounds_.max_pending_sends = std::max<std::size_t>(bounds_.max_pending_sends, 1);
    bounds_.max_pending_acks = std::max<std::size_t>(bounds_.max_pending_acks, 1);
    batch_.reserve(bounds_.max_batch);
    ack_batch_.reserve(bounds_.max_batch);
    thread_ = std::thread([this] { run(); });
}

GroupCommitter::~GroupCommitter() {
    stop();
}

namespace {

// The callbacks run on the committer's thread (or the submitter's, for a refusal). One that
// throws (out of memory) must neither end the committer's thread nor skip the answers after
// it: a lost answer is retried by its client. (The callbacks handle what they can themselves;
// see Service. A wake-up that fails is reported to on_wake_lost instead: see commit().)
template <typename Callback, typename Arg>
void answer(Callback& callback, Arg&& arg) noexcept {
    try {
        callback(std::forward<Arg>(arg));
    } catch (const std::exception&) {
    }
}

// Answers once: the callback is taken out of its slot first, so what is still in a slot after
// an exception inside a batch is exactly what has not been answered.
template <typename Callback, typename Arg>
void answer_once(Callback& slot, Arg&& arg) noexcept {
    Callback callback = std::move(slot);
    slot = nullptr;
    answer(callback, std::forward<Arg>(arg));
}

// Every send and ack of a batch not answered when it failed part way (out of memory, in the
// store or here): "not confirmed", so the client sends it again. A send that was committed
// after all is recognised by its id then (duplicate), and deleting acked rows twice deletes
// nothing more. (An error allocates nothing: its detail is a static string.)
template <typename Batch>
void answer_unconfirmed(Batch& batch) noexcept {
    for (auto& p : batch) {
        if (p.done)
            answer_once(p.done, make_error(ErrorCode::kInternal, GroupCommitter::kNotConfirmed));
    }
}

}  // namespace

void GroupCommitter::submit(store::Send send, Done done) {
    std::size_t bytes = 0;
    for (const Bytes& c : send.contents) bytes += c.size();
    bool stopping = false;
    {
        std::lock_guard lock(mutex_);
        stopping = stopping_;
        // Taken while the bytes held are under the bound, however large the send: the bound
        // is passed by at most one send, and no send is refused for its size alone.
        const bool room = held_bytes_ < bounds_.max_pending_send_bytes;
        if (!stopping && queue_.size() < bounds_.max_pending_sends && room) {
            queue_.push_back(
                {std::move(send), std::move(done), std::chrono::steady_clock::now(), bytes});
            held_bytes_ += bytes;  // after the push, which may throw
            wake_.notify_one();
            return;
        }
    }
    // Refused: answered here, outside the lock (`done` may take other locks).
    if (!stopping) {
        metrics_.busy_refusals.fetch_add(1, std::memory_order_relaxed);
        answer(done, busy());
    } else {
        answer(done, make_error(ErrorCode::kInternal, "server is shutting down"));
    }
}

void GroupCommitter::submit_acks(store::DeviceAddress device, std::vector<std::uint64_t> seqs,
                                 AckDone done) {
    bool stopping = false;
    {
        std::lock_guard lock(mutex_);
        stopping = stopping_;
        if (!stopping && acks_.size() < bounds_.max_pending_acks) {
            acks_.push_back({{device, std::move(seqs)}, std::move(done)});
            wake_.notify_one();
            return;
        }
    }
    if (!stopping) {
        metrics_.busy_refusals.fetch_add(1, std::memory_order_relaxed);
        answer(done, busy());
    } else {
        answer(done, make_error(ErrorCode::kInternal, "server is shutting down"));
    }
}

void GroupCommitter::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        wake_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
}

void GroupCommitter::run() {
    auto& sends = batch_;
    auto& acks = ack_batch_;
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || !queue_.empty() || !acks_.empty(); });
            if (queue_.empty() && acks_.empty()) return;  // stopping, everything committed
            while (!queue_.empty() && sends.size() < bounds_.max_batch) {
                sends.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
            while (!acks_.empty() && acks.size() < bounds_.max_batch) {
                acks.push_back(std::move(acks_.front()));
                acks_.pop_front();
            }
        }
        try {
            commit(sends, acks);
        } catch (...) {
            // Out of memory part way through: the thread carries on with the next batch. The
            // transaction may have been durable before the failure, so its wake-ups are reported
            // lost first: by the time a sender hears "not confirmed", the recipients' drain is
            // owed. (Sends answered stored before the failure heard it earlier; their
            // recipients get the message at the next tick all the same.)
            if (!sends.empty()) wake_lost();
            answer_unconfirmed(sends);
            answer_unconfirmed(acks);
        }
        {
            // Released once answered: until then the batch's contents are still in memory.
            std::size_t done_bytes = 0;
            for (const auto& p : sends) done_bytes += p.bytes;
            std::lock_guard lock(mutex_);
            held_bytes_ -= done_bytes;
        }
        sends.clear();
        acks.clear();
    }
}

void GroupCommitter::commit(std::vector<Pending>& batch, std::vector<PendingAcks>& ack_batch) {
    std::vector<store::Send> sends;
    sends.reserve(batch.size());
    for (auto& p : batch) sends.push_back(std::move(p.send));
    std::vector<store::Store::DeviceAcks> acks;
    acks.reserve(ack_batch.size());
    for (auto& p : ack_batch) acks.push_back(std::move(p.acks));
    // One transaction, one fsync, for everything gathered since the last one.
    auto results = store_.commit(sends, acks);
    metrics_.commits.fetch_add(1, std::memory_order_relaxed);
    Result<void> acked;
    if (!results) acked = results.error();
    if (!results && !sends.empty() && !acks.empty()) {
        // Nothing was written. Each half again on its own, so an error in one (a send that
        // hits a full disk, say, where deletes would still fit) does not fail the other.
        if (auto r = store_.commit({}, acks); r)
            acked = Result<void>{};
        else
            acked = r.error();
        results = store_.commit(sends, {});
        metrics_.commits.fetch_add(2, std::memory_order_relaxed);
    }
    const auto now = std::chrono::steady_clock::now();
    std::vector<CommittedDelivery> stored;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (!results) {
            answer_once(batch[i].done, results.error());
            continue;
        }
        const store::SendResult& r = (*results)[i];
        if (r.outcome == store::SendOutcome::kStored &&
            r.seqs.size() == sends[i].deliveries.size()) {
            auto send = std::make_shared<const store::Send>(std::move(sends[i]));
            for (std::size_t d = 0; d < send->deliveries.size(); ++d)
                stored.push_back({send->deliveries[d].to, r.seqs[d], send, d});
            metrics_.messages_stored.fetch_add(send->deliveries.size(), std::memory_order_relaxed);
        }
        metrics_.commit_latency.observe(now - batch[i].received);
        answer_once(batch[i].done, r.outcome);
    }
    for (auto& p : ack_batch) answer_once(p.done, acked);
    if (!stored.empty() && on_committed_) {
        try {
            on_committed_(std::move(stored));
        } catch (const std::exception&) {
            wake_lost();
        }
    }
}

void GroupCommitter::wake_lost() noexcept {
    if (on_wake_lost_) on_wake_lost_();
}

}  // namespace pp::server

#include "server/group_committer.hpp"

#include <algorithm>

namespace pp::server {

namespace {
Error busy() {
    return make_error(ErrorCode::kLimitExceeded, "server busy; retry");
}
}  // namespace

GroupCommitter::GroupCommitter(store::Store& store, Metrics& metrics, std::size_t max_batch,
                               std::size_t max_pending_sends, std::size_t max_pending_acks,
                               Committed on_committed)
    : store_(store),
      metrics_(metrics),
      max_batch_(max_batch),
      max_pending_sends_(std::max<std::size_t>(max_pending_sends, 1)),
      max_pending_acks_(std::max<std::size_t>(max_pending_acks, 1)),
      on_committed_(std::move(on_committed)) {
    thread_ = std::thread([this] { run(); });
}

GroupCommitter::~GroupCommitter() {
    stop();
}

void GroupCommitter::submit(store::Send send, Done done) {
    bool stopping = false;
    {
        std::lock_guard lock(mutex_);
        stopping = stopping_;
        if (!stopping && queue_.size() < max_pending_sends_) {
            queue_.push_back({std::move(send), std::move(done), std::chrono::steady_clock::now()});
            wake_.notify_one();
            return;
        }
    }
    // Refused: answered here, outside the lock (`done` may take other locks).
    if (!stopping) {
        metrics_.busy_refusals.fetch_add(1, std::memory_order_relaxed);
        done(busy());
    } else {
        done(make_error(ErrorCode::kInternal, "server is shutting down"));
    }
}

void GroupCommitter::submit_acks(store::DeviceAddress device, std::vector<std::uint64_t> seqs,
                                 AckDone done) {
    bool stopping = false;
    {
        std::lock_guard lock(mutex_);
        stopping = stopping_;
        if (!stopping && acks_.size() < max_pending_acks_) {
            acks_.push_back({{device, std::move(seqs)}, std::move(done)});
            wake_.notify_one();
            return;
        }
    }
    if (!stopping) {
        metrics_.busy_refusals.fetch_add(1, std::memory_order_relaxed);
        done(busy());
    } else {
        done(make_error(ErrorCode::kInternal, "server is shutting down"));
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
    std::vector<Pending> sends;
    std::vector<PendingAcks> acks;
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || !queue_.empty() || !acks_.empty(); });
            if (queue_.empty() && acks_.empty()) return;  // stopping, everything committed
            while (!queue_.empty() && sends.size() < max_batch_) {
                sends.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
            while (!acks_.empty() && acks.size() < max_batch_) {
                acks.push_back(std::move(acks_.front()));
                acks_.pop_front();
            }
        }
        if (!sends.empty()) commit_sends(sends);
        if (!acks.empty()) commit_acks(acks);
        sends.clear();
        acks.clear();
    }
}

void GroupCommitter::commit_acks(std::vector<PendingAcks>& batch) {
    std::vector<store::Store::DeviceAcks> all;
    all.reserve(batch.size());
    for (auto& p : batch) all.push_back(p.acks);
    auto r = store_.acknowledge_batch(all);
    metrics_.commits.fetch_add(1, std::memory_order_relaxed);
    for (auto& p : batch) p.done(r);
}

void GroupCommitter::commit_sends(std::vector<Pending>& batch) {
    std::vector<store::Send> sends;
    sends.reserve(batch.size());
    for (auto& p : batch) sends.push_back(std::move(p.send));
    auto outcomes = store_.commit_sends(sends);
    metrics_.commits.fetch_add(1, std::memory_order_relaxed);
    const auto now = std::chrono::steady_clock::now();
    std::vector<store::DeviceAddress> woken;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (!outcomes) {
            batch[i].done(outcomes.error());
            continue;
        }
        const auto outcome = (*outcomes)[i];
        if (outcome == store::SendOutcome::kStored) {
            for (const auto& d : sends[i].deliveries) woken.push_back(d.to);
            metrics_.messages_stored.fetch_add(sends[i].deliveries.size(),
                                               std::memory_order_relaxed);
        }
        metrics_.commit_latency.observe(now - batch[i].received);
        batch[i].done(outcome);
    }
    if (!woken.empty() && on_committed_) on_committed_(woken);
}

}  // namespace pp::server

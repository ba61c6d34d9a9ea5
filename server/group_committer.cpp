#include "server/group_committer.hpp"

namespace pp::server {

GroupCommitter::GroupCommitter(store::Store& store, Metrics& metrics, std::size_t max_batch,
                               Committed on_committed)
    : store_(store),
      metrics_(metrics),
      max_batch_(max_batch),
      on_committed_(std::move(on_committed)) {
    thread_ = std::thread([this] { run(); });
}

GroupCommitter::~GroupCommitter() {
    stop();
}

void GroupCommitter::submit(store::Send send, Done done) {
    {
        std::lock_guard lock(mutex_);
        if (!stopping_) {
            queue_.push_back({std::move(send), std::move(done), std::chrono::steady_clock::now()});
            wake_.notify_one();
            return;
        }
    }
    done(make_error(ErrorCode::kInternal, "server is shutting down"));
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
    std::vector<Pending> batch;
    std::vector<store::Send> sends;
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping, and everything submitted is committed
            while (!queue_.empty() && batch.size() < max_batch_) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        sends.clear();
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
        batch.clear();
        if (!woken.empty() && on_committed_) on_committed_(woken);
    }
}

}  // namespace pp::server

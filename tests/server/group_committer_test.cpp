// The group committer's queue bound: past it a submit is refused at once with "server busy",
// and everything accepted before is still committed and answered.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <new>
#include <vector>

#include "server/group_committer.hpp"
#include "tests/server/unused_store.hpp"

namespace pp::server {
namespace {

// A store whose commits wait until the test opens the gate; nothing else is called. With
// fail_sends, a commit that holds sends fails whole (as a full disk would), writing nothing.
class GatedStore final : public test_doubles::UnusedStore {
  public:
    void open_gate() {
        std::lock_guard lock(mutex_);
        open_ = true;
        changed_.notify_all();
    }
    void wait_for_commit_started() {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return started_ > 0; });
    }

    Result<std::vector<store::SendResult>> commit(const std::vector<store::Send>& sends,
                                                  const std::vector<DeviceAcks>& acks) override {
        wait_gate();
        if (fail_sends && !sends.empty())
            return make_error(ErrorCode::kInternal, "sqlite: database or disk is full");
        std::vector<store::SendResult> out;
        for (const auto& s : sends)
            out.push_back(
                {store::SendOutcome::kStored, std::vector<std::uint64_t>(s.deliveries.size(), 1)});
        std::lock_guard lock(mutex_);
        for (const auto& a : acks) acked_ += a.seqs.size();
        return out;
    }
    std::atomic<bool> fail_sends{false};
    std::size_t acked() {
        std::lock_guard lock(mutex_);
        return acked_;
    }

  private:
    void wait_gate() {
        std::unique_lock lock(mutex_);
        ++started_;
        changed_.notify_all();
        changed_.wait(lock, [&] { return open_; });
    }

    std::mutex mutex_;
    std::condition_variable changed_;
    bool open_ = false;
    int started_ = 0;
    std::size_t acked_ = 0;
};

store::Send a_send(std::uint8_t n) {
    store::Send s;
    s.id[0] = n;
    s.contents.push_back(Bytes{1, 2, 3});
    s.deliveries.push_back({store::DeviceAddress{}, 1, 0});
    return s;
}

GroupCommitter::Bounds bounds(std::size_t max_batch, std::size_t sends, std::size_t acks,
                              std::size_t send_bytes = 1 << 20) {
    GroupCommitter::Bounds b;
    b.max_batch = max_batch;
    b.max_pending_sends = sends;
    b.max_pending_acks = acks;
    b.max_pending_send_bytes = send_bytes;
    return b;
}

TEST(GroupCommitter, RefusesPastTheBoundAndCommitsEverythingAccepted) {
    GatedStore store;
    Metrics metrics;
    constexpr std::size_t kBound = 4;
    std::mutex mu;
    std::size_t stored = 0, busy = 0, acks_ok = 0, acks_busy = 0;
    {
        GroupCommitter committer(store, metrics, bounds(/*max_batch=*/1, kBound, kBound), {});
        auto on_send = [&](Result<store::SendOutcome> r) {
            std::lock_guard lock(mu);
            if (r && *r == store::SendOutcome::kStored) ++stored;
            if (!r && r.error().code == ErrorCode::kLimitExceeded) ++busy;
        };
        // The first send is taken into a transaction that waits on the gate; then the queue
        // fills to its bound while the "disk" is stuck.
        committer.submit(a_send(0), on_send);
        store.wait_for_commit_started();
        for (std::uint8_t i = 1; i <= kBound; ++i) committer.submit(a_send(i), on_send);
        {
            std::lock_guard lock(mu);
            EXPECT_EQ(busy, 0u);
        }
        // Past the bound: refused at once, on the caller's thread, without waiting.
        committer.submit(a_send(99), on_send);
        {
            std::lock_guard lock(mu);
            EXPECT_EQ(busy, 1u);
            EXPECT_EQ(stored, 0u);
        }
        // Acks have their own bound.
        auto on_ack = [&](Result<void> r) {
            std::lock_guard lock(mu);
            if (r) ++acks_ok;
            if (!r && r.error().code == ErrorCode::kLimitExceeded) ++acks_busy;
        };
        for (std::size_t i = 0; i < kBound + 2; ++i)
            committer.submit_acks(store::DeviceAddress{}, {i}, on_ack);
        {
            std::lock_guard lock(mu);
            EXPECT_EQ(acks_busy, 2u);
        }
        EXPECT_EQ(metrics.busy_refusals.load(), 3u);
        store.open_gate();
        committer.stop();  // commits everything already accepted
    }
    EXPECT_EQ(stored, kBound + 1);  // nothing accepted was dropped
    EXPECT_EQ(busy, 1u);
    EXPECT_EQ(acks_ok, kBound);
    EXPECT_EQ(store.acked(), kBound);
}

// Sends and acks share a transaction; when it fails, each half is tried again alone, so
// sends that cannot be written do not take the acks down with them (nor the reverse).
TEST(GroupCommitter, AFailedSendHalfDoesNotFailTheAcks) {
    GatedStore store;
    store.fail_sends = true;
    Metrics metrics;
    std::mutex mu;
    std::size_t send_errors = 0, acks_ok = 0, acks_failed = 0;
    {
        GroupCommitter committer(store, metrics, bounds(/*max_batch=*/8, 8, 8), {});
        auto on_send = [&](Result<store::SendOutcome> r) {
            std::lock_guard lock(mu);
            if (!r && r.error().code == ErrorCode::kInternal) ++send_errors;
        };
        auto on_ack = [&](Result<void> r) {
            std::lock_guard lock(mu);
            ++(r ? acks_ok : acks_failed);
        };
        // The first cycle holds the gate; the send and the ack behind it share the next one.
        committer.submit(a_send(0), on_send);
        store.wait_for_commit_started();
        committer.submit(a_send(1), on_send);
        committer.submit_acks(store::DeviceAddress{}, {7, 8}, on_ack);
        store.open_gate();
        committer.stop();
    }
    EXPECT_EQ(send_errors, 2u);
    EXPECT_EQ(acks_ok, 1u);
    EXPECT_EQ(acks_failed, 0u);
    EXPECT_EQ(store.acked(), 2u);
}

// Bytes are bounded too: a few large sends fill the queue long before the count does.
TEST(GroupCommitter, RefusesPastTheByteBoundButAlwaysTakesOneSend) {
    GatedStore store;
    Metrics metrics;
    std::mutex mu;
    std::size_t stored = 0, busy = 0;
    auto on_send = [&](Result<store::SendOutcome> r) {
        std::lock_guard lock(mu);
        if (r && *r == store::SendOutcome::kStored) ++stored;
        if (!r && r.error().code == ErrorCode::kLimitExceeded) ++busy;
    };
    auto of_size = [](std::uint8_t id, std::size_t n) {
        store::Send s = a_send(id);
        s.contents[0] = Bytes(n, 0x5A);
        return s;
    };
    {
        GroupCommitter committer(store, metrics, bounds(/*max_batch=*/1, 100, 100, 1000), {});
        committer.submit(of_size(0, 10), on_send);  // in the gated transaction: still held
        store.wait_for_commit_started();
        committer.submit(of_size(1, 600), on_send);  // 10 held: taken
        committer.submit(of_size(2, 400), on_send);  // 610 held, under the bound: taken
        committer.submit(of_size(3, 1), on_send);    // 1,010 held, past it: refused
        {
            std::lock_guard lock(mu);
            EXPECT_EQ(busy, 1u);
        }
        store.open_gate();
        committer.stop();
    }
    EXPECT_EQ(stored, 3u);
    {
        // Larger than the whole bound: taken while the bytes held are under it, so a send is
        // never refused for its size alone.
        GatedStore open_store;
        open_store.open_gate();
        GroupCommitter committer(open_store, metrics, bounds(1, 100, 100, 1000), {});
        committer.submit(of_size(4, 5000), on_send);
        committer.stop();
    }
    EXPECT_EQ(stored, 4u);
    EXPECT_EQ(busy, 1u);
}

// A store whose first commit runs out of memory (the exception SQLite's wrapper or a vector
// of results would throw); later commits store everything.
class OutOfMemoryOnceStore final : public test_doubles::UnusedStore {
  public:
    OutOfMemoryOnceStore() = default;
    explicit OutOfMemoryOnceStore(bool never) : thrown_(never) {}
    Result<std::vector<store::SendResult>> commit(const std::vector<store::Send>& sends,
                                                  const std::vector<DeviceAcks>&) override {
        if (!thrown_.exchange(true)) throw std::bad_alloc();
        std::vector<store::SendResult> out;
        for (const auto& s : sends)
            out.push_back(
                {store::SendOutcome::kStored, std::vector<std::uint64_t>(s.deliveries.size(), 1)});
        return out;
    }

  private:
    std::atomic<bool> thrown_{false};
};

// Out of memory inside a batch answers what it had not answered as not confirmed (the
// clients send again), and the committer goes on with the next batch. It used to end the
// committer's thread, and with it the process.
TEST(GroupCommitter, OutOfMemoryInABatchAnswersItAndCarriesOn) {
    OutOfMemoryOnceStore store;
    Metrics metrics;
    std::mutex mu;
    std::condition_variable answered;
    std::vector<Result<store::SendOutcome>> sends;
    std::vector<Result<void>> acks;
    auto on_send = [&](Result<store::SendOutcome> r) {
        std::lock_guard lock(mu);
        sends.push_back(std::move(r));
        answered.notify_all();
    };
    auto on_ack = [&](Result<void> r) {
        std::lock_guard lock(mu);
        acks.push_back(std::move(r));
        answered.notify_all();
    };
    auto wait_for = [&](std::size_t n_sends, std::size_t n_acks) {
        std::unique_lock lock(mu);
        return answered.wait_for(lock, std::chrono::seconds(10),
                                 [&] { return sends.size() >= n_sends && acks.size() >= n_acks; });
    };
    std::atomic<int> wakes_lost{0};
    GroupCommitter committer(store, metrics, bounds(/*max_batch=*/8, 8, 8), {},
                             [&] { wakes_lost.fetch_add(1); });
    committer.submit(a_send(0), on_send);
    committer.submit_acks(store::DeviceAddress{}, {7}, on_ack);
    // The first batch holds the send, and the ack too unless it came late for it: either way
    // each is answered once.
    ASSERT_TRUE(wait_for(1, 1));
    {
        std::lock_guard lock(mu);
        ASSERT_FALSE(sends[0]);
        EXPECT_EQ(sends[0].error().code, ErrorCode::kInternal);
    }
    committer.submit(a_send(1), on_send);
    ASSERT_TRUE(wait_for(2, 1));
    committer.stop();
    std::lock_guard lock(mu);
    ASSERT_EQ(sends.size(), 2u);
    ASSERT_TRUE(sends[1]);
    EXPECT_EQ(*sends[1], store::SendOutcome::kStored);
    EXPECT_EQ(acks.size(), 1u);
    // The failed batch may have been durable: its wake-ups are reported lost, once.
    EXPECT_EQ(wakes_lost.load(), 1);
}

// A wake-up callback that throws (out of memory while posting the pushes) is reported lost
// too, and the sends are still answered stored.
TEST(GroupCommitter, AWakeUpThatThrowsIsReportedLost) {
    OutOfMemoryOnceStore store(/*never=*/true);
    Metrics metrics;
    std::atomic<int> wakes_lost{0};
    std::atomic<int> stored{0};
    GroupCommitter committer(
        store, metrics, bounds(/*max_batch=*/8, 8, 8),
        [](std::vector<CommittedDelivery>) { throw std::bad_alloc(); },
        [&] { wakes_lost.fetch_add(1); });
    committer.submit(a_send(0), [&](Result<store::SendOutcome> r) {
        if (r && *r == store::SendOutcome::kStored) stored.fetch_add(1);
    });
    committer.stop();
    EXPECT_EQ(stored.load(), 1);
    EXPECT_EQ(wakes_lost.load(), 1);
}

}  // namespace
}  // namespace pp::server

// Delivery queues: order, acknowledgement, idempotency, caps, shared group contents, expiry,
// and a rough figure for group-commit throughput.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <map>

#include "tests/store/store_fixture.hpp"

namespace pp::store::testing {
namespace {

// A sweep that is never asked to stop.
const Store::KeepGoing kAll = [] { return true; };

class SqliteQueue : public StoreTest {
  protected:
    static constexpr std::uint32_t kExpiring = 4'500;

    // Messages 1..n from account 1 to account 2, sent at 1,000 ms, expiring at 5,000 ms.
    void commit_expiring(SqliteStore& store, std::uint32_t n) {
        for (std::uint32_t first = 1; first <= n; first += 500) {
            std::vector<Send> batch;
            for (std::uint32_t i = first; i < first + 500 && i <= n; ++i)
                batch.push_back(
                    direct(i, 1, 2, bytes(8, static_cast<std::uint8_t>(i)), 1'000, 5'000));
            ASSERT_TRUE(store.commit_sends(batch).ok());
        }
    }

    std::unique_ptr<SqliteStore> open_with_accounts(std::uint8_t n, StoreLimits limits = {}) {
        auto store = open(limits);
        for (std::uint8_t i = 1; store && i <= n; ++i) {
            EXPECT_TRUE(store->create_account(new_account(i)).ok());
        }
        return store;
    }
};

TEST_F(SqliteQueue, PendingInOrderAndAcknowledgeDeletes) {
    auto store = open_with_accounts(2);
    ASSERT_TRUE(store);
    std::vector<Send> batch;
    for (std::uint32_t i = 1; i <= 5; ++i) {
        batch.push_back(direct(i, 1, 2, bytes(10, static_cast<std::uint8_t>(i)), 100 + i));
    }
    auto out = store->commit_sends(batch);
    ASSERT_TRUE(out.ok());
    ASSERT_EQ(out->size(), 5u);
    for (const SendResult& o : *out) EXPECT_EQ(o.outcome, SendOutcome::kStored);
    EXPECT_EQ(*store->queue_depth(primary(2)), 5u);

    auto msgs = store->pending(primary(2), 0, 100, kAnyBytes, 200);
    ASSERT_TRUE(msgs.ok());
    ASSERT_EQ(msgs->size(), 5u);
    // The seqs the commit reported are the ones the queue holds (the server pushes by them).
    for (std::size_t i = 0; i < 5; ++i) {
        EXPECT_EQ((*out)[i].seqs, std::vector<std::uint64_t>{(*msgs)[i].seq});
    }
    for (std::size_t i = 0; i < 5; ++i) {
        const QueuedMessage& m = (*msgs)[i];
        EXPECT_EQ(m.id, message_id(static_cast<std::uint32_t>(i + 1)));
        EXPECT_EQ(m.content, bytes(10, static_cast<std::uint8_t>(i + 1)));
        EXPECT_EQ(m.sender, primary(1));
        EXPECT_EQ(m.type, 1u);
        EXPECT_EQ(m.server_time_ms, static_cast<std::int64_t>(101 + i));
        if (i > 0) {
            EXPECT_GT(m.seq, (*msgs)[i - 1].seq);
        }
    }
    // Paging by seq and limit.
    auto page = store->pending(primary(2), (*msgs)[1].seq, 2, kAnyBytes, 200);
    ASSERT_TRUE(page.ok());
    ASSERT_EQ(page->size(), 2u);
    EXPECT_EQ((*page)[0].id, message_id(3));
    EXPECT_EQ((*page)[1].id, message_id(4));
    // Paging by bytes: it stops after the message that reaches the budget (10 bytes each), and
    // a budget smaller than one message still returns that message.
    auto by_bytes = store->pending(primary(2), 0, 100, 25, 200);
    ASSERT_TRUE(by_bytes.ok());
    ASSERT_EQ(by_bytes->size(), 3u);
    EXPECT_EQ((*by_bytes)[2].id, message_id(3));
    auto one = store->pending(primary(2), (*msgs)[3].seq, 100, 1, 200);
    ASSERT_TRUE(one.ok());
    ASSERT_EQ(one->size(), 1u);
    EXPECT_EQ((*one)[0].id, message_id(5));

    ASSERT_TRUE(ack_ids(*store, primary(2), {message_id(2)}).ok());
    ASSERT_TRUE(ack_ids(*store, primary(2), {message_id(99)}).ok());  // unknown: fine
    auto rest = store->pending(primary(2), 0, 100, kAnyBytes, 200);
    ASSERT_EQ(rest->size(), 4u);
    EXPECT_EQ((*rest)[1].id, message_id(3));
    EXPECT_EQ(*store->queue_depth(primary(2)), 4u);
    EXPECT_EQ(store->stats()->stored_contents, 4u);
    EXPECT_TRUE(store->pending(primary(1), 0, 100, kAnyBytes, 200)->empty());

    // New messages after acknowledged ones still get higher seqs.
    const std::uint64_t last = (*rest)[3].seq;
    ASSERT_TRUE(ack_ids(*store, primary(2), {message_id(5)}).ok());
    ASSERT_TRUE(store->commit_sends({direct(6, 1, 2, bytes(3, 6))}).ok());
    auto after = store->pending(primary(2), last, 100, kAnyBytes, 200);
    ASSERT_EQ(after->size(), 1u);
    EXPECT_EQ((*after)[0].id, message_id(6));

    EXPECT_EQ(store->pending(primary(9), 0, 10, kAnyBytes, 0).error().code, ErrorCode::kNoSession);
    EXPECT_EQ(ack_ids(*store, primary(9), {message_id(1)}).error().code, ErrorCode::kNoSession);
    EXPECT_EQ(store->queue_depth(primary(9)).error().code, ErrorCode::kNoSession);
}

TEST_F(SqliteQueue, DuplicateIdStoresNothing) {
    auto store = open_with_accounts(3);
    ASSERT_TRUE(store);
    auto out = store->commit_sends(
        {direct(1, 1, 2, bytes(8, 1)), direct(1, 1, 2, bytes(8, 2)), direct(1, 3, 2, bytes(8, 3))});
    ASSERT_TRUE(out.ok());
    EXPECT_EQ((*out)[0].outcome, SendOutcome::kStored);
    EXPECT_EQ((*out)[1].outcome, SendOutcome::kDuplicate);  // same sender, same id, same batch
    EXPECT_EQ((*out)[2].outcome, SendOutcome::kStored);  // same id from another sender is its own
    // A retry after the recipient acknowledged is still a duplicate.
    ASSERT_TRUE(ack_ids(*store, primary(2), {message_id(1)}).ok());
    auto retry = store->commit_sends({direct(1, 1, 2, bytes(8, 1))});
    ASSERT_TRUE(retry.ok());
    EXPECT_EQ((*retry)[0].outcome, SendOutcome::kDuplicate);
    EXPECT_EQ(*store->queue_depth(primary(2)), 0u);
    auto st = store->stats();
    EXPECT_EQ(st->queued_messages, 0u);
    EXPECT_EQ(st->stored_contents, 0u);
    // was_sent() answers as the commit does: per sender, and after the ack too.
    EXPECT_TRUE(*store->was_sent(primary(1), message_id(1)));
    EXPECT_TRUE(*store->was_sent(primary(3), message_id(1)));
    EXPECT_FALSE(*store->was_sent(primary(2), message_id(1)));
    EXPECT_FALSE(*store->was_sent(primary(1), message_id(2)));
}

TEST_F(SqliteQueue, QueueCapRefusesOnlyTheSendThatDoesNotFit) {
    StoreLimits limits;
    limits.max_queue_messages = 3;
    auto store = open_with_accounts(3, limits);
    ASSERT_TRUE(store);
    ASSERT_TRUE(
        store->commit_sends({direct(1, 1, 2, bytes(4, 1)), direct(2, 1, 2, bytes(4, 2))}).ok());

    // A group send to 2 (one slot left) twice over and 3: refused whole; the others go on.
    Send group;
    group.id = message_id(10);
    group.sender = primary(1);
    group.expires_ms = 1'000'000;
    group.contents = {bytes(4, 10)};
    group.deliveries = {{primary(3), 1, 0}, {primary(2), 1, 0}, {primary(2), 1, 0}};
    auto out = store->commit_sends({direct(3, 1, 2, bytes(4, 3)), direct(4, 1, 2, bytes(4, 4)),
                                    direct(5, 1, 3, bytes(4, 5)), group});
    ASSERT_TRUE(out.ok());
    EXPECT_EQ((*out)[0].outcome, SendOutcome::kStored);     // fills 2 to the cap
    EXPECT_EQ((*out)[1].outcome, SendOutcome::kQueueFull);  // counts the batch's own earlier sends
    EXPECT_EQ((*out)[2].outcome, SendOutcome::kStored);
    EXPECT_EQ((*out)[3].outcome, SendOutcome::kQueueFull);
    EXPECT_EQ(*store->queue_depth(primary(2)), 3u);
    EXPECT_EQ(*store->queue_depth(primary(3)), 1u);  // nothing of the refused group send
    EXPECT_EQ(store->stats()->stored_contents, 4u);

    // Not remembered as sent: the retry succeeds once the queue drains.
    ASSERT_TRUE(ack_ids(*store, primary(2), {message_id(1)}).ok());
    auto retry = store->commit_sends({direct(4, 1, 2, bytes(4, 4))});
    EXPECT_EQ((*retry)[0].outcome, SendOutcome::kStored);
    // A retry of a stored send on a full queue is a duplicate, not "full".
    auto dup = store->commit_sends({direct(3, 1, 2, bytes(4, 3))});
    EXPECT_EQ((*dup)[0].outcome, SendOutcome::kDuplicate);
}

TEST_F(SqliteQueue, UnknownRecipientAndMalformedBatch) {
    auto store = open_with_accounts(2);
    ASSERT_TRUE(store);
    auto out = store->commit_sends({direct(1, 1, 9, bytes(4, 1)), direct(2, 1, 2, bytes(4, 2))});
    ASSERT_TRUE(out.ok());
    EXPECT_EQ((*out)[0].outcome, SendOutcome::kUnknownDevice);
    EXPECT_EQ((*out)[1].outcome, SendOutcome::kStored);

    Send bad = direct(3, 1, 2, bytes(4, 3));
    bad.deliveries[0].content_index = 1;
    auto refused = store->commit_sends({direct(4, 1, 2, bytes(4, 4)), bad});
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, ErrorCode::kMalformed);
    EXPECT_EQ(*store->queue_depth(primary(2)), 1u);
    EXPECT_TRUE(store->commit_sends({})->empty());
}

// The group committer acknowledges for many devices at once: one transaction, each device's
// rows only, shared content released with its last reference, unknown devices skipped.
TEST_F(SqliteQueue, AcknowledgeBatchAcrossDevices) {
    auto store = open_with_accounts(10);
    ASSERT_TRUE(store);
    Send group;
    group.id = message_id(7);
    group.sender = primary(1);
    group.now_ms = 500;
    group.expires_ms = 1'000'000;
    group.contents = {bytes(64, 0x11)};
    for (std::uint8_t i = 2; i <= 4; ++i) group.deliveries.push_back({primary(i), 3, 0});
    ASSERT_TRUE(store->commit_sends({group, direct(8, 1, 5, bytes(8, 8))}).ok());
    EXPECT_EQ(store->stats()->queued_messages, 4u);

    std::vector<Store::DeviceAcks> acks = {
        {primary(2), seqs_of(*store, primary(2), {message_id(7)})},
        {primary(3), seqs_of(*store, primary(3), {message_id(7)})},
        {primary(3), {12345}},  // no such row: fine
        {primary(5), seqs_of(*store, primary(5), {message_id(8)})},
        {DeviceAddress{AccountId{}, 9}, {1}}};
    ASSERT_TRUE(store->acknowledge_batch(acks).ok());
    EXPECT_EQ(store->stats()->queued_messages, 1u);  // only device 4's copy is left
    EXPECT_EQ(store->stats()->stored_contents, 1u);
    EXPECT_EQ(store->pending(primary(4), 0, 10, kAnyBytes, 600)->size(), 1u);
    EXPECT_TRUE(store->pending(primary(2), 0, 10, kAnyBytes, 600)->empty());
    ASSERT_TRUE(
        store->acknowledge_batch({{primary(4), seqs_of(*store, primary(4), {message_id(7)})}})
            .ok());
    EXPECT_EQ(store->stats()->stored_contents, 0u);
    EXPECT_TRUE(store->acknowledge_batch({}).ok());
}

// The group committer's transaction: new sends and acks of earlier rows together. The sends
// go first, so the acks' counter updates apply on top of theirs; a batch of duplicates and
// stale acks only writes nothing.
TEST_F(SqliteQueue, CommitWritesSendsAndAcksTogether) {
    auto store = open_with_accounts(3);
    ASSERT_TRUE(store);
    ASSERT_TRUE(
        store->commit_sends({direct(1, 1, 2, bytes(8, 1)), direct(2, 3, 2, bytes(8, 2))}).ok());
    const auto first = seqs_of(*store, primary(2), {message_id(1), message_id(2)});
    ASSERT_EQ(first.size(), 2u);

    auto out = store->commit({direct(3, 1, 2, bytes(8, 3)), direct(1, 1, 2, bytes(8, 1))},
                             {{primary(2), first}, {primary(3), {77}}});
    ASSERT_TRUE(out.ok());
    ASSERT_EQ(out->size(), 2u);
    EXPECT_EQ((*out)[0].outcome, SendOutcome::kStored);
    EXPECT_EQ((*out)[0].seqs, std::vector<std::uint64_t>{first.back() + 1});
    EXPECT_EQ((*out)[1].outcome, SendOutcome::kDuplicate);
    EXPECT_EQ(*store->queue_depth(primary(2)), 1u);
    auto left = store->pending(primary(2), 0, 10, kAnyBytes, 2'000);
    ASSERT_TRUE(left.ok());
    ASSERT_EQ(left->size(), 1u);
    EXPECT_EQ((*left)[0].id, message_id(3));
    EXPECT_EQ(store->stats()->stored_contents, 1u);

    auto nothing = store->commit({direct(3, 1, 2, bytes(8, 3))}, {{primary(2), first}});
    ASSERT_TRUE(nothing.ok());
    EXPECT_EQ((*nothing)[0].outcome, SendOutcome::kDuplicate);
    EXPECT_EQ(*store->queue_depth(primary(2)), 1u);
}

// Message ids are chosen by senders, so two senders' messages may carry the same id in one
// queue. An ack names rows by seq: acknowledging one of them leaves the other queued.
TEST_F(SqliteQueue, AcknowledgeBySeqLeavesSameIdFromAnotherSender) {
    auto store = open_with_accounts(3);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->commit_sends({direct(42, 1, 3, bytes(8, 0x01))}).ok());
    ASSERT_TRUE(store->commit_sends({direct(42, 2, 3, bytes(8, 0x02))}).ok());
    auto rows = store->pending(primary(3), 0, 10, kAnyBytes, 0);
    ASSERT_TRUE(rows.ok());
    ASSERT_EQ(rows->size(), 2u);
    EXPECT_EQ((*rows)[0].id, (*rows)[1].id);
    EXPECT_NE((*rows)[0].seq, (*rows)[1].seq);

    ASSERT_TRUE(store->acknowledge_batch({{primary(3), {(*rows)[0].seq}}}).ok());
    auto left = store->pending(primary(3), 0, 10, kAnyBytes, 0);
    ASSERT_TRUE(left.ok());
    ASSERT_EQ(left->size(), 1u);
    EXPECT_EQ((*left)[0].sender, primary(2));
    EXPECT_EQ((*left)[0].content, bytes(8, 0x02));
    EXPECT_EQ(*store->queue_depth(primary(3)), 1u);
    // The same ack again, or a seq of another device's queue, deletes nothing.
    ASSERT_TRUE(store->acknowledge(primary(3), {(*rows)[0].seq}).ok());
    ASSERT_TRUE(store->acknowledge(primary(1), {(*rows)[1].seq}).ok());
    EXPECT_EQ(*store->queue_depth(primary(3)), 1u);
    EXPECT_EQ(store->stats()->stored_contents, 1u);
}

TEST_F(SqliteQueue, GroupSendStoresContentOnce) {
    auto store = open_with_accounts(10);
    ASSERT_TRUE(store);
    Send group;
    group.id = message_id(1);
    group.sender = primary(1);
    group.now_ms = 500;
    group.expires_ms = 1'000'000;
    group.contents = {bytes(1000, 0xAB), bytes(5, 0xEE)};  // the second is never used
    for (std::uint8_t i = 2; i <= 10; ++i) group.deliveries.push_back({primary(i), 3, 0});
    auto out = store->commit_sends({group});
    ASSERT_TRUE(out.ok());
    EXPECT_EQ((*out)[0].outcome, SendOutcome::kStored);
    auto st = store->stats();
    EXPECT_EQ(st->queued_messages, 9u);
    EXPECT_EQ(st->stored_contents, 1u);

    for (std::uint8_t i = 2; i <= 10; ++i) {
        auto m = store->pending(primary(i), 0, 10, kAnyBytes, 600);
        ASSERT_EQ(m->size(), 1u);
        EXPECT_EQ((*m)[0].content, bytes(1000, 0xAB));
        EXPECT_EQ((*m)[0].type, 3u);
    }
    EXPECT_TRUE(store->acknowledge(primary(2), {}).ok());
    // The content goes only with its last reference.
    for (std::uint8_t i = 2; i <= 9; ++i) ASSERT_TRUE(ack_ids(*store, primary(i), {group.id}).ok());
    EXPECT_EQ(store->stats()->stored_contents, 1u);
    ASSERT_TRUE(ack_ids(*store, primary(10), {group.id}).ok());
    EXPECT_EQ(store->stats()->stored_contents, 0u);
    EXPECT_EQ(store->stats()->queued_messages, 0u);
}

TEST_F(SqliteQueue, ExpiredMessagesAreHiddenThenDropped) {
    auto store = open_with_accounts(4);
    ASSERT_TRUE(store);
    Send group;
    group.id = message_id(1);
    group.sender = primary(1);
    group.expires_ms = 5'000;
    group.contents = {bytes(20, 1)};
    group.deliveries = {{primary(2), 1, 0}, {primary(3), 1, 0}};
    ASSERT_TRUE(store->commit_sends({group, direct(2, 1, 2, bytes(20, 2), 1'000, 50'000)}).ok());

    EXPECT_EQ(store->pending(primary(2), 0, 10, kAnyBytes, 4'999)->size(), 2u);
    auto later = store->pending(primary(2), 0, 10, kAnyBytes, 5'000);
    ASSERT_EQ(later->size(), 1u);
    EXPECT_EQ((*later)[0].id, message_id(2));
    EXPECT_TRUE(store->pending(primary(3), 0, 10, kAnyBytes, 5'000)->empty());

    auto gone = store->expire(5'000, kAll);
    ASSERT_TRUE(gone.ok());
    EXPECT_EQ(*gone, 2u);
    auto st = store->stats();
    EXPECT_EQ(st->queued_messages, 1u);
    EXPECT_EQ(st->stored_contents, 1u);
    EXPECT_EQ(*store->queue_depth(primary(2)), 1u);
    EXPECT_EQ(*store->queue_depth(primary(3)), 0u);
    EXPECT_EQ(*store->expire(5'000, kAll), 0u);

    // Past its expiry the id is forgotten, so the same id may be used again.
    auto reuse = store->commit_sends({group});
    EXPECT_EQ((*reuse)[0].outcome, SendOutcome::kStored);
}

// A sweep larger than one chunk (2,000 rows per transaction) still takes every expired row,
// keeps the devices' depths and the contents' refcounts right, forgets every expired id, and
// leaves the rest alone.
TEST_F(SqliteQueue, ExpiryOfMoreThanOneChunk) {
    auto store = open_with_accounts(3);
    ASSERT_TRUE(store);
    for (std::uint32_t first = 1; first <= kExpiring; first += 500) {
        std::vector<Send> batch;
        for (std::uint32_t i = first; i < first + 500; ++i)
            batch.push_back(
                direct(i, 1, 2 + i % 2, bytes(8, static_cast<std::uint8_t>(i)), 1'000, 5'000));
        ASSERT_TRUE(store->commit_sends(batch).ok());
    }
    ASSERT_TRUE(
        store->commit_sends({direct(kExpiring + 1, 1, 2, bytes(8, 9), 1'000, 50'000)}).ok());

    auto gone = store->expire(5'000, kAll);
    ASSERT_TRUE(gone.ok()) << gone.error().detail;
    EXPECT_EQ(*gone, kExpiring);
    EXPECT_EQ(*store->queue_depth(primary(2)), 1u);
    EXPECT_EQ(*store->queue_depth(primary(3)), 0u);
    auto st = store->stats();
    EXPECT_EQ(st->queued_messages, 1u);
    EXPECT_EQ(st->stored_contents, 1u);
    EXPECT_EQ(*store->expire(5'000, kAll), 0u);
    // Every expired id is forgotten (the first and the last chunk's), the live one is not.
    for (std::uint32_t id : {1u, 2'000u, 2'001u, kExpiring}) {
        auto again = store->commit_sends({direct(id, 1, 2, bytes(8, 1), 6'000, 60'000)});
        ASSERT_TRUE(again.ok());
        EXPECT_EQ((*again)[0].outcome, SendOutcome::kStored) << id;
    }
    auto live = store->commit_sends({direct(kExpiring + 1, 1, 2, bytes(8, 9), 6'000, 60'000)});
    EXPECT_EQ((*live)[0].outcome, SendOutcome::kDuplicate);
}

// A sweep told to stop ends after the chunk it is in: what went stays gone, depths and
// refcounts stay right, and the next sweep takes the rest.
TEST_F(SqliteQueue, ExpiryStopsBetweenChunksWhenAsked) {
    auto store = open_with_accounts(2);
    ASSERT_TRUE(store);
    commit_expiring(*store, kExpiring);
    int asked = 0;
    auto first = store->expire(5'000, [&] { return ++asked < 2; });
    ASSERT_TRUE(first.ok()) << first.error().detail;
    EXPECT_EQ(asked, 2);
    EXPECT_EQ(*first, 2'000u);  // one chunk
    EXPECT_EQ(*store->queue_depth(primary(2)), kExpiring - 2'000);
    EXPECT_EQ(store->stats()->stored_contents, kExpiring - 2'000);

    auto rest = store->expire(5'000, kAll);
    ASSERT_TRUE(rest.ok()) << rest.error().detail;
    EXPECT_EQ(*rest, kExpiring - 2'000);
    EXPECT_EQ(*store->queue_depth(primary(2)), 0u);
    EXPECT_EQ(store->stats()->stored_contents, 0u);
}

// Told to stop while it forgets expired ids, the sweep keeps the ids of the chunks it did not
// reach: they still catch duplicates until the next sweep forgets them.
TEST_F(SqliteQueue, ExpiryStopsBetweenIdChunksWhenAsked) {
    auto store = open_with_accounts(2);
    ASSERT_TRUE(store);
    commit_expiring(*store, kExpiring);
    int asked = 0;
    // Three queue chunks (2,000 + 2,000 + 500), then one chunk of ids, then stop.
    auto swept = store->expire(5'000, [&] { return ++asked < 5; });
    ASSERT_TRUE(swept.ok()) << swept.error().detail;
    EXPECT_EQ(asked, 5);
    EXPECT_EQ(*swept, kExpiring);
    EXPECT_EQ(*store->queue_depth(primary(2)), 0u);

    std::vector<std::uint32_t> still_known;
    for (std::uint32_t first = 1; first <= kExpiring; first += 500) {
        std::vector<Send> batch;
        for (std::uint32_t i = first; i < first + 500; ++i)
            batch.push_back(direct(i, 1, 2, bytes(8, 1), 6'000, 60'000));
        auto again = store->commit_sends(batch);
        ASSERT_TRUE(again.ok()) << again.error().detail;
        for (std::size_t k = 0; k < batch.size(); ++k)
            if ((*again)[k].outcome == SendOutcome::kDuplicate)
                still_known.push_back(first + static_cast<std::uint32_t>(k));
    }
    EXPECT_EQ(still_known.size(), kExpiring - 2'000);

    ASSERT_TRUE(store->expire(5'000, kAll).ok());
    for (std::uint32_t id : still_known) {
        auto again = store->commit_sends({direct(id, 1, 2, bytes(8, 1), 6'000, 60'000)});
        ASSERT_TRUE(again.ok());
        ASSERT_EQ((*again)[0].outcome, SendOutcome::kStored) << id;
    }
}

// A full database (here its size bound, as a full disk would do) fails the whole batch as a
// store error, not as a refusal by rule, stores none of it, and the store keeps working: reads
// go on, and once acknowledgements free pages, sends fit again.
TEST_F(SqliteQueue, AFullDatabaseFailsTheBatchAndChangesNothing) {
    StoreLimits limits;
    limits.max_database_bytes = 512 * 1024;
    auto store = open_with_accounts(2, limits);
    ASSERT_TRUE(store);
    std::uint32_t stored = 0;
    Result<std::vector<SendResult>> out = std::vector<SendResult>{};
    for (std::uint32_t i = 1; i <= 200; ++i) {
        out =
            store->commit_sends({direct(i, 1, 2, bytes(16 * 1024, static_cast<std::uint8_t>(i)))});
        if (!out) break;
        ASSERT_EQ((*out)[0].outcome, SendOutcome::kStored);
        ++stored;
    }
    ASSERT_FALSE(out.ok()) << "the bound never filled";
    EXPECT_EQ(out.error().code, ErrorCode::kInternal);
    EXPECT_EQ(std::string(out.error().detail), "database or disk is full");
    ASSERT_GT(stored, 5u);

    // The failed batch left nothing: the queue holds exactly what was reported stored.
    EXPECT_EQ(*store->queue_depth(primary(2)), stored);
    auto rows = store->pending(primary(2), 0, 1000, kAnyBytes, 2'000);
    ASSERT_TRUE(rows.ok());
    ASSERT_EQ(rows->size(), stored);
    EXPECT_EQ(rows->back().id, message_id(stored));

    std::vector<MessageId> all;
    for (std::uint32_t i = 1; i <= stored; ++i) all.push_back(message_id(i));
    ASSERT_TRUE(ack_ids(*store, primary(2), all).ok());
    EXPECT_EQ(*store->queue_depth(primary(2)), 0u);
    // The id that failed, sent again: stored now, not taken for a duplicate.
    auto again = store->commit_sends({direct(stored + 1, 1, 2, bytes(16 * 1024, 0x77))});
    ASSERT_TRUE(again.ok()) << again.error().detail;
    EXPECT_EQ((*again)[0].outcome, SendOutcome::kStored);
}

// Not an assertion: prints how many 1:1 messages per second group commit sustains here.
TEST_F(SqliteQueue, CommitThroughputFigure) {
    constexpr int kSenders = 50;
    auto store = open_with_accounts(kSenders + 1, StoreLimits{1'000'000, 1'000});
    ASSERT_TRUE(store);
    constexpr std::uint32_t kBatch = 256;
    constexpr std::uint32_t kBatches = 40;
    std::uint32_t next = 1;
    auto batch_of = [&] {
        std::vector<Send> b;
        for (std::uint32_t i = 0; i < kBatch; ++i, ++next) {
            auto from = static_cast<std::uint8_t>(1 + next % kSenders);
            auto to = static_cast<std::uint8_t>(1 + (next + 7) % (kSenders + 1));
            b.push_back(direct(next, from, to, bytes(200, 0x42), 1'000, 1'000'000));
        }
        return b;
    };
    std::vector<std::vector<Send>> batches;
    for (std::uint32_t i = 0; i < kBatches; ++i) batches.push_back(batch_of());

    const auto start = std::chrono::steady_clock::now();
    for (const auto& b : batches) {
        auto out = store->commit_sends(b);
        ASSERT_TRUE(out.ok());
    }
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf(
        "[ figure   ] commit_sends: %u batches of %u 1:1 sends (200 B) in %.3f s = %.0f "
        "messages/s, %.2f ms per batch\n",
        kBatches, kBatch, s, kBatches * kBatch / s, 1000.0 * s / kBatches);

    // A group of 100 recipients per send: deliveries per second.
    std::vector<Send> groups;
    for (std::uint32_t g = 0; g < 20; ++g, ++next) {
        Send grp;
        grp.id = message_id(next);
        grp.sender = primary(1);
        grp.expires_ms = 1'000'000;
        grp.contents = {bytes(200, 0x43)};
        for (std::uint8_t i = 1; i <= kSenders; ++i) grp.deliveries.push_back({primary(i), 1, 0});
        groups.push_back(std::move(grp));
    }
    const auto gstart = std::chrono::steady_clock::now();
    ASSERT_TRUE(store->commit_sends(groups).ok());
    const double gs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - gstart).count();
    std::printf(
        "[ figure   ] commit_sends: 20 group sends x %d recipients in one batch: %.3f s = "
        "%.0f deliveries/s\n",
        kSenders, gs, 20.0 * kSenders / gs);

    // The seq of every queued row, as the server learns them when it pushes.
    std::map<std::pair<std::uint8_t, MessageId>, std::uint64_t> seq_of;
    for (std::uint8_t d = 1; d <= kSenders + 1; ++d) {
        auto rows = store->pending(primary(d), 0, 1'000'000, kAnyBytes, 0);
        ASSERT_TRUE(rows.ok());
        for (const QueuedMessage& m : *rows) seq_of[{d, m.id}] = m.seq;
    }
    const auto astart = std::chrono::steady_clock::now();
    constexpr std::uint32_t kAcks = 200;
    for (std::uint32_t i = 1; i <= kAcks; ++i) {
        auto to = static_cast<std::uint8_t>(1 + (i + 7) % (kSenders + 1));
        ASSERT_TRUE(store->acknowledge(primary(to), {seq_of.at({to, message_id(i)})}).ok());
    }
    const double as =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - astart).count();
    std::printf("[ figure   ] acknowledge: %u single acks in %.3f s = %.0f acks/s\n", kAcks, as,
                kAcks / as);

    // The rest acknowledged in windows of 256 ids per device.
    std::map<std::uint8_t, std::vector<std::uint64_t>> by_device;
    for (std::uint32_t i = kAcks + 1; i <= kBatches * kBatch; ++i) {
        auto to = static_cast<std::uint8_t>(1 + (i + 7) % (kSenders + 1));
        by_device[to].push_back(seq_of.at({to, message_id(i)}));
    }
    std::size_t acked = 0;
    const auto mstart = std::chrono::steady_clock::now();
    for (auto& [to, ids] : by_device) {
        for (std::size_t at = 0; at < ids.size(); at += 256) {
            std::vector<std::uint64_t> window(
                ids.begin() + static_cast<std::ptrdiff_t>(at),
                ids.begin() + static_cast<std::ptrdiff_t>(std::min(at + 256, ids.size())));
            ASSERT_TRUE(store->acknowledge(primary(to), window).ok());
            acked += window.size();
        }
    }
    const double ms =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - mstart).count();
    std::printf(
        "[ figure   ] acknowledge: %zu acks in windows of <= 256 in %.3f s = %.0f "
        "acks/s\n",
        acked, ms, static_cast<double>(acked) / ms);
    auto st = store->stats();
    EXPECT_EQ(st->queued_messages, 20u * kSenders);  // only the group messages are left
    EXPECT_EQ(st->stored_contents, 20u);
}

}  // namespace
}  // namespace pp::store::testing

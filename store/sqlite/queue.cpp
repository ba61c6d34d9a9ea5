// SqliteStore: per-device queues. commit_sends is the hot path: one write transaction per
// batch, cached statements, and device rows read once and written once per batch.
#include <algorithm>
#include <chrono>
#include <map>
#include <thread>
#include <utility>

#include "store/sqlite/db.hpp"
#include "store/sqlite/reader_pool.hpp"
#include "store/sqlite/rows.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace pp::store {

using sqlite::Connection;
using sqlite::Transaction;
using sqlite::view;

namespace {

// The queue counters of the devices a batch touches, read on first use and written back
// once before COMMIT, so a group send to N devices costs N inserts, not N updates as well.
class BatchDevices {
  public:
    struct State {
        std::int64_t did = 0;
        std::int64_t next_seq = 0;
        std::int64_t depth = 0;
        std::int64_t in_send = 0;  // deliveries of the send being checked
        bool dirty = false;
    };

    explicit BatchDevices(Connection& c) : c_(c) {}

    // nullptr when the device does not exist.
    Result<State*> get(const DeviceAddress& d) {
        auto key = std::make_pair(d.account, d.device);
        auto it = cache_.find(key);
        if (it != cache_.end()) return it->second ? &*it->second : nullptr;
        PP_TRY(s, c_.prepare("SELECT d.did, h.next_seq, h.depth FROM devices d "
                             "JOIN queue_heads h ON h.did = d.did "
                             "WHERE d.account = ?1 AND d.device = ?2"));
        s.bind_blob(1, view(d.account)).bind(2, d.device);
        PP_TRY(row, s.step());
        std::optional<State> st;
        if (row) st = State{s.int64(0), s.int64(1), s.int64(2), 0, false};
        auto& slot = cache_.emplace(key, st).first->second;
        return slot ? &*slot : nullptr;
    }

    Result<void> flush() {
        for (auto& [key, st] : cache_) {
            if (!st || !st->dirty) continue;
            PP_TRY(s,
                   c_.prepare("UPDATE queue_heads SET next_seq = ?2, depth = ?3 WHERE did = ?1"));
            s.bind(1, st->did).bind(2, st->next_seq).bind(3, st->depth);
            PP_TRY_VOID(s.run());
        }
        return {};
    }

  private:
    Connection& c_;
    std::map<std::pair<AccountId, DeviceId>, std::optional<State>> cache_;
};

Result<bool> already_sent(Connection& c, const DeviceAddress& sender, const MessageId& id) {
    PP_TRY(q, c.prepare("SELECT 1 FROM sent WHERE sender_account = ?1 AND sender_device = ?2 "
                        "AND msg_id = ?3"));
    q.bind_blob(1, view(sender.account)).bind(2, sender.device).bind_blob(3, view(id));
    return q.step();
}

// Writes one send inside the batch's transaction, or nothing at all for it.
Result<SendResult> commit_one(Connection& c, BatchDevices& devices, const Send& s,
                              std::size_t max_queue) {
    // Resolve and check every recipient queue first, in memory after the first touch.
    std::vector<BatchDevices::State*> to;
    to.reserve(s.deliveries.size());
    bool unknown = false;
    for (const Send::Delivery& d : s.deliveries) {
        PP_TRY(st, devices.get(d.to));
        if (st == nullptr)
            unknown = true;
        else
            ++st->in_send;
        to.push_back(st);
    }
    bool full = false;
    for (BatchDevices::State* st : to) {
        if (st == nullptr) continue;
        if (sqlite::to_size(st->depth + st->in_send) > max_queue) full = true;
    }
    for (BatchDevices::State* st : to) {
        if (st != nullptr) st->in_send = 0;
    }
    if (unknown || full) {
        // A retry of a send stored earlier is a duplicate even if its queue filled up since.
        PP_TRY(dup, already_sent(c, s.sender, s.id));
        if (dup) return SendResult{SendOutcome::kDuplicate, {}};
        return SendResult{unknown ? SendOutcome::kUnknownDevice : SendOutcome::kQueueFull, {}};
    }

    {
        PP_TRY(q, c.prepare("INSERT INTO sent (sender_account, sender_device, msg_id, "
                            "expires_ms) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING"));
        q.bind_blob(1, view(s.sender.account))
            .bind(2, s.sender.device)
            .bind_blob(3, view(s.id))
            .bind(4, s.expires_ms);
        PP_TRY_VOID(q.run());
        if (c.changes() == 0) return SendResult{SendOutcome::kDuplicate, {}};
    }

    // Each content once, with as many references as deliveries use it; unused ones are
    // not stored at all.
    std::vector<std::int64_t> refs(s.contents.size(), 0);
    for (const Send::Delivery& d : s.deliveries) ++refs[d.content_index];
    std::vector<std::int64_t> cids(s.contents.size(), 0);
    for (std::size_t i = 0; i < s.contents.size(); ++i) {
        if (refs[i] == 0) continue;
        PP_TRY(q, c.prepare("INSERT INTO contents (refs, data) VALUES (?1, ?2)"));
        q.bind(1, refs[i]).bind_blob(2, s.contents[i]);
        PP_TRY_VOID(q.run());
        cids[i] = c.last_insert_rowid();
    }

    SendResult stored{SendOutcome::kStored, {}};
    stored.seqs.reserve(s.deliveries.size());
    for (std::size_t i = 0; i < s.deliveries.size(); ++i) {
        const Send::Delivery& d = s.deliveries[i];
        BatchDevices::State& st = *to[i];
        PP_TRY(q, c.prepare("INSERT INTO queue (did, seq, msg_id, sender_account, sender_device, "
                            "type, cid, server_time_ms, expires_ms) "
                            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"));
        q.bind(1, st.did)
            .bind(2, st.next_seq)
            .bind_blob(3, view(s.id))
            .bind_blob(4, view(s.sender.account))
            .bind(5, s.sender.device)
            .bind(6, d.type)
            .bind(7, cids[d.content_index])
            .bind(8, s.now_ms)
            .bind(9, s.expires_ms);
        PP_TRY_VOID(q.run());
        stored.seqs.push_back(static_cast<std::uint64_t>(st.next_seq));
        ++st.next_seq;
        ++st.depth;
        st.dirty = true;
    }
    return stored;
}

}  // namespace

Result<std::vector<QueuedMessage>> SqliteStore::pending(const DeviceAddress& d,
                                                        std::uint64_t after_seq, std::size_t limit,
                                                        std::size_t max_bytes,
                                                        std::int64_t now_ms) {
    auto reader = readers_->acquire();
    Connection& c = *reader;
    PP_TRY(tx, Transaction::begin(c, Transaction::Kind::kRead));
    PP_TRY(did, sqlite::find_device(c, d));
    if (!did) return sqlite::no_device();
    PP_TRY(s, c.prepare("SELECT q.seq, q.msg_id, q.sender_account, q.sender_device, q.type, "
                        "c.data, q.server_time_ms FROM queue q JOIN contents c ON c.cid = q.cid "
                        "WHERE q.did = ?1 AND q.seq > ?2 AND q.expires_ms > ?3 "
                        "ORDER BY q.seq LIMIT ?4"));
    s.bind(1, *did).bind(2, sqlite::to_db(after_seq)).bind(3, now_ms).bind(4, sqlite::to_db(limit));
    std::vector<QueuedMessage> out;
    std::size_t bytes = 0;
    while (bytes < max_bytes) {
        PP_TRY(row, s.step());
        if (!row) break;
        QueuedMessage m;
        m.seq = static_cast<std::uint64_t>(s.int64(0));
        if (!s.blob_into(1, m.id) || !s.blob_into(2, m.sender.account)) {
            return sqlite::corrupt_row();
        }
        m.sender.device = sqlite::to_u32(s.int64(3));
        m.type = sqlite::to_u32(s.int64(4));
        m.content = s.blob(5);
        m.server_time_ms = s.int64(6);
        bytes += m.content.size();
        out.push_back(std::move(m));
    }
    return out;
}

namespace {

// Deletes one device's acknowledged rows inside the caller's transaction; returns how many.
Result<std::int64_t> delete_acked(Connection& c, std::int64_t did,
                                  const std::vector<std::uint64_t>& seqs) {
    std::map<std::int64_t, std::int64_t> per_content;
    std::int64_t gone = 0;
    for (std::uint64_t seq : seqs) {
        std::int64_t cid = 0;
        {
            PP_TRY(s, c.prepare("SELECT cid FROM queue WHERE did = ?1 AND seq = ?2"));
            s.bind(1, did).bind(2, sqlite::to_db(seq));
            PP_TRY(row, s.step());
            if (!row) continue;  // already gone: acknowledged before, or expired
            cid = s.int64(0);
        }
        // A plain DELETE by primary key: a single-row statement needs no statement journal,
        // which DELETE ... RETURNING did and which made acks ~10x slower.
        PP_TRY(s, c.prepare("DELETE FROM queue WHERE did = ?1 AND seq = ?2"));
        s.bind(1, did).bind(2, sqlite::to_db(seq));
        PP_TRY_VOID(s.run());
        ++per_content[cid];
        ++gone;
    }
    if (gone == 0) return gone;
    for (auto [cid, n] : per_content) PP_TRY_VOID(sqlite::release_content(c, cid, n));
    PP_TRY(s, c.prepare("UPDATE queue_heads SET depth = depth - ?2 WHERE did = ?1"));
    s.bind(1, did).bind(2, gone);
    PP_TRY_VOID(s.run());
    return gone;
}

}  // namespace

Result<void> SqliteStore::acknowledge(const DeviceAddress& d,
                                      const std::vector<std::uint64_t>& seqs) {
    std::lock_guard lock(write_mu_);
    Connection& c = *writer_;
    PP_TRY(tx, Transaction::begin(c, Transaction::Kind::kWrite));
    PP_TRY(did, sqlite::find_device(c, d));
    if (!did) return sqlite::no_device();
    PP_TRY(gone, delete_acked(c, *did, seqs));
    if (gone == 0) return {};  // unknown seqs: nothing written, nothing to commit
    return tx.commit();
}

Result<std::vector<SendResult>> SqliteStore::commit(const std::vector<Send>& sends,
                                                    const std::vector<DeviceAcks>& acks) {
    for (const Send& s : sends) {
        for (const Send::Delivery& d : s.deliveries) {
            if (d.content_index >= s.contents.size()) {
                return make_error(ErrorCode::kMalformed, "delivery names a missing content");
            }
        }
    }
    std::vector<SendResult> out;
    // Acks of ids a connection was never pushed name no rows: with no sends either, there is
    // nothing to write and no need for the write lock.
    const bool no_acks =
        std::all_of(acks.begin(), acks.end(), [](const DeviceAcks& a) { return a.seqs.empty(); });
    if (sends.empty() && no_acks) return out;
    out.reserve(sends.size());

    std::lock_guard lock(write_mu_);
    Connection& c = *writer_;
    PP_TRY(tx, Transaction::begin(c, Transaction::Kind::kWrite));
    bool wrote = false;
    {
        BatchDevices devices(c);
        for (const Send& s : sends) {
            PP_TRY(o, commit_one(c, devices, s, limits_.max_queue_messages));
            wrote = wrote || o.outcome == SendOutcome::kStored;
            out.push_back(std::move(o));
        }
        // Before the acks: their depth updates apply to the counters the sends left.
        PP_TRY_VOID(devices.flush());
    }
    for (const auto& a : acks) {
        if (a.seqs.empty()) continue;
        PP_TRY(did, sqlite::find_device(c, a.device));
        if (!did) continue;
        PP_TRY(gone, delete_acked(c, *did, a.seqs));
        wrote = wrote || gone > 0;
    }
    if (!wrote) return out;    // duplicates and stale acks only: the transaction rolls back
    PP_TRY_VOID(tx.commit());  // synchronous=FULL: durable when this returns
    return out;
}

Result<bool> SqliteStore::was_sent(const DeviceAddress& sender, const MessageId& id) {
    auto reader = readers_->acquire();
    return already_sent(*reader, sender, id);
}

Result<std::size_t> SqliteStore::queue_depth(const DeviceAddress& d) {
    auto reader = readers_->acquire();
    PP_TRY(s, reader->prepare("SELECT h.depth FROM devices d JOIN queue_heads h ON h.did = d.did "
                              "WHERE d.account = ?1 AND d.device = ?2"));
    s.bind_blob(1, view(d.account)).bind(2, d.device);
    PP_TRY(row, s.step());
    if (!row) return sqlite::no_device();
    return sqlite::to_size(s.int64(0));
}

namespace {

// Rows the expiry sweep deletes per transaction. The sweep holds the write lock, so the group
// committer waits for each chunk: a TTL reached by a large backlog at once (a busy day, a month
// ago) must not stall every send for the length of one huge transaction, nor grow the WAL by
// all of it before the next checkpoint.
constexpr std::int64_t kExpireChunk = 2'000;

}  // namespace

// One chunk of expired queue rows, with their contents' refcounts and their devices' depths,
// in one transaction. Returns how many rows went.
Result<std::size_t> SqliteStore::expire_queue_chunk(std::int64_t now_ms) {
    std::lock_guard lock(write_mu_);
    Connection& c = *writer_;
    PP_TRY(tx, Transaction::begin(c, Transaction::Kind::kWrite));
    std::map<std::int64_t, std::int64_t> per_device;
    std::map<std::int64_t, std::int64_t> per_content;
    std::size_t gone = 0;
    {
        PP_TRY(s, c.prepare("DELETE FROM queue WHERE (did, seq) IN (SELECT did, seq FROM queue "
                            "WHERE expires_ms <= ?1 ORDER BY expires_ms LIMIT ?2) "
                            "RETURNING did, cid"));
        s.bind(1, now_ms).bind(2, kExpireChunk);
        for (;;) {
            PP_TRY(row, s.step());
            if (!row) break;
            ++per_device[s.int64(0)];
            ++per_content[s.int64(1)];
            ++gone;
        }
    }
    for (auto [cid, n] : per_content) PP_TRY_VOID(sqlite::release_content(c, cid, n));
    for (auto [did, n] : per_device) {
        PP_TRY(s, c.prepare("UPDATE queue_heads SET depth = depth - ?2 WHERE did = ?1"));
        s.bind(1, did).bind(2, n);
        PP_TRY_VOID(s.run());
    }
    PP_TRY_VOID(tx.commit());
    return gone;
}

// One chunk of expired idempotency rows. True when it deleted a full chunk (more may follow).
Result<bool> SqliteStore::expire_sent_chunk(std::int64_t now_ms) {
    std::lock_guard lock(write_mu_);
    Connection& c = *writer_;
    PP_TRY(tx, Transaction::begin(c, Transaction::Kind::kWrite));
    PP_TRY(s, c.prepare("DELETE FROM sent WHERE (msg_id, sender_account, sender_device) IN "
                        "(SELECT msg_id, sender_account, sender_device FROM sent "
                        "WHERE expires_ms <= ?1 ORDER BY expires_ms LIMIT ?2)"));
    s.bind(1, now_ms).bind(2, kExpireChunk);
    PP_TRY_VOID(s.run());
    const std::int64_t deleted = c.changes();
    PP_TRY_VOID(tx.commit());
    return deleted >= kExpireChunk;
}

// In chunks, each its own transaction, taking the write lock afresh, so commits go on between
// them. A chunk that fails leaves the rest for the next sweep; nothing is half-deleted.
Result<std::size_t> SqliteStore::expire(std::int64_t now_ms, const KeepGoing& keep_going) {
    // A pause between chunks: std::mutex is not fair, and re-locking at once would usually
    // beat a committer that the unlock only just woke.
    const auto let_commits_in = [] { std::this_thread::sleep_for(std::chrono::milliseconds(1)); };
    std::size_t gone = 0;
    for (;;) {
        if (!keep_going()) return gone;
        PP_TRY(n, expire_queue_chunk(now_ms));
        gone += n;
        if (n < static_cast<std::size_t>(kExpireChunk)) break;
        let_commits_in();
    }
    for (;;) {
        if (!keep_going()) return gone;
        PP_TRY(more, expire_sent_chunk(now_ms));
        if (!more) break;
        let_commits_in();
    }
    return gone;
}

}  // namespace pp::store

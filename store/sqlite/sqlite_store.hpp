#pragma once
// The embedded Store backend: one SQLite file in WAL mode, zero setup.
//
// Durability: synchronous=FULL, so a send is acknowledged only after its commit is fsynced;
// commit() writes a whole batch in one transaction, so one fsync covers hundreds of sends.
// Concurrency: one writer connection behind a mutex, and a pool of read-only connections
// (store/sqlite/reader_pool.hpp). WAL lets reads (pending, account, stats) run while a commit
// waits on the disk, and readers never wait for each other. Another
// process may open the same file: writes take the lock with BEGIN IMMEDIATE and wait for it.
#include <memory>
#include <mutex>
#include <string>

#include "store/store.hpp"

namespace pp::store {

namespace sqlite {
class Connection;
class ReaderPool;
}  // namespace sqlite

class SqliteStore final : public Store {
  public:
    // Opens or creates the database file at `path` (a new file is created 0600) and migrates
    // its schema. kInvalidVersion for a file written by newer code; kMalformed for a file that
    // is not a database, is corrupt, or belongs to another program.
    // `readers`: read-only connections (at least one), one per thread that reads at the same
    // time; more threads only wait for a free one.
    static constexpr unsigned kDefaultReaders = 4;
    static Result<std::unique_ptr<SqliteStore>> open(const std::string& path,
                                                     StoreLimits limits = {},
                                                     unsigned readers = kDefaultReaders);
    ~SqliteStore() override;
    SqliteStore(const SqliteStore&) = delete;
    SqliteStore& operator=(const SqliteStore&) = delete;

    Result<void> create_account(const NewAccount& a) override;
    Result<Account> account(const AccountId& id) override;
    Result<AccountId> account_by_username(const std::string& name) override;
    Result<void> set_signed_prekey(const DeviceAddress& d, const SignedPreKey& k) override;
    Result<void> add_prekeys(const DeviceAddress& d, const std::vector<OneTimePreKey>& k) override;
    Result<std::size_t> count_prekeys(const DeviceAddress& d) override;
    Result<std::vector<Bundle>> take_bundles(const AccountId& id, bool take_prekeys) override;

    Result<std::vector<SendResult>> commit(const std::vector<Send>& sends,
                                           const std::vector<DeviceAcks>& acks) override;
    Result<std::vector<QueuedMessage>> pending(const DeviceAddress& d, std::uint64_t after_seq,
                                               std::size_t limit, std::size_t max_bytes,
                                               std::int64_t now_ms) override;
    Result<void> acknowledge(const DeviceAddress& d,
                             const std::vector<std::uint64_t>& seqs) override;
    Result<std::size_t> queue_depth(const DeviceAddress& d) override;
    Result<bool> was_sent(const DeviceAddress& sender, const MessageId& id) override;
    Result<std::size_t> expire(std::int64_t now_ms, const KeepGoing& keep_going) override;

    Result<void> add_invite(const std::string& code, std::int64_t now_ms) override;

    Result<Stats> stats() override;

  private:
    // expire() in chunks, each its own transaction under the write lock (queue.cpp).
    Result<std::size_t> expire_queue_chunk(std::int64_t now_ms);
    Result<bool> expire_sent_chunk(std::int64_t now_ms);
    SqliteStore(std::unique_ptr<sqlite::Connection> writer,
                std::unique_ptr<sqlite::ReaderPool> readers, StoreLimits limits);

    StoreLimits limits_;
    std::mutex write_mu_;
    std::unique_ptr<sqlite::Connection> writer_;   // guarded by write_mu_
    std::unique_ptr<sqlite::ReaderPool> readers_;  // query_only connections
};

}  // namespace pp::store

#pragma once
// A thin RAII layer over the SQLite C API, private to store/sqlite: a connection that caches
// its prepared statements, a statement handle that resets itself, and a transaction that rolls
// back unless committed. No third-party wrapper: this is all of SQLite the store needs.
#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "base/bytes.hpp"
#include "base/result.hpp"

namespace pp::store::sqlite {

// Maps a SQLite result code to an Error. `detail` must be a static string: SQLite's own
// messages can quote SQL values, so they never reach an Error.
Error db_error(int rc, std::string_view detail);

// A borrowed, cached statement. Destruction resets it and clears its bindings, so the next
// user starts clean and no bound blob pointer outlives its buffer.
class Stmt {
  public:
    explicit Stmt(sqlite3_stmt* s) : s_(s) {}
    Stmt(Stmt&& o) noexcept : s_(std::exchange(o.s_, nullptr)), bind_rc_(o.bind_rc_) {}
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    Stmt& operator=(Stmt&&) = delete;
    ~Stmt();

    // 1-based indexes, as in SQLite. Blobs and text are bound without a copy (SQLITE_STATIC):
    // the caller's buffer must outlive the last step. A binding error surfaces at step().
    Stmt& bind(int i, std::int64_t v);
    Stmt& bind_blob(int i, ByteView v);
    Stmt& bind_text(int i, std::string_view v);
    Stmt& bind_null(int i);

    Result<bool> step();  // true: a row is ready; false: done
    Result<void> run();   // one step that must finish the statement (DML without RETURNING)

    std::int64_t int64(int col) const { return sqlite3_column_int64(s_, col); }
    bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
    Bytes blob(int col) const;
    std::string text(int col) const;
    // Copies a fixed-size blob (ids); false when the stored size differs.
    bool blob_into(int col, std::span<std::uint8_t> out) const;

  private:
    sqlite3_stmt* s_;
    int bind_rc_ = SQLITE_OK;
};

class Connection {
  public:
    static Result<std::unique_ptr<Connection>> open(const std::string& path);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // `sql` must be a string literal: its address is the cache key, so the hot path never
    // hashes or re-parses SQL. Only one Stmt per literal may be alive at a time.
    Result<Stmt> prepare(const char* sql);
    // Uncached; may hold several statements; rows are discarded. For pragmas and migrations.
    Result<void> exec(const char* sql);

    std::int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
    std::int64_t changes() const { return sqlite3_changes64(db_); }
    bool in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

  private:
    explicit Connection(sqlite3* db) : db_(db) {}
    sqlite3* db_;
    std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

// BEGIN IMMEDIATE (kWrite) takes the write lock up front, so a transaction that reads then
// writes never dies with SQLITE_BUSY halfway; BEGIN (kRead) gives one consistent snapshot.
class Transaction {
  public:
    enum class Kind : std::uint8_t { kRead, kWrite };
    static Result<Transaction> begin(Connection& c, Kind kind);
    Transaction(Transaction&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    Transaction& operator=(Transaction&&) = delete;
    ~Transaction();  // rolls back unless committed

    // Returns only once SQLite reports the commit done (durable under synchronous=FULL).
    Result<void> commit();

  private:
    explicit Transaction(Connection* c) : c_(c) {}
    Connection* c_;
};

}  // namespace pp::store::sqlite

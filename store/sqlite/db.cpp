#include "store/sqlite/db.hpp"

#include <algorithm>

namespace pp::store::sqlite {

Error db_error(int rc, std::string_view detail) {
    switch (rc & 0xff) {
        case SQLITE_NOTADB:
        case SQLITE_CORRUPT:
            return make_error(ErrorCode::kMalformed, "database file is corrupt or not a database");
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            return make_error(ErrorCode::kInternal, "database is locked by another writer");
        case SQLITE_FULL:
            // kInternal, not kLimitExceeded: callers read that as a refusal by rule ("server
            // busy", "username taken") and would hide a full disk from the operator.
            return make_error(ErrorCode::kInternal, "database or disk is full");
        case SQLITE_CANTOPEN:
            return make_error(ErrorCode::kInternal, "cannot open database file");
        case SQLITE_READONLY:
        case SQLITE_PERM:
            return make_error(ErrorCode::kInternal, "database file is not writable");
        default:
            return make_error(ErrorCode::kInternal, detail);
    }
}

Stmt::~Stmt() {
    if (s_ != nullptr) {
        sqlite3_reset(s_);
        sqlite3_clear_bindings(s_);
    }
}

Stmt& Stmt::bind(int i, std::int64_t v) {
    int rc = sqlite3_bind_int64(s_, i, v);
    if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
    return *this;
}

Stmt& Stmt::bind_blob(int i, ByteView v) {
    // A null pointer would bind SQL NULL, not an empty blob, and break NOT NULL columns.
    int rc = v.empty() ? sqlite3_bind_zeroblob(s_, i, 0)
                       : sqlite3_bind_blob64(s_, i, v.data(), v.size(), SQLITE_STATIC);
    if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
    return *this;
}

Stmt& Stmt::bind_text(int i, std::string_view v) {
    int rc =
        sqlite3_bind_text64(s_, i, v.empty() ? "" : v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8);
    if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
    return *this;
}

Stmt& Stmt::bind_null(int i) {
    int rc = sqlite3_bind_null(s_, i);
    if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
    return *this;
}

Result<bool> Stmt::step() {
    if (bind_rc_ != SQLITE_OK) return db_error(bind_rc_, "sqlite: bind failed");
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return db_error(rc, "sqlite: statement failed");
}

Result<void> Stmt::run() {
    PP_TRY(row, step());
    if (row) return make_error(ErrorCode::kInternal, "sqlite: statement returned rows");
    return {};
}

Bytes Stmt::blob(int col) const {
    const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(s_, col));
    auto n = static_cast<std::size_t>(sqlite3_column_bytes(s_, col));
    if (p == nullptr || n == 0) return {};
    return Bytes(p, p + n);
}

std::string Stmt::text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    auto n = static_cast<std::size_t>(sqlite3_column_bytes(s_, col));
    if (p == nullptr) return {};
    return std::string(p, n);
}

bool Stmt::blob_into(int col, std::span<std::uint8_t> out) const {
    const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(s_, col));
    auto n = static_cast<std::size_t>(sqlite3_column_bytes(s_, col));
    if (p == nullptr || n != out.size()) return false;
    std::copy(p, p + n, out.begin());
    return true;
}

Result<std::unique_ptr<Connection>> Connection::open(const std::string& path) {
    sqlite3* db = nullptr;
    // NOMUTEX: the store serialises each connection with its own mutex.
    int rc =
        sqlite3_open_v2(path.c_str(), &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        sqlite3_close(db);
        return db_error(rc, "sqlite: open failed");
    }
    auto c = std::unique_ptr<Connection>(new Connection(db));
    // Waits out a writer in another process instead of failing at once.
    sqlite3_busy_timeout(db, 5000);
    // Refuses writes that can corrupt the file on purpose (writable_schema and friends).
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
    return c;
}

Connection::~Connection() {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    sqlite3_close(db_);
}

Result<Stmt> Connection::prepare(const char* sql) {
    auto it = cache_.find(sql);
    if (it != cache_.end()) return Stmt(it->second);
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
    if (rc != SQLITE_OK || s == nullptr) {
        sqlite3_finalize(s);
        return db_error(rc == SQLITE_OK ? SQLITE_ERROR : rc, "sqlite: prepare failed");
    }
    cache_.emplace(sql, s);
    return Stmt(s);
}

Result<void> Connection::exec(const char* sql) {
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return db_error(rc, "sqlite: exec failed");
    return {};
}

namespace {
// One pointer for both uses: the statement cache is keyed by the SQL text's address.
constexpr const char* kRollback = "ROLLBACK";
}  // namespace

Result<Transaction> Transaction::begin(Connection& c, Kind kind) {
    // Cached before the transaction starts, so the destructor finds it without allocating.
    PP_TRY_VOID(c.prepare(kRollback));
    PP_TRY(s, c.prepare(kind == Kind::kWrite ? "BEGIN IMMEDIATE" : "BEGIN"));
    PP_TRY_VOID(s.run());
    return Transaction(&c);
}

Transaction::~Transaction() {
    // SQLite may already have rolled back on its own (SQLITE_FULL, SQLITE_IOERR).
    if (c_ == nullptr || !c_->in_transaction()) return;
    // Read transactions end here too, so the statement is the cached one (begin() put it
    // there): a lookup that allocates nothing. A destructor that threw (out of memory, a
    // likely reason to be rolling back) would end the process.
    auto s = c_->prepare(kRollback);
    if (s) (void)s->run();
}

Result<void> Transaction::commit() {
    PP_TRY(s, c_->prepare("COMMIT"));
    PP_TRY_VOID(s.run());
    c_ = nullptr;
    return {};
}

}  // namespace pp::store::sqlite

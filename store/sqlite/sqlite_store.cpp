// SqliteStore: opening the file, accounts, invites and stats. Prekeys live in prekeys.cpp,
// queues in queue.cpp.
#include "store/sqlite/sqlite_store.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <algorithm>
#include <cstdint>
#include <string>

#include "store/sqlite/db.hpp"
#include "store/sqlite/reader_pool.hpp"
#include "store/sqlite/rows.hpp"
#include "store/sqlite/schema.hpp"

namespace pp::store {

using sqlite::Connection;
using sqlite::Transaction;
using sqlite::view;

namespace {

// SQLite creates files 0644 (less umask); the store holds who talks to whom, so the file is
// created 0600 before SQLite opens it. The -wal and -shm files inherit the database's mode.
Result<void> create_private_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return make_error(ErrorCode::kInternal, "cannot create database file");
    ::close(fd);
    return {};
}

Result<std::unique_ptr<Connection>> open_writer(const std::string& path,
                                                std::uint64_t max_database_bytes) {
    PP_TRY(c, Connection::open(path));
    // The first read of the file: garbage fails here, and a newer schema is refused before
    // anything (even the journal mode) is changed.
    PP_TRY(version, sqlite::read_user_version(*c));
    if (version > sqlite::schema_version()) {
        return make_error(ErrorCode::kInvalidVersion,
                          "database schema is newer than this server: upgrade the server");
    }
    PP_TRY_VOID(c->exec("PRAGMA foreign_keys = ON"));
    PP_TRY_VOID(c->exec("PRAGMA synchronous = FULL"));
    // Sends scatter over many devices' B-tree pages: a 64 MiB page cache (default 2 MiB)
    // keeps them in memory instead of re-reading them from the WAL.
    PP_TRY_VOID(c->exec("PRAGMA cache_size = -65536"));
    PP_TRY_VOID(sqlite::migrate(*c));
    if (max_database_bytes > 0) {
        PP_TRY(s, c->prepare("PRAGMA page_size"));
        PP_TRY(row, s.step());
        if (!row) return make_error(ErrorCode::kInternal, "page_size returned nothing");
        const auto page = static_cast<std::uint64_t>(s.int64(0));
        const std::uint64_t pages = std::max<std::uint64_t>(1, max_database_bytes / page);
        const std::string pragma = "PRAGMA max_page_count = " + std::to_string(pages);
        PP_TRY_VOID(c->exec(pragma.c_str()));
    }
    // The WAL is reused from its start after each checkpoint, but keeps the size of its
    // largest run (a long read held back checkpoints, a burst): past this it is cut back after
    // the next checkpoint, so a one-off spike does not hold the disk for good.
    PP_TRY_VOID(c->exec("PRAGMA journal_size_limit = 67108864"));
    {
        PP_TRY(s, c->prepare("PRAGMA journal_mode = WAL"));
        PP_TRY(row, s.step());
        if (!row || s.text(0) != "wal") {
            return make_error(ErrorCode::kInternal, "database cannot use WAL journal mode");
        }
    }
    return c;
}

Result<std::unique_ptr<Connection>> open_reader(const std::string& path) {
    PP_TRY(c, Connection::open(path));
    PP_TRY_VOID(c->exec("PRAGMA query_only = ON"));
    return c;
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path, StoreLimits limits,
                                                       unsigned reader_count) {
    PP_TRY_VOID(create_private_file(path));
    PP_TRY(writer, open_writer(path, limits.max_database_bytes));
    std::vector<std::unique_ptr<Connection>> readers;
    const unsigned n = std::max(reader_count, 1U);
    for (unsigned i = 0; i < n; ++i) {
        PP_TRY(reader, open_reader(path));
        readers.push_back(std::move(reader));
    }
    return std::unique_ptr<SqliteStore>(new SqliteStore(
        std::move(writer), std::make_unique<sqlite::ReaderPool>(std::move(readers)), limits));
}

SqliteStore::SqliteStore(std::unique_ptr<Connection> writer,
                         std::unique_ptr<sqlite::ReaderPool> readers, StoreLimits limits)
    : limits_(limits), writer_(std::move(writer)), readers_(std::move(readers)) {}

SqliteStore::~SqliteStore() = default;

Result<void> SqliteStore::create_account(const NewAccount& a) {
    if (a.prekeys.size() > limits_.max_prekeys_per_device) {
        return make_error(ErrorCode::kLimitExceeded, "too many one-time prekeys");
    }
    std::lock_guard lock(write_mu_);
    Connection& c = *writer_;
    PP_TRY(tx, Transaction::begin(c, Transaction::Kind::kWrite));
    {
        PP_TRY(s, c.prepare("SELECT 1 FROM accounts WHERE id = ?1"));
        s.bind_blob(1, view(a.account));
        PP_TRY(row, s.step());
        if (row) return make_error(ErrorCode::kLimitExceeded, "account id exists");
    }
    if (a.username) {
        PP_TRY(s, c.prepare("SELECT 1 FROM accounts WHERE username = ?1"));
        s.bind_text(1, *a.username);
        PP_TRY(row, s.step());
        if (row) return make_error(ErrorCode::kLimitExceeded, "username taken");
    }
    {
        PP_TRY(s, c.prepare("INSERT INTO accounts (id, identity_key, username, created_ms) "
                            "VALUES (?1, ?2, ?3, ?4)"));
        s.bind_blob(1, view(a.account)).bind_blob(2, a.identity_key).bind(4, a.now_ms);
        if (a.username) s.bind_text(3, *a.username);
        PP_TRY_VOID(s.run());
    }
    std::int64_t did = 0;
    {
        PP_TRY(s, c.prepare("INSERT INTO devices (account, device, registration_id, spk_id, "
                            "spk_public, spk_signature) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
        s.bind_blob(1, view(a.account))
            .bind(2, kPrimaryDevice)
            .bind(3, a.registration_id)
            .bind(4, a.signed_prekey.id)
            .bind_blob(5, a.signed_prekey.public_key)
            .bind_blob(6, a.signed_prekey.signature);
        PP_TRY_VOID(s.run());
        did = c.last_insert_rowid();
    }
    {
        PP_TRY(s, c.prepare("INSERT INTO queue_heads (did, next_seq, depth) VALUES (?1, 1, 0)"));
        s.bind(1, did);
        PP_TRY_VOID(s.run());
    }
    for (const OneTimePreKey& k : a.prekeys) {
        PP_TRY(s, c.prepare("INSERT OR REPLACE INTO prekeys (did, id, public_key) "
                            "VALUES (?1, ?2, ?3)"));
        s.bind(1, did).bind(2, k.id).bind_blob(3, k.public_key);
        PP_TRY_VOID(s.run());
    }
    if (a.invite_code) {
        // Consumed in the same transaction as the account: two registrations racing for one
        // code cannot both succeed, and a failed registration leaves the code open.
        PP_TRY(s, c.prepare("UPDATE invites SET used_by = ?1, used_ms = ?2 "
                            "WHERE code = ?3 AND used_ms IS NULL"));
        s.bind_blob(1, view(a.account)).bind(2, a.now_ms).bind_text(3, *a.invite_code);
        PP_TRY_VOID(s.run());
        if (c.changes() != 1) {
            return make_error(ErrorCode::kLimitExceeded, "invite code unknown or used");
        }
    }
    return tx.commit();
}

Result<Account> SqliteStore::account(const AccountId& id) {
    auto reader = readers_->acquire();
    Connection& c = *reader;
    PP_TRY(tx, Transaction::begin(c, Transaction::Kind::kRead));
    Account out;
    out.id = id;
    {
        PP_TRY(s, c.prepare("SELECT identity_key, username FROM accounts WHERE id = ?1"));
        s.bind_blob(1, view(id));
        PP_TRY(row, s.step());
        if (!row) return make_error(ErrorCode::kNoSession, "unknown account");
        out.identity_key = s.blob(0);
        if (!s.is_null(1)) out.username = s.text(1);
    }
    PP_TRY(s, c.prepare("SELECT device, registration_id FROM devices WHERE account = ?1 "
                        "ORDER BY device"));
    s.bind_blob(1, view(id));
    for (;;) {
        PP_TRY(row, s.step());
        if (!row) break;
        out.devices.push_back(Device{sqlite::to_u32(s.int64(0)), sqlite::to_u32(s.int64(1))});
    }
    return out;
}

Result<AccountId> SqliteStore::account_by_username(const std::string& name) {
    auto reader = readers_->acquire();
    PP_TRY(s, reader->prepare("SELECT id FROM accounts WHERE username = ?1"));
    s.bind_text(1, name);
    PP_TRY(row, s.step());
    if (!row) return make_error(ErrorCode::kNoSession, "unknown username");
    AccountId id{};
    if (!s.blob_into(0, id)) return sqlite::corrupt_row();
    return id;
}

Result<void> SqliteStore::add_invite(const std::string& code, std::int64_t now_ms) {
    std::lock_guard lock(write_mu_);
    PP_TRY(s, writer_->prepare("INSERT INTO invites (code, created_ms) VALUES (?1, ?2) "
                               "ON CONFLICT DO NOTHING"));
    s.bind_text(1, code).bind(2, now_ms);
    PP_TRY_VOID(s.run());
    if (writer_->changes() != 1) {
        return make_error(ErrorCode::kLimitExceeded, "invite code exists");
    }
    return {};
}

Result<Stats> SqliteStore::stats() {
    auto reader = readers_->acquire();
    Connection& c = *reader;
    PP_TRY(tx, Transaction::begin(c, Transaction::Kind::kRead));
    PP_TRY(s, c.prepare("SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM devices), "
                        "(SELECT count(*) FROM queue), (SELECT count(*) FROM contents), "
                        "(SELECT count(*) FROM invites WHERE used_ms IS NULL), "
                        "(SELECT page_count * page_size FROM pragma_page_count, pragma_page_size), "
                        "(SELECT freelist_count * page_size FROM pragma_freelist_count, "
                        "pragma_page_size)"));
    PP_TRY(row, s.step());
    if (!row) return make_error(ErrorCode::kInternal, "sqlite: stats returned nothing");
    auto u = [&](int col) { return static_cast<std::uint64_t>(s.int64(col)); };
    return Stats{u(0), u(1), u(2), u(3), u(4), u(5), u(6), limits_.max_database_bytes};
}

}  // namespace pp::store

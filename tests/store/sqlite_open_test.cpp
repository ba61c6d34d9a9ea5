// Opening the database file: migrations, file mode, journal mode, refusing files we must not
// touch, and everything surviving a close and reopen.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <fstream>

#include "store/sqlite/schema.hpp"
#include "tests/store/store_fixture.hpp"

namespace pp::store::testing {
namespace {

const Store::KeepGoing kAll = [] { return true; };

// Runs one statement on the file directly, bypassing the store; returns the first column.
std::int64_t raw_query(const std::string& path, const char* sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &s, nullptr), SQLITE_OK);
    std::int64_t v = -1;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
    EXPECT_TRUE(rc == SQLITE_ROW || rc == SQLITE_DONE);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

// Leaves a database file as a server at schema `version` would have: migrated that far, with
// `rows` written by that version's statements.
void write_at_version(const std::string& path, std::int64_t version, const char* rows) {
    auto c = sqlite::Connection::open(path);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(sqlite::migrate(**c, version).ok());
    ASSERT_TRUE((*c)->exec(rows).ok());
}

class SqliteOpen : public StoreTest {};

TEST_F(SqliteOpen, FreshDatabaseIsMigratedPrivateAndInWalMode) {
    auto store = open();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->create_account(new_account(1)).ok());
    // Checked before any other connection opens the file: the last one to close removes -wal.
    struct stat st {};
    ASSERT_EQ(::stat(db_path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_EQ(::stat((db_path() + "-wal").c_str(), &st), 0);  // the write went to the WAL
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(raw_query(db_path(), "PRAGMA user_version"), sqlite::schema_version());
    EXPECT_EQ(raw_query(db_path(), "PRAGMA application_id"), sqlite::kApplicationId);
    EXPECT_EQ(raw_query(db_path(), "SELECT count(*) FROM sqlite_schema WHERE name = 'queue'"), 1);
}

TEST_F(SqliteOpen, ReopenKeepsEverything) {
    {
        auto store = open();
        ASSERT_TRUE(store);
        NewAccount a = new_account(1, 3);
        a.username = "alice";
        ASSERT_TRUE(store->create_account(a).ok());
        ASSERT_TRUE(store->create_account(new_account(2)).ok());
        ASSERT_TRUE(store->add_invite("open-invite", 1).ok());
        auto out = store->commit_sends({direct(1, 2, 1, bytes(40, 0xC1))});
        ASSERT_TRUE(out.ok());
    }
    auto store = open();
    ASSERT_TRUE(store);
    EXPECT_EQ(raw_query(db_path(), "PRAGMA user_version"), sqlite::schema_version());
    auto by_name = store->account_by_username("alice");
    ASSERT_TRUE(by_name.ok());
    EXPECT_EQ(*by_name, account_id(1));
    EXPECT_EQ(*store->count_prekeys(primary(1)), 3u);
    auto msgs = store->pending(primary(1), 0, 10, kAnyBytes, 2'000);
    ASSERT_TRUE(msgs.ok());
    ASSERT_EQ(msgs->size(), 1u);
    EXPECT_EQ((*msgs)[0].content, bytes(40, 0xC1));
    auto st = store->stats();
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->accounts, 2u);
    EXPECT_EQ(st->queued_messages, 1u);
    EXPECT_EQ(st->invites_open, 1u);
    // The retry of the send before the restart is still recognised.
    auto again = store->commit_sends({direct(1, 2, 1, bytes(40, 0xC1))});
    ASSERT_TRUE(again.ok());
    EXPECT_EQ((*again)[0].outcome, SendOutcome::kDuplicate);
}

// A file written by the first schema is upgraded in place: its queue, counters and
// idempotency rows carry over, the queue goes on from the seq it had reached, the index
// migration 2 drops is gone, and the idempotency rows are keyed by message id first
// (migration 3).
TEST_F(SqliteOpen, VersionOneDatabaseIsUpgraded) {
    {
        // What a version-1 server stored for account 1 (device did 1) after a message from
        // account 2 at seq 4 (three earlier ones acknowledged).
        write_at_version(db_path(), 1, R"sql(
INSERT INTO accounts (id, identity_key, created_ms) VALUES
    (x'01010101010101010101010101010101', x'05', 1),
    (x'02020202020202020202020202020202', x'05', 1);
INSERT INTO devices (did, account, device, registration_id, spk_id, spk_public, spk_signature,
                     next_seq, depth) VALUES
    (1, x'01010101010101010101010101010101', 1, 1001, 7, x'05', x'00', 5, 1),
    (2, x'02020202020202020202020202020202', 1, 1002, 7, x'05', x'00', 1, 0);
INSERT INTO contents (cid, refs, data) VALUES (1, 1, x'c2c2c2');
INSERT INTO queue (did, seq, msg_id, sender_account, sender_device, type, cid, server_time_ms,
                   expires_ms) VALUES
    (1, 4, x'09000000000000000000000000000000', x'02020202020202020202020202020202', 1, 3, 1,
     1000, 1000000);
INSERT INTO sent (sender_account, sender_device, msg_id, expires_ms) VALUES
    (x'02020202020202020202020202020202', 1, x'09000000000000000000000000000000', 1000000);
)sql");
        ASSERT_FALSE(HasFatalFailure());
        EXPECT_EQ(raw_query(db_path(), "PRAGMA user_version"), 1);
    }
    auto store = open();
    ASSERT_TRUE(store);
    EXPECT_EQ(raw_query(db_path(), "PRAGMA user_version"), sqlite::schema_version());
    EXPECT_EQ(
        raw_query(db_path(), "SELECT count(*) FROM sqlite_schema WHERE name = 'queue_by_msg_id'"),
        0);
    EXPECT_EQ(raw_query(db_path(),
                        "SELECT count(*) FROM pragma_table_info('devices') "
                        "WHERE name IN ('next_seq', 'depth')"),
              0);
    EXPECT_EQ(
        raw_query(db_path(), "SELECT pk FROM pragma_table_info('sent') WHERE name = 'msg_id'"), 1);
    EXPECT_EQ(
        raw_query(db_path(), "SELECT count(*) FROM sqlite_schema WHERE name = 'sent_by_expiry'"),
        1);
    EXPECT_EQ(raw_query(db_path(), "SELECT count(*) FROM sent"), 1);
    EXPECT_EQ(*store->queue_depth(primary(1)), 1u);
    // The retry of the old send is still a duplicate; a new one queues after seq 4.
    auto out =
        store->commit_sends({direct(9, 2, 1, bytes(3, 0xC2)), direct(10, 2, 1, bytes(3, 0xC3))});
    ASSERT_TRUE(out.ok());
    EXPECT_EQ((*out)[0].outcome, SendOutcome::kDuplicate);
    ASSERT_EQ((*out)[1].outcome, SendOutcome::kStored);
    EXPECT_EQ((*out)[1].seqs, std::vector<std::uint64_t>{5});
    auto msgs = store->pending(primary(1), 0, 10, kAnyBytes, 2'000);
    ASSERT_TRUE(msgs.ok());
    ASSERT_EQ(msgs->size(), 2u);
    EXPECT_EQ((*msgs)[0].seq, 4u);
    EXPECT_EQ((*msgs)[0].content, bytes(3, 0xC2));
    EXPECT_EQ((*msgs)[1].seq, 5u);
    EXPECT_EQ(*store->queue_depth(primary(1)), 2u);
    // Accounts made after the upgrade get their counters too.
    ASSERT_TRUE(store->create_account(new_account(3)).ok());
    auto first = store->commit_sends({direct(11, 2, 3, bytes(3, 0xC4))});
    ASSERT_TRUE(first.ok());
    EXPECT_EQ((*first)[0].seqs, std::vector<std::uint64_t>{1});
}

// A file at version 2 gets migration 3: every idempotency row carries over with its expiry,
// so retries are still recognised and the sweep still removes rows when they expire.
TEST_F(SqliteOpen, VersionTwoIdempotencyRowsCarryOver) {
    {
        write_at_version(db_path(), 2, R"sql(
INSERT INTO accounts (id, identity_key, created_ms) VALUES
    (x'01010101010101010101010101010101', x'05', 1),
    (x'02020202020202020202020202020202', x'05', 1);
INSERT INTO devices (did, account, device, registration_id, spk_id, spk_public, spk_signature)
    VALUES (1, x'01010101010101010101010101010101', 1, 1001, 7, x'05', x'00'),
           (2, x'02020202020202020202020202020202', 1, 1002, 7, x'05', x'00');
INSERT INTO queue_heads (did, next_seq, depth) VALUES (1, 1, 0), (2, 1, 0);
INSERT INTO sent (sender_account, sender_device, msg_id, expires_ms) VALUES
    (x'02020202020202020202020202020202', 1, x'09000000000000000000000000000000', 1000000),
    (x'02020202020202020202020202020202', 1, x'0a000000000000000000000000000000', 5000);
)sql");
        ASSERT_FALSE(HasFatalFailure());
    }
    auto store = open();
    ASSERT_TRUE(store);
    EXPECT_EQ(raw_query(db_path(), "PRAGMA user_version"), sqlite::schema_version());
    EXPECT_EQ(raw_query(db_path(),
                        "SELECT expires_ms FROM sent "
                        "WHERE msg_id = x'0a000000000000000000000000000000'"),
              5000);
    auto out =
        store->commit_sends({direct(9, 2, 1, bytes(3, 0xC2)), direct(10, 2, 1, bytes(3, 0xC3))});
    ASSERT_TRUE(out.ok());
    EXPECT_EQ((*out)[0].outcome, SendOutcome::kDuplicate);
    EXPECT_EQ((*out)[1].outcome, SendOutcome::kDuplicate);
    // Past its expiry the row is swept, and the id is new again; the other is kept.
    ASSERT_TRUE(store->expire(6'000, kAll).ok());
    EXPECT_EQ(raw_query(db_path(), "SELECT count(*) FROM sent"), 1);
    auto later = store->commit_sends(
        {direct(9, 2, 1, bytes(3, 0xC2), 6'000), direct(10, 2, 1, bytes(3, 0xC3), 6'000)});
    ASSERT_TRUE(later.ok());
    EXPECT_EQ((*later)[0].outcome, SendOutcome::kDuplicate);
    EXPECT_EQ((*later)[1].outcome, SendOutcome::kStored);
}

TEST_F(SqliteOpen, NewerSchemaIsRefusedAndLeftUntouched) {
    { ASSERT_TRUE(open()); }
    const auto future = sqlite::schema_version() + 1;
    const std::string set = "PRAGMA user_version = " + std::to_string(future);
    raw_query(db_path(), set.c_str());
    auto s = SqliteStore::open(db_path());
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidVersion);
    EXPECT_NE(s.error().detail.find("newer"), std::string_view::npos);
    EXPECT_EQ(raw_query(db_path(), "PRAGMA user_version"), future);
}

TEST_F(SqliteOpen, GarbageFileIsRefusedAsNotADatabase) {
    {
        std::ofstream f(db_path(), std::ios::binary);
        for (int i = 0; i < 200; ++i) f << "this is not a database, just some text. ";
    }
    auto s = SqliteStore::open(db_path());
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ErrorCode::kMalformed);
    EXPECT_NE(s.error().detail.find("not a database"), std::string_view::npos);
}

TEST_F(SqliteOpen, CorruptedPagesAreReported) {
    {
        auto store = open();
        ASSERT_TRUE(store);
        for (std::uint8_t i = 1; i <= 20; ++i)
            ASSERT_TRUE(store->create_account(new_account(i, 50)).ok());
    }
    // Keep the 100-byte header valid, scribble over everything after the first page.
    {
        std::fstream f(db_path(), std::ios::binary | std::ios::in | std::ios::out);
        f.seekp(4096);
        for (int i = 0; i < 4096 * 8; ++i) f.put(static_cast<char>(0xA5));
    }
    auto s = SqliteStore::open(db_path());
    if (s.ok()) {
        // Opening may only touch page 1; reading the damaged pages must then fail cleanly.
        auto st = (*s)->stats();
        ASSERT_FALSE(st.ok());
        EXPECT_EQ(st.error().code, ErrorCode::kMalformed);
    } else {
        EXPECT_EQ(s.error().code, ErrorCode::kMalformed);
    }
}

TEST_F(SqliteOpen, AnotherProgramsDatabaseIsRefused) {
    raw_query(db_path(), "CREATE TABLE notes (body TEXT)");
    auto s = SqliteStore::open(db_path());
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ErrorCode::kMalformed);
    EXPECT_EQ(raw_query(db_path(), "SELECT count(*) FROM sqlite_schema"), 1);
}

TEST_F(SqliteOpen, MissingDirectoryIsAnError) {
    auto s = SqliteStore::open((dir_.path() / "no" / "such" / "dir.db").string());
    ASSERT_FALSE(s.ok());
}

}  // namespace
}  // namespace pp::store::testing

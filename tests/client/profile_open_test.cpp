// Creating and opening profiles: files and modes, key file and passphrase, refusals that must
// leave the profile untouched.
#include <sqlite3.h>
#include <sys/stat.h>

#include <set>

#include "client/profile/schema.hpp"
#include "profile_fixture.hpp"

namespace pp::client {
namespace {

using namespace testing;
namespace fs = std::filesystem;

std::set<std::string> listing(const fs::path& dir) {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
    return out;
}

void sql(const fs::path& db, const char* statement) {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(h, statement, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(h);
}

TEST(ProfileOpen, CreateMakesPrivateFiles) {
    TempDir tmp;
    EXPECT_FALSE(ProfileStore::exists(tmp.profile()));
    auto store = must(ProfileStore::create(tmp.profile(), std::nullopt));
    ASSERT_TRUE(store);
    EXPECT_TRUE(ProfileStore::exists(tmp.profile()));
    EXPECT_EQ(mode_of(tmp.profile()), 0700u);
    EXPECT_EQ(mode_of(tmp.profile() / "profile.key"), 0600u);
    EXPECT_EQ(mode_of(tmp.profile() / "profile.db"), 0600u);
    EXPECT_EQ(read_file(tmp.profile() / "profile.key").size(), 32u);
    EXPECT_FALSE(fs::exists(tmp.profile() / "profile.key.tmp"));
    Bytes header = read_file(tmp.profile() / "profile.db");
    ASSERT_GT(header.size(), 20u);
    EXPECT_EQ(header[18], 2);  // WAL
    EXPECT_EQ(header[19], 2);
}

TEST(ProfileOpen, ExistingDirectoryIsTightened) {
    TempDir tmp;
    fs::create_directories(tmp.profile());
    ::chmod(tmp.profile().c_str(), 0755);
    ASSERT_TRUE(must(ProfileStore::create(tmp.profile(), std::nullopt)));
    EXPECT_EQ(mode_of(tmp.profile()), 0700u);
}

TEST(ProfileOpen, CreateTwiceIsRefused) {
    TempDir tmp;
    ASSERT_TRUE(must(ProfileStore::create(tmp.profile(), std::nullopt)));
    Bytes key = read_file(tmp.profile() / "profile.key");
    auto again = ProfileStore::create(tmp.profile(), std::nullopt);
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, ErrorCode::kLimitExceeded);
    EXPECT_EQ(read_file(tmp.profile() / "profile.key"), key);
}

TEST(ProfileOpen, NoProfileIsNoSessionAndCreatesNothing) {
    TempDir tmp;
    auto r = ProfileStore::open(tmp.profile(), std::nullopt);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kNoSession);
    EXPECT_FALSE(fs::exists(tmp.profile()));
}

TEST(ProfileOpen, KeyFileProfileReopens) {
    TempDir tmp;
    auto identity = crypto::KeyPair::generate();
    {
        auto store = must(ProfileStore::create(tmp.profile(), std::nullopt));
        ASSERT_TRUE(store);
        ASSERT_TRUE(store->set_identity(identity, 77).ok());
        ASSERT_TRUE(store->set_counter("next_prekey_id", 101).ok());
    }
    for (int i = 0; i < 2; ++i) {
        auto store = must(ProfileStore::open(tmp.profile(), std::nullopt));
        ASSERT_TRUE(store);
        auto got = store->identity();
        ASSERT_TRUE(got.ok());
        EXPECT_EQ(got->public_key, identity.public_key);
        EXPECT_EQ(*store->registration_id(), 77u);
        EXPECT_EQ(*store->counter("next_prekey_id", 0), 101);
    }
}

TEST(ProfileOpen, PassphraseProfileReopensWithoutKeyFile) {
    TempDir tmp;
    {
        auto store = must(ProfileStore::create(tmp.profile(), std::string("hunter2 but longer")));
        ASSERT_TRUE(store);
        ASSERT_TRUE(store->set_counter("c", 5).ok());
    }
    EXPECT_FALSE(fs::exists(tmp.profile() / "profile.key"));
    auto store = must(ProfileStore::open(tmp.profile(), std::string("hunter2 but longer")));
    ASSERT_TRUE(store);
    EXPECT_EQ(*store->counter("c", 0), 5);
}

TEST(ProfileOpen, WrongPassphraseWritesNothing) {
    TempDir tmp;
    {
        auto store = must(ProfileStore::create(tmp.profile(), std::string("right one")));
        ASSERT_TRUE(store);
        ASSERT_TRUE(store->set_identity(crypto::KeyPair::generate(), 9).ok());
    }
    auto files = listing(tmp.profile());
    Bytes before = read_file(tmp.profile() / "profile.db");
    ASSERT_FALSE(before.empty());

    auto wrong = ProfileStore::open(tmp.profile(), std::string("wrong one"));
    ASSERT_FALSE(wrong.ok());
    EXPECT_EQ(wrong.error().code, ErrorCode::kBadMac);
    EXPECT_EQ(wrong.error().detail, "wrong passphrase");
    auto missing = ProfileStore::open(tmp.profile(), std::nullopt);
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code, ErrorCode::kBadMac);

    EXPECT_EQ(read_file(tmp.profile() / "profile.db"), before);
    EXPECT_EQ(listing(tmp.profile()), files);
    EXPECT_TRUE(must(ProfileStore::open(tmp.profile(), std::string("right one"))));
}

TEST(ProfileOpen, PassphraseGivenToKeyFileProfileIsRefused) {
    TempDir tmp;
    ASSERT_TRUE(must(ProfileStore::create(tmp.profile(), std::nullopt)));
    auto r = ProfileStore::open(tmp.profile(), std::string("anything"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kBadMac);
}

TEST(ProfileOpen, EmptyPassphraseIsRefused) {
    TempDir tmp;
    auto r = ProfileStore::create(tmp.profile(), std::string());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidKey);
    EXPECT_FALSE(ProfileStore::exists(tmp.profile()));
}

TEST(ProfileOpen, MissingKeyFileIsRefused) {
    TempDir tmp;
    ASSERT_TRUE(must(ProfileStore::create(tmp.profile(), std::nullopt)));
    fs::remove(tmp.profile() / "profile.key");
    Bytes before = read_file(tmp.profile() / "profile.db");
    auto r = ProfileStore::open(tmp.profile(), std::nullopt);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidKey);
    EXPECT_EQ(read_file(tmp.profile() / "profile.db"), before);
}

TEST(ProfileOpen, KeyFileWiderThan0600IsRefused) {
    TempDir tmp;
    ASSERT_TRUE(must(ProfileStore::create(tmp.profile(), std::nullopt)));
    auto key = tmp.profile() / "profile.key";
    for (unsigned mode : {0644u, 0640u, 0604u, 0700u, 0610u}) {
        ASSERT_EQ(::chmod(key.c_str(), mode), 0);
        auto r = ProfileStore::open(tmp.profile(), std::nullopt);
        ASSERT_FALSE(r.ok()) << std::oct << mode;
        EXPECT_EQ(r.error().code, ErrorCode::kInvalidKey) << std::oct << mode;
    }
    ASSERT_EQ(::chmod(key.c_str(), 0400), 0);  // narrower is fine
    EXPECT_TRUE(must(ProfileStore::open(tmp.profile(), std::nullopt)));
    ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
    EXPECT_TRUE(must(ProfileStore::open(tmp.profile(), std::nullopt)));
}

TEST(ProfileOpen, KeyFileSymlinkIsRefused) {
    TempDir tmp;
    ASSERT_TRUE(must(ProfileStore::create(tmp.profile(), std::nullopt)));
    auto key = tmp.profile() / "profile.key";
    fs::rename(key, tmp.path() / "elsewhere.key");
    fs::create_symlink(tmp.path() / "elsewhere.key", key);
    auto r = ProfileStore::open(tmp.profile(), std::nullopt);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidKey);
}

TEST(ProfileOpen, AnotherProfilesKeyFileDoesNotOpen) {
    TempDir a;
    TempDir b;
    ASSERT_TRUE(must(ProfileStore::create(a.profile(), std::nullopt)));
    ASSERT_TRUE(must(ProfileStore::create(b.profile(), std::nullopt)));
    fs::copy_file(b.profile() / "profile.key", a.profile() / "profile.key",
                  fs::copy_options::overwrite_existing);
    ::chmod((a.profile() / "profile.key").c_str(), 0600);
    auto r = ProfileStore::open(a.profile(), std::nullopt);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kBadMac);
    auto truncated = a.profile() / "profile.key";
    fs::resize_file(truncated, 31);
    EXPECT_EQ(ProfileStore::open(a.profile(), std::nullopt).error().code, ErrorCode::kInvalidKey);
}

TEST(ProfileOpen, NewerSchemaIsRefused) {
    TempDir tmp;
    ASSERT_TRUE(must(ProfileStore::create(tmp.profile(), std::nullopt)));
    sql(tmp.profile() / "profile.db", "UPDATE schema_version SET version = 999");
    auto r = ProfileStore::open(tmp.profile(), std::nullopt);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidVersion);
}

TEST(ProfileOpen, SchemaVersionIsRecorded) {
    TempDir tmp;
    ASSERT_TRUE(must(ProfileStore::create(tmp.profile(), std::nullopt)));
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open((tmp.profile() / "profile.db").c_str(), &h), SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(h, "SELECT version FROM schema_version", -1, &s, nullptr),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int64(s, 0), profile::schema_version());
    sqlite3_finalize(s);
    sqlite3_close(h);
}

TEST(ProfileOpen, OtherFilesAreNotProfiles) {
    TempDir tmp;
    fs::create_directories(tmp.profile());
    {
        std::ofstream out(tmp.profile() / "profile.db", std::ios::binary);
        out << std::string(8192, 'x');
    }
    auto r = ProfileStore::open(tmp.profile(), std::nullopt);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kMalformed);

    sql(tmp.path() / "other.db", "CREATE TABLE t (x); INSERT INTO t VALUES (1);");
    fs::remove(tmp.profile() / "profile.db");
    fs::copy_file(tmp.path() / "other.db", tmp.profile() / "profile.db");
    auto other = ProfileStore::open(tmp.profile(), std::nullopt);
    ASSERT_FALSE(other.ok());
    EXPECT_EQ(other.error().code, ErrorCode::kMalformed);
}

TEST(ProfileOpen, InterruptedCreateCanBeRedone) {
    TempDir tmp;
    fs::create_directories(tmp.profile());
    { std::ofstream out(tmp.profile() / "profile.db"); }  // empty: the first commit never happened
    EXPECT_FALSE(ProfileStore::exists(tmp.profile()));
    EXPECT_EQ(ProfileStore::open(tmp.profile(), std::nullopt).error().code, ErrorCode::kNoSession);
    EXPECT_TRUE(must(ProfileStore::create(tmp.profile(), std::nullopt)));
}

}  // namespace
}  // namespace pp::client

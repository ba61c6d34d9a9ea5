// Creating and opening a profile: the directory, the key file or the passphrase, the database
// file and its schema; and transaction(). The record methods live in client/profile/*.cpp.
#include "client/profile_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <system_error>

#include "client/profile/schema.hpp"
#include "client/profile/store.hpp"

namespace pp::client {

using profile::Ad;
using profile::Connection;
using profile::SqliteProfileStore;
using profile::Transaction;

namespace {

namespace fs = std::filesystem;

constexpr const char* kDbName = "profile.db";
constexpr const char* kKeyName = "profile.key";
constexpr std::int64_t kKindKeyFile = 0;
constexpr std::int64_t kKindPassphrase = 1;
constexpr std::string_view kCheckPlaintext = "paperplane profile key check";

const Ad& check_ad() {
    static const Ad ad("meta-check");
    return ad;
}

// --- the key file ---

Result<void> write_all(int fd, ByteView v) {
    std::size_t done = 0;
    while (done < v.size()) {
        auto n = ::write(fd, v.data() + done, v.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return make_error(ErrorCode::kInternal, "cannot write the profile key file");
        done += static_cast<std::size_t>(n);
    }
    return {};
}

Result<void> fsync_dir(const fs::path& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return make_error(ErrorCode::kInternal, "cannot open the profile directory");
    int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) return make_error(ErrorCode::kInternal, "cannot sync the profile directory");
    return {};
}

// Written to a temporary file, synced, then renamed: the key file is either absent or whole.
Result<void> write_key_file(const fs::path& dir, const ProfileKey& key) {
    fs::path tmp = dir / "profile.key.tmp";
    ::unlink(tmp.c_str());  // a leftover of an interrupted create
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return make_error(ErrorCode::kInternal, "cannot create the profile key file");
    auto written = write_all(fd, key.view());
    bool ok = written && ::fchmod(fd, 0600) == 0 && ::fsync(fd) == 0;
    ok = (::close(fd) == 0) && ok;
    if (!ok || ::rename(tmp.c_str(), (dir / kKeyName).c_str()) != 0) {
        ::unlink(tmp.c_str());
        return make_error(ErrorCode::kInternal, "cannot write the profile key file");
    }
    return fsync_dir(dir);
}

Result<ProfileKey> read_key_file(const fs::path& dir) {
    fs::path path = dir / kKeyName;
    int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return make_error(ErrorCode::kInvalidKey, "profile key file missing or unreadable");
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return make_error(ErrorCode::kInvalidKey, "profile key file is not a regular file");
    }
    if ((st.st_mode & 07777 & ~static_cast<mode_t>(0600)) != 0) {
        ::close(fd);
        return make_error(ErrorCode::kInvalidKey,
                          "profile key file permissions are wider than 0600: chmod 600 it");
    }
    ProfileKey key;
    std::size_t got = 0;
    while (got < key.size()) {
        auto n = ::read(fd, key.data() + got, key.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
    }
    std::uint8_t extra = 0;
    bool longer = ::read(fd, &extra, 1) != 0;
    ::close(fd);
    if (got != key.size() || longer) {
        return make_error(ErrorCode::kInvalidKey, "profile key file has the wrong size");
    }
    return key;
}

// --- the database file ---

bool nonempty_file(const fs::path& p) {
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) return false;
    auto size = fs::file_size(p, ec);
    return !ec && size > 0;
}

// SQLite would create the file 0644 (less umask); it is created 0600 first. The -wal and -shm
// files inherit the database's mode.
Result<void> create_private_file(const fs::path& path) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return make_error(ErrorCode::kInternal, "cannot create the profile database");
    ::close(fd);
    return {};
}

// Per-connection settings; none of them writes to the file.
Result<void> configure(Connection& c) {
    PP_TRY_VOID(c.exec("PRAGMA foreign_keys = ON"));
    // A message acknowledged to the server must survive a crash: every commit is synced.
    PP_TRY_VOID(c.exec("PRAGMA synchronous = FULL"));
    PP_TRY_VOID(c.exec("PRAGMA secure_delete = ON"));
    return {};
}

Result<void> use_wal(Connection& c) {
    PP_TRY(s, c.prepare("PRAGMA journal_mode = WAL"));
    PP_TRY(row, s.step());
    if (!row || s.text(0) != "wal") {
        return make_error(ErrorCode::kInternal, "profile database cannot use WAL journal mode");
    }
    return {};
}

Result<void> check_key(const ProfileKey& key, ByteView check_value) {
    auto opened = unseal(key, check_value, check_ad());
    if (!opened || opened->view().size() != kCheckPlaintext.size() ||
        !std::equal(kCheckPlaintext.begin(), kCheckPlaintext.end(), opened->view().begin(),
                    [](char a, std::uint8_t b) { return static_cast<std::uint8_t>(a) == b; })) {
        return make_error(ErrorCode::kBadMac, "wrong passphrase");
    }
    return {};
}

// Reads meta and obtains the key, writing nothing.
Result<ProfileKey> unlock(Connection& c, const fs::path& dir,
                          const std::optional<std::string>& passphrase) {
    PP_TRY(s, c.prepare("SELECT kind, salt, opslimit, memlimit, check_value FROM meta"));
    PP_TRY(row, s.step());
    if (!row) return make_error(ErrorCode::kMalformed, "profile database has no key metadata");
    auto kind = s.int64(0);
    Bytes check_value = s.blob(4);
    if (kind == kKindPassphrase) {
        if (!passphrase) return make_error(ErrorCode::kBadMac, "profile needs its passphrase");
        if (s.int64(2) < 0 || s.int64(3) < 0) {
            return make_error(ErrorCode::kMalformed, "passphrase parameters out of range");
        }
        PassphraseParams params{s.blob(1), static_cast<std::uint64_t>(s.int64(2)),
                                static_cast<std::uint64_t>(s.int64(3))};
        PP_TRY(key, derive_profile_key(*passphrase, params));
        PP_TRY_VOID(check_key(key, check_value));
        return key;
    }
    if (kind == kKindKeyFile) {
        if (passphrase) return make_error(ErrorCode::kBadMac, "profile has no passphrase");
        PP_TRY(key, read_key_file(dir));
        auto checked = check_key(key, check_value);
        if (!checked) return make_error(ErrorCode::kBadMac, "profile key file does not open it");
        return key;
    }
    return make_error(ErrorCode::kInvalidVersion, "unknown profile key kind");
}

Result<void> set_private_dir(const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec || !fs::is_directory(dir, ec)) {
        return make_error(ErrorCode::kInternal, "cannot create the profile directory");
    }
    if (::chmod(dir.c_str(), 0700) != 0) {
        return make_error(ErrorCode::kInternal, "cannot restrict the profile directory to 0700");
    }
    return {};
}

}  // namespace

bool ProfileStore::exists(const std::filesystem::path& dir) {
    // An empty file is what an interrupted create leaves: its first transaction never committed.
    return nonempty_file(dir / kDbName);
}

Result<std::unique_ptr<ProfileStore>> ProfileStore::create(
    const std::filesystem::path& dir, const std::optional<std::string>& passphrase) {
    if (passphrase && passphrase->empty()) {
        return make_error(ErrorCode::kInvalidKey, "empty passphrase: omit it for a key file");
    }
    PP_TRY_VOID(set_private_dir(dir));
    if (exists(dir)) return make_error(ErrorCode::kLimitExceeded, "a profile already exists there");

    PassphraseParams params;
    ProfileKey key;
    if (passphrase) {
        params = new_passphrase_params();
        PP_TRY(derived, derive_profile_key(*passphrase, params));
        key = derived;
    } else {
        key = random_profile_key();
        // Before the database: a crash in between leaves a key and no profile, never the reverse.
        PP_TRY_VOID(write_key_file(dir, key));
    }

    fs::path db_path = dir / kDbName;
    for (const char* leftover : {"", "-journal", "-wal", "-shm"}) {
        ::unlink((db_path.string() + leftover).c_str());
    }
    PP_TRY_VOID(create_private_file(db_path));
    PP_TRY(db, Connection::open(db_path.string()));
    PP_TRY_VOID(configure(*db));
    {
        PP_TRY(tx, Transaction::begin(*db, Transaction::Kind::kWrite));
        PP_TRY_VOID(profile::upgrade(*db, 0));
        PP_TRY(s, db->prepare("INSERT INTO meta (id, kind, salt, opslimit, memlimit, check_value) "
                              "VALUES (1, ?1, ?2, ?3, ?4, ?5)"));
        Bytes check_value = seal(key, as_bytes(kCheckPlaintext), check_ad());
        s.bind(1, passphrase ? kKindPassphrase : kKindKeyFile).bind_blob(5, check_value);
        if (passphrase) {
            s.bind_blob(2, params.salt)
                .bind(3, static_cast<std::int64_t>(params.opslimit))
                .bind(4, static_cast<std::int64_t>(params.memlimit));
        } else {
            s.bind_null(2).bind_null(3).bind_null(4);
        }
        PP_TRY_VOID(s.run());
        PP_TRY_VOID(tx.commit());
    }
    PP_TRY_VOID(use_wal(*db));
    return std::unique_ptr<ProfileStore>(new SqliteProfileStore(std::move(db), key));
}

Result<std::unique_ptr<ProfileStore>> ProfileStore::open(
    const std::filesystem::path& dir, const std::optional<std::string>& passphrase) {
    if (!exists(dir)) return make_error(ErrorCode::kNoSession, "no profile in that directory");
    fs::path db_path = dir / kDbName;
    PP_TRY(db, Connection::open(db_path.string()));
    // Until the key is proven right nothing is written: no pragma that persists, no migration.
    PP_TRY(version, profile::read_schema_version(*db));
    if (version > profile::schema_version()) {
        return make_error(ErrorCode::kInvalidVersion,
                          "profile was written by a newer paperplane: upgrade it");
    }
    if (version < 1) return make_error(ErrorCode::kMalformed, "profile database is incomplete");
    PP_TRY(key, unlock(*db, dir, passphrase));
    PP_TRY_VOID(configure(*db));
    if (version < profile::schema_version()) {
        PP_TRY(tx, Transaction::begin(*db, Transaction::Kind::kWrite));
        PP_TRY(current, profile::read_schema_version(*db));  // another process may have done it
        if (current < profile::schema_version()) PP_TRY_VOID(profile::upgrade(*db, current));
        PP_TRY_VOID(tx.commit());
    }
    PP_TRY_VOID(use_wal(*db));
    return std::unique_ptr<ProfileStore>(new SqliteProfileStore(std::move(db), key));
}

namespace profile {

Result<void> SqliteProfileStore::transaction(const std::function<Result<void>()>& body) {
    if (in_transaction_) {
        return make_error(ErrorCode::kInternal, "profile transactions do not nest");
    }
    PP_TRY(tx, Transaction::begin(*db_, Transaction::Kind::kWrite));
    in_transaction_ = true;
    struct Reset {
        bool& flag;
        ~Reset() { flag = false; }
    } reset{in_transaction_};
    PP_TRY_VOID(body());  // on failure the transaction rolls back
    return tx.commit();
}

Result<SecretBytes> SqliteProfileStore::open_value(ByteView sealed, std::string_view ad) const {
    auto opened = unseal(key_, sealed, ad);
    if (!opened) {
        return make_error(ErrorCode::kMalformed, "profile value does not open (corrupt or moved)");
    }
    return opened;
}

}  // namespace profile
}  // namespace pp::client

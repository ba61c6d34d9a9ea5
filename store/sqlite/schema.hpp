#pragma once
// The database schema as an ordered list of migrations, tracked by PRAGMA user_version.
#include "base/result.hpp"
#include "store/sqlite/db.hpp"

namespace pp::store::sqlite {

// 'PPLN': set by the first migration so open() can tell our file from another program's.
inline constexpr std::int64_t kApplicationId = 0x50504C4E;

// The user_version this code writes and understands: the number of migrations.
std::int64_t schema_version();

// Brings the database up to schema_version() in one write transaction. Refuses a database
// written by newer code (kInvalidVersion) and one that holds someone else's tables (kMalformed).
// Safe against another process migrating concurrently: the version is re-read under the lock.
// `up_to` stops at an older version (the upgrade tests build old files with it).
Result<void> migrate(Connection& c, std::int64_t up_to = schema_version());

// Reads user_version, which is also the first read of the file: a file that is not a
// database fails here with kMalformed.
Result<std::int64_t> read_user_version(Connection& c);

}  // namespace pp::store::sqlite

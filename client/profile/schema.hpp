#pragma once
// The profile database's schema and its migrations.
#include <cstdint>

#include "base/result.hpp"
#include "store/sqlite/db.hpp"

namespace pp::client::profile {

// "PPcl": marks the file as a Paperplane client profile.
inline constexpr std::int64_t kApplicationId = 0x5050636c;

// The version this build writes.
std::int64_t schema_version();
// Reads the version of an existing file without writing anything. kMalformed if the file is not
// a profile database.
Result<std::int64_t> read_schema_version(store::sqlite::Connection& c);
// Applies every migration after `from`. The caller holds a write transaction, so a failing step
// leaves the previous version.
Result<void> upgrade(store::sqlite::Connection& c, std::int64_t from);

}  // namespace pp::client::profile

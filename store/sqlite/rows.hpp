#pragma once
// Small queries and conversions shared by the SqliteStore source files.
#include <array>
#include <cstdint>
#include <limits>
#include <optional>

#include "store/sqlite/db.hpp"
#include "store/store.hpp"

namespace pp::store::sqlite {

template <std::size_t N>
ByteView view(const std::array<std::uint8_t, N>& a) {
    return {a.data(), N};
}

// Unsigned counters and ids stored as SQLite's signed 64-bit integers.
inline std::int64_t to_db(std::uint64_t v) {
    return v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
               ? std::numeric_limits<std::int64_t>::max()
               : static_cast<std::int64_t>(v);
}
inline std::uint32_t to_u32(std::int64_t v) {
    return static_cast<std::uint32_t>(v);
}
inline std::size_t to_size(std::int64_t v) {
    return v < 0 ? 0 : static_cast<std::size_t>(v);
}

inline Error no_device() {
    return make_error(ErrorCode::kNoSession, "unknown device");
}
inline Error corrupt_row() {
    return make_error(ErrorCode::kMalformed, "database row has an unexpected shape");
}

// The local key (`did`) of a device, or nullopt if it does not exist.
Result<std::optional<std::int64_t>> find_device(Connection& c, const DeviceAddress& d);

// Drops `n` references to a content; deletes it when none are left.
Result<void> release_content(Connection& c, std::int64_t cid, std::int64_t n);

}  // namespace pp::store::sqlite

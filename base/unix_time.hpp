#pragma once
// The wall clock as the protocol and the stores count it: whole milliseconds or seconds since
// 1970 (UTC). Pure protocol code takes the time as a parameter; the edges read it here.
#include <chrono>
#include <cstdint>

namespace pp {

inline std::int64_t unix_ms_now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

inline std::uint64_t unix_seconds_now() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

}  // namespace pp

#pragma once
// Constant-time comparison for MACs, tokens and anything an attacker could probe byte by byte.
#include <sodium.h>

#include "base/bytes.hpp"

namespace pp::crypto {

inline bool constant_time_equal(ByteView a, ByteView b) {
    if (a.size() != b.size()) return false;  // lengths are public
    return a.empty() || sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace pp::crypto

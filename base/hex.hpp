#pragma once
// Hex encoding for tests, tools and display of public data (never of secrets in logs).
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.hpp"

namespace pp {

std::string to_hex(ByteView bytes);
std::optional<Bytes> from_hex(std::string_view hex);

}  // namespace pp

#pragma once
// Percent-encoding (RFC 3986 section 2.1) for the values of share links. Encoding escapes
// everything but the unreserved characters, which is valid in every URI component (query
// values, userinfo), so one encoder serves all link kinds.
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace pp {

// ALPHA / DIGIT / "-" / "." / "_" / "~"
bool is_unreserved(char c);

std::string percent_encode(std::string_view s);

// kMalformed for a truncated or non-hex escape. Other characters pass through unchanged: the
// caller checks which characters its component allows.
Result<std::string> percent_decode(std::string_view s);

}  // namespace pp

#pragma once
// QR codes for share links, drawn with Unicode half blocks so a phone can scan them straight
// off a terminal (two module rows per text line; light modules are drawn, dark ones are blank,
// which suits the usual light-on-dark terminal).
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace pp::qr {

// kLimitExceeded if the text does not fit in a QR code.
Result<std::string> qr_for_terminal(std::string_view text);

}  // namespace pp::qr

#pragma once
// QR codes as PNG files, for sharing a link where a terminal cannot be scanned (a chat, a
// printout): 8-bit grayscale, dark modules black, with a light quiet zone around the code.
#include <filesystem>
#include <string_view>

#include "base/result.hpp"

namespace pp::qr {

constexpr int kMaxPngSide = 8192;

// `scale` pixels per module (1-64) and `margin` modules of quiet zone (0-64; the standard asks
// for 4). kMalformed for a bad scale or margin; kLimitExceeded if the text does not fit in a QR
// code or the image would be over kMaxPngSide pixels a side; kInternal if the file cannot be
// written. The file is written beside its final name and renamed into place, so a failure
// leaves no partial file.
Result<void> write_qr_png(std::string_view text, const std::filesystem::path& file, int scale,
                          int margin);

}  // namespace pp::qr

#pragma once
// The QR symbol for a text, as a square of modules: one encoder setting (error correction M,
// 8-bit mode) for every output form, so the terminal and the PNG show the same code.
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace pp::qr {

struct Matrix {
    int width = 0;           // modules per side
    std::vector<bool> dark;  // row-major, width * width
    bool is_dark(int x, int y) const { return dark[static_cast<std::size_t>(y * width + x)]; }
};

// kLimitExceeded if the text does not fit in a QR code.
Result<Matrix> encode(std::string_view text);

}  // namespace pp::qr

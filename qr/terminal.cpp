#include "qr/terminal.hpp"

#include "qr/encode.hpp"

namespace pp::qr {

namespace {
constexpr int kQuietZone = 2;  // modules of light border around the code
}  // namespace

Result<std::string> qr_for_terminal(std::string_view text) {
    PP_TRY(code, encode(text));
    const int width = code.width;
    const int full = width + 2 * kQuietZone;
    auto light = [&](int x, int y) {
        x -= kQuietZone;
        y -= kQuietZone;
        if (x < 0 || y < 0 || x >= width || y >= width) return true;
        return !code.is_dark(x, y);
    };
    std::string out;
    for (int y = 0; y < full; y += 2) {
        for (int x = 0; x < full; ++x) {
            const bool top = light(x, y);
            const bool bottom = y + 1 < full ? light(x, y + 1) : false;
            if (top && bottom)
                out += "\u2588";
            else if (top)
                out += "\u2580";
            else if (bottom)
                out += "\u2584";
            else
                out += ' ';
        }
        out += '\n';
    }
    return out;
}

}  // namespace pp::qr

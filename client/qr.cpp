#include "client/qr.hpp"

#include <qrencode.h>

#include <memory>

namespace pp::client {

namespace {
struct QrFree {
    void operator()(QRcode* q) const { QRcode_free(q); }
};
constexpr int kQuietZone = 2;  // modules of light border around the code
}  // namespace

Result<std::string> qr_for_terminal(std::string_view text) {
    const std::string input(text);  // QRcode_encodeString wants a NUL-terminated string
    std::unique_ptr<QRcode, QrFree> code(
        QRcode_encodeString(input.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1));
    if (!code) return make_error(ErrorCode::kLimitExceeded, "too long for a QR code");
    const int width = code->width;
    const int full = width + 2 * kQuietZone;
    // Light outside the code; inside, bit 0 of each module byte is "dark".
    auto light = [&](int x, int y) {
        x -= kQuietZone;
        y -= kQuietZone;
        if (x < 0 || y < 0 || x >= width || y >= width) return true;
        return (code->data[y * width + x] & 1) == 0;
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

}  // namespace pp::client

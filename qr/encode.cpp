#include "qr/encode.hpp"

#include <qrencode.h>

#include <memory>
#include <string>

namespace pp::qr {

namespace {
struct QrFree {
    void operator()(QRcode* q) const { QRcode_free(q); }
};
}  // namespace

Result<Matrix> encode(std::string_view text) {
    const std::string input(text);  // QRcode_encodeString wants a NUL-terminated string
    if (input.find('\0') != std::string::npos)
        return make_error(ErrorCode::kMalformed, "QR text contains a NUL byte");
    std::unique_ptr<QRcode, QrFree> code(
        QRcode_encodeString(input.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1));
    if (!code) return make_error(ErrorCode::kLimitExceeded, "too long for a QR code");
    Matrix m;
    m.width = code->width;
    const auto n = static_cast<std::size_t>(m.width) * static_cast<std::size_t>(m.width);
    m.dark.resize(n);
    // Bit 0 of each module byte is "dark"; the other bits describe the module's role.
    for (std::size_t i = 0; i < n; ++i) m.dark[i] = (code->data[i] & 1) != 0;
    return m;
}

}  // namespace pp::qr

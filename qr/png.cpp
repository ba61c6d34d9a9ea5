#include "qr/png.hpp"

#include <png.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <system_error>
#include <vector>

#include "qr/encode.hpp"

namespace pp::qr {

namespace {
constexpr std::uint8_t kDark = 0x00;
constexpr std::uint8_t kLight = 0xFF;
}  // namespace

Result<void> write_qr_png(std::string_view text, const std::filesystem::path& file, int scale,
                          int margin) {
    if (scale < 1 || scale > 64) return make_error(ErrorCode::kMalformed, "QR scale must be 1-64");
    if (margin < 0 || margin > 64)
        return make_error(ErrorCode::kMalformed, "QR margin must be 0-64 modules");
    PP_TRY(code, encode(text));
    const int modules = code.width + 2 * margin;
    if (modules * scale > kMaxPngSide)
        return make_error(ErrorCode::kLimitExceeded, "QR image would be too large");
    const auto side = static_cast<std::size_t>(modules * scale);

    std::vector<std::uint8_t> pixels(side * side, kLight);
    for (int y = 0; y < code.width; ++y) {
        for (int x = 0; x < code.width; ++x) {
            if (!code.is_dark(x, y)) continue;
            for (int dy = 0; dy < scale; ++dy) {
                const auto row = static_cast<std::size_t>((y + margin) * scale + dy);
                const auto col = static_cast<std::size_t>((x + margin) * scale);
                std::fill_n(pixels.begin() + static_cast<std::ptrdiff_t>(row * side + col), scale,
                            kDark);
            }
        }
    }

    // libpng's simplified API reports errors through the image struct, so no longjmp crosses
    // our frames.
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    image.width = static_cast<png_uint_32>(side);
    image.height = static_cast<png_uint_32>(side);
    image.format = PNG_FORMAT_GRAY;
    // The image may carry a relay's secret: the temporary file is created 0600 under a random
    // name with O_EXCL (mkstemp), so neither the umask nor a planted file or symlink decides
    // who can read it; rename() then puts it in place whole.
    std::string tmp = file.string() + ".XXXXXX";
    const int fd = ::mkstemp(tmp.data());
    if (fd < 0) {
        png_image_free(&image);
        return make_error(ErrorCode::kInternal, "could not create the PNG file");
    }
    FILE* out = ::fdopen(fd, "wb");
    bool written =
        out != nullptr && png_image_write_to_stdio(&image, out, 0, pixels.data(),
                                                   static_cast<png_int_32>(side), nullptr) != 0;
    png_image_free(&image);
    written = written && std::fflush(out) == 0 && ::fsync(fd) == 0;
    if (out != nullptr) {
        written = std::fclose(out) == 0 && written;
    } else {
        ::close(fd);
    }
    std::error_code ec;
    if (!written) {
        std::filesystem::remove(tmp, ec);
        return make_error(ErrorCode::kInternal, "could not write the PNG file");
    }
    std::filesystem::rename(tmp, file, ec);
    if (ec) {
        std::filesystem::remove(tmp, ec);
        return make_error(ErrorCode::kInternal, "could not move the PNG file into place");
    }
    return {};
}

}  // namespace pp::qr

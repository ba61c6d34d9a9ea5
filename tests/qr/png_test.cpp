// QR codes: the PNG file is a real grayscale PNG whose modules are QRcode_encodeString's, with
// the quiet zone asked for; the terminal drawing shows the same modules.
#include <gtest/gtest.h>
#include <png.h>
#include <qrencode.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "qr/encode.hpp"
#include "qr/png.hpp"
#include "qr/terminal.hpp"

namespace pp::qr {
namespace {

namespace fs = std::filesystem;

const std::string kLink =
    "paperplane://relay?host=relay.example.org&port=443&pin=" + std::string(64, 'a') +
    "&secret=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

struct TempDir {
    fs::path path = fs::temp_directory_path() / ("pp_qr_test_" + std::to_string(::getpid()));
    TempDir() { fs::create_directories(path); }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

struct Gray {
    unsigned width = 0, height = 0;
    std::vector<std::uint8_t> pixels;
};

Gray read_png(const fs::path& file) {
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    Gray out;
    if (!png_image_begin_read_from_file(&image, file.c_str())) return out;
    // The file itself must be 8-bit grayscale without alpha or a palette.
    EXPECT_EQ(image.format, static_cast<png_uint_32>(PNG_FORMAT_GRAY));
    image.format = PNG_FORMAT_GRAY;
    out.width = image.width;
    out.height = image.height;
    out.pixels.resize(PNG_IMAGE_SIZE(image));
    if (!png_image_finish_read(&image, nullptr, out.pixels.data(), 0, nullptr)) out.width = 0;
    png_image_free(&image);
    return out;
}

struct QrFree {
    void operator()(QRcode* q) const { QRcode_free(q); }
};

TEST(QrPng, ModulesMatchTheEncoderAndTheQuietZoneIsLight) {
    TempDir dir;
    const fs::path file = dir.path / "link.png";
    constexpr int kScale = 3, kMargin = 4;
    auto r = write_qr_png(kLink, file, kScale, kMargin);
    ASSERT_TRUE(r) << r.error().detail;
    EXPECT_FALSE(fs::exists(dir.path / "link.png.tmp"));

    std::unique_ptr<QRcode, QrFree> code(
        QRcode_encodeString(kLink.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1));
    ASSERT_TRUE(code);
    const int w = code->width;
    const auto side = static_cast<unsigned>((w + 2 * kMargin) * kScale);

    auto img = read_png(file);
    ASSERT_EQ(img.width, side);
    ASSERT_EQ(img.height, side);
    int dark_modules = 0;
    for (unsigned py = 0; py < side; ++py) {
        for (unsigned px = 0; px < side; ++px) {
            const int mx = static_cast<int>(px) / kScale - kMargin;
            const int my = static_cast<int>(py) / kScale - kMargin;
            const bool inside = mx >= 0 && my >= 0 && mx < w && my < w;
            const bool dark = inside && (code->data[my * w + mx] & 1) != 0;
            const auto pixel = img.pixels[py * side + px];
            ASSERT_EQ(pixel, dark ? 0x00 : 0xFF) << "pixel " << px << "," << py;
            if (dark && px % kScale == 0 && py % kScale == 0) ++dark_modules;
        }
    }
    EXPECT_GT(dark_modules, w * w / 4);  // a real code, not a blank square
}

TEST(QrPng, RefusesBadArgumentsAndLeavesNoFile) {
    TempDir dir;
    const fs::path file = dir.path / "x.png";
    EXPECT_EQ(write_qr_png(kLink, file, 0, 4).error().code, ErrorCode::kMalformed);
    EXPECT_EQ(write_qr_png(kLink, file, 65, 4).error().code, ErrorCode::kMalformed);
    EXPECT_EQ(write_qr_png(kLink, file, 4, -1).error().code, ErrorCode::kMalformed);
    EXPECT_EQ(write_qr_png(std::string(8000, 'x'), file, 4, 4).error().code,
              ErrorCode::kLimitExceeded);
    EXPECT_EQ(write_qr_png(kLink, file, 64, 64).error().code, ErrorCode::kLimitExceeded);
    EXPECT_EQ(write_qr_png(kLink, dir.path / "missing" / "x.png", 4, 4).error().code,
              ErrorCode::kInternal);
    EXPECT_TRUE(fs::is_empty(dir.path));
}

// The PNG may hold a relay secret: owner-only whatever the umask, and no temporary file left.
TEST(QrPng, FileIsPrivateWhateverTheUmask) {
    TempDir dir;
    const fs::path file = dir.path / "secret.png";
    const mode_t old = ::umask(0);
    const auto written = write_qr_png(kLink, file, 4, 4);
    ::umask(old);
    ASSERT_TRUE(written);
    EXPECT_EQ(fs::status(file).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write);
    std::size_t entries = 0;
    for (const auto& e : fs::directory_iterator(dir.path)) {
        (void)e;
        ++entries;
    }
    EXPECT_EQ(entries, 1u);
}

TEST(QrTerminal, DrawsTheSameModules) {
    auto m = encode(kLink);
    ASSERT_TRUE(m);
    auto text = qr_for_terminal(kLink);
    ASSERT_TRUE(text);
    // Each text line holds two module rows: count lines and check one known module, the
    // top-left finder pattern's dark corner (module 0,0 at offset 2,2 in the quiet zone:
    // row pair 1, upper half dark, lower half (row 3) dark too -> a blank cell).
    std::vector<std::string> lines;
    std::string line;
    for (char c : *text) {
        if (c == '\n') {
            lines.push_back(line);
            line.clear();
        } else {
            line += c;
        }
    }
    const int full = m->width + 4;
    EXPECT_EQ(static_cast<int>(lines.size()), (full + 1) / 2);
    EXPECT_TRUE(m->is_dark(0, 0) && m->is_dark(0, 1));
    EXPECT_EQ(lines[1].find(' '), static_cast<std::size_t>(2 * 3));  // after 2 full blocks
}

}  // namespace
}  // namespace pp::qr

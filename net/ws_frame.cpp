#include "net/ws_frame.hpp"

#include <cstring>

namespace pp::net {

namespace {

constexpr std::uint8_t kFin = 0x80;
constexpr std::uint8_t kReservedBits = 0x70;
constexpr std::uint8_t kOpcodeBits = 0x0F;
constexpr std::uint8_t kMaskBit = 0x80;
constexpr std::uint8_t kLengthBits = 0x7F;
constexpr std::uint8_t kLength16 = 126;
constexpr std::uint8_t kLength64 = 127;

WsFault protocol_error(std::string_view detail) {
    return WsFault{WsCloseCode::kProtocolError, detail};
}

bool known_opcode(std::uint8_t op) {
    switch (static_cast<WsOpcode>(op)) {
        case WsOpcode::kContinuation:
        case WsOpcode::kText:
        case WsOpcode::kBinary:
        case WsOpcode::kClose:
        case WsOpcode::kPing:
        case WsOpcode::kPong:
            return true;
    }
    return false;
}

std::uint64_t read_big_endian(const std::uint8_t* p, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
    return v;
}

void write_big_endian(std::uint64_t v, std::uint8_t* p, std::size_t n) {
    for (std::size_t i = n; i > 0; --i) {
        p[i - 1] = static_cast<std::uint8_t>(v);
        v >>= 8;
    }
}

// Codes a peer may put in a close frame: the ones RFC 6455 defines for use on the wire, the
// three IANA registered since (1012-1014), and the ranges for libraries and applications.
bool receivable_close_code(std::uint16_t code) {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

}  // namespace

std::size_t ws_header_size(std::uint8_t second) noexcept {
    const std::uint8_t len7 = second & kLengthBits;
    const std::size_t length_bytes = len7 == kLength16 ? 2 : len7 == kLength64 ? 8 : 0;
    const std::size_t mask_bytes = (second & kMaskBit) != 0 ? 4 : 0;
    return 2 + length_bytes + mask_bytes;
}

namespace {

// Which side sent the frame: a client must mask every frame, a server none (RFC 6455, 5.1).
enum class Sender : std::uint8_t { kClient, kServer };

WsChecked<WsFrameHeader> parse_header(std::span<const std::uint8_t> bytes, Sender sender) {
    WsChecked<WsFrameHeader> out;
    if (bytes.size() < 2 || bytes.size() < ws_header_size(bytes[1])) {
        out.fault = protocol_error("frame header truncated");
        return out;
    }
    const std::uint8_t b0 = bytes[0];
    const std::uint8_t b1 = bytes[1];
    auto& h = out.value;
    h.fin = (b0 & kFin) != 0;
    if ((b0 & kReservedBits) != 0) {
        out.fault = protocol_error("reserved bits set without an extension");
        return out;
    }
    if (!known_opcode(b0 & kOpcodeBits)) {
        out.fault = protocol_error("reserved opcode");
        return out;
    }
    h.opcode = static_cast<WsOpcode>(b0 & kOpcodeBits);
    const bool masked = (b1 & kMaskBit) != 0;
    if (sender == Sender::kClient && !masked) {
        out.fault = protocol_error("client frame not masked");
        return out;
    }
    if (sender == Sender::kServer && masked) {
        out.fault = protocol_error("server frame masked");
        return out;
    }
    const std::uint8_t len7 = b1 & kLengthBits;
    std::size_t pos = 2;
    if (len7 == kLength16) {
        h.payload_size = read_big_endian(bytes.data() + 2, 2);
        pos = 4;
        if (h.payload_size < kLength16) {
            out.fault = protocol_error("frame length not in its shortest form");
            return out;
        }
    } else if (len7 == kLength64) {
        h.payload_size = read_big_endian(bytes.data() + 2, 8);
        pos = 10;
        if ((h.payload_size >> 63) != 0) {
            out.fault = protocol_error("frame length with the top bit set");
            return out;
        }
        if (h.payload_size <= 0xFFFF) {
            out.fault = protocol_error("frame length not in its shortest form");
            return out;
        }
    } else {
        h.payload_size = len7;
    }
    if (masked) std::memcpy(h.mask.data(), bytes.data() + pos, h.mask.size());
    if (is_control(h.opcode)) {
        if (!h.fin) {
            out.fault = protocol_error("fragmented control frame");
            return out;
        }
        if (h.payload_size > kWsMaxControlPayload) {
            out.fault = protocol_error("control frame longer than 125 bytes");
            return out;
        }
    }
    return out;
}

// The length forms after the first byte: 7-bit, 16-bit or 64-bit, always the shortest, with
// `mask_bit` set in the second byte. Returns the bytes written (1, 3 or 9).
std::size_t write_length(std::uint64_t payload_size, std::uint8_t mask_bit, std::uint8_t* out) {
    if (payload_size < kLength16) {
        out[0] = static_cast<std::uint8_t>(mask_bit | payload_size);
        return 1;
    }
    if (payload_size <= 0xFFFF) {
        out[0] = mask_bit | kLength16;
        write_big_endian(payload_size, out + 1, 2);
        return 3;
    }
    out[0] = mask_bit | kLength64;
    write_big_endian(payload_size, out + 1, 8);
    return 9;
}

}  // namespace

WsChecked<WsFrameHeader> parse_ws_client_header(std::span<const std::uint8_t> bytes) noexcept {
    return parse_header(bytes, Sender::kClient);
}

WsChecked<WsFrameHeader> parse_ws_server_header(std::span<const std::uint8_t> bytes) noexcept {
    return parse_header(bytes, Sender::kServer);
}

void ws_unmask(std::span<std::uint8_t> data, const WsMask& mask, std::uint64_t offset) noexcept {
    // The mask turned so that key[0] applies to data[0], repeated to 8 bytes: the bulk is
    // XORed a word at a time (payloads run to megabytes; the mask is per byte).
    std::uint8_t key[8];
    for (std::size_t j = 0; j < sizeof key; ++j) key[j] = mask[(offset + j) % 4];
    std::uint64_t word_key = 0;
    std::memcpy(&word_key, key, sizeof word_key);
    std::uint8_t* p = data.data();
    const std::size_t n = data.size();
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t w = 0;
        std::memcpy(&w, p + i, sizeof w);
        w ^= word_key;
        std::memcpy(p + i, &w, sizeof w);
    }
    for (; i < n; ++i) p[i] ^= key[i % 4];  // key repeats every 4 bytes: key[i % 4] fits byte i
}

std::size_t write_ws_server_header(WsOpcode op, std::uint64_t payload_size,
                                   std::span<std::uint8_t, kWsMaxServerHeader> out) noexcept {
    out[0] = static_cast<std::uint8_t>(kFin | static_cast<std::uint8_t>(op));
    return 1 + write_length(payload_size, 0, out.data() + 1);
}

std::size_t write_ws_client_header(WsOpcode op, std::uint64_t payload_size, const WsMask& mask,
                                   std::span<std::uint8_t, kWsMaxClientHeader> out) noexcept {
    out[0] = static_cast<std::uint8_t>(kFin | static_cast<std::uint8_t>(op));
    const std::size_t n = 1 + write_length(payload_size, kMaskBit, out.data() + 1);
    std::memcpy(out.data() + n, mask.data(), mask.size());
    return n + mask.size();
}

WsChecked<std::uint16_t> parse_ws_close_payload(std::span<const std::uint8_t> payload) noexcept {
    WsChecked<std::uint16_t> out;
    if (payload.empty()) return out;  // no code given
    if (payload.size() == 1) {
        out.fault = protocol_error("close frame with a one-byte payload");
        return out;
    }
    out.value = static_cast<std::uint16_t>(read_big_endian(payload.data(), 2));
    if (!receivable_close_code(out.value)) {
        out.fault = protocol_error("close code a peer may not send");
        return out;
    }
    if (!is_valid_utf8(payload.subspan(2))) {
        out.fault = WsFault{WsCloseCode::kBadPayload, "close reason not UTF-8"};
    }
    return out;
}

bool is_valid_utf8(std::span<const std::uint8_t> bytes) noexcept {
    std::size_t i = 0;
    const std::size_t n = bytes.size();
    while (i < n) {
        const std::uint8_t c = bytes[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t len = 0;
        // The second byte's range excludes overlong forms, surrogates and code points past
        // U+10FFFF (RFC 3629, section 4).
        std::uint8_t lo = 0x80;
        std::uint8_t hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else {
            return false;
        }
        if (n - i < len) return false;
        if (bytes[i + 1] < lo || bytes[i + 1] > hi) return false;
        for (std::size_t k = 2; k < len; ++k) {
            if (bytes[i + k] < 0x80 || bytes[i + k] > 0xBF) return false;
        }
        i += len;
    }
    return true;
}

std::optional<WsFault> WsMessageTracker::on_header(const WsFrameHeader& h) noexcept {
    if (is_control(h.opcode)) return std::nullopt;
    if (h.opcode == WsOpcode::kContinuation) {
        if (!open_) return protocol_error("continuation frame outside a message");
    } else {
        if (open_) return protocol_error("new message inside a fragmented one");
        opcode_ = h.opcode;
        size_ = 0;
    }
    if (h.payload_size > max_ - size_) return WsFault{WsCloseCode::kTooBig, "message too big"};
    size_ += h.payload_size;
    open_ = !h.fin;
    return std::nullopt;
}

}  // namespace pp::net

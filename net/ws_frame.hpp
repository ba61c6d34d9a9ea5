#pragma once
// net/ codec: WebSocket framing (RFC 6455, section 5) as the server needs it, and the client's
// half the load generator needs, as pure functions and one small state machine. No I/O and no
// Boost, so it is unit-tested and fuzzed on its own; the session (net/session.cpp) reads the bytes
// and asks these what they mean.
//
// Why the server frames its WebSocket itself instead of using Beast's websocket::stream: that
// stream holds about 2.5 KiB per connection for the connection's whole life (a fixed 1.5 KiB
// read buffer, a timer and its state), an eighth of what an idle connection costs; it reads
// every frame into that buffer and copies it out; and a close it starts on its own (a protocol
// error from the peer) is out of the session's reach, so the session's close deadline cannot
// bound it. A server that sends only binary messages, never fragments, offers no extension and
// answers pings needs little of it. The client library (net/ws_client.cpp) keeps Beast; the
// client's half here (parse a server's frame, write a masked one) serves the load generator
// (bench/), which must not cost more per frame than the server it measures.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace pp::net {

enum class WsOpcode : std::uint8_t {
    kContinuation = 0x0,
    kText = 0x1,
    kBinary = 0x2,
    kClose = 0x8,
    kPing = 0x9,
    kPong = 0xA,
};

constexpr bool is_control(WsOpcode op) {
    return (static_cast<std::uint8_t>(op) & 0x8) != 0;
}

// The close codes this server sends (RFC 6455, section 7.4.1). A peer may send others, which
// are echoed as numbers.
enum class WsCloseCode : std::uint16_t {
    kNormal = 1000,
    kGoingAway = 1001,
    kProtocolError = 1002,
    kUnknownData = 1003,  // a text frame: our frames are protobuf bytes
    kBadPayload = 1007,   // a close reason that is not UTF-8
    kTooBig = 1009,
    kInternalError = 1011,
};

// A client's header is 2 bytes, then 0, 2 or 8 of length, then the 4-byte mask.
inline constexpr std::size_t kWsMaxClientHeader = 14;
// A server's header has no mask.
inline constexpr std::size_t kWsMaxServerHeader = 10;
inline constexpr std::size_t kWsMaxControlPayload = 125;

using WsMask = std::array<std::uint8_t, 4>;

struct WsFrameHeader {
    bool fin = false;
    WsOpcode opcode = WsOpcode::kBinary;
    std::uint64_t payload_size = 0;
    WsMask mask{};
};

// Why the connection must fail, and with which close code. `detail` is a static string.
struct WsFault {
    WsCloseCode code;
    std::string_view detail;
};

template <typename T>
struct WsChecked {
    T value{};
    std::optional<WsFault> fault;
    bool ok() const { return !fault.has_value(); }
};

// The whole header's size (2 to 14) of a frame whose second byte is `second`: the mask bit
// and the 7-bit length say how many bytes follow the first two.
std::size_t ws_header_size(std::uint8_t second) noexcept;

// Parses a client frame's complete header (exactly ws_header_size(bytes[1]) bytes). Refuses
// what RFC 6455 forbids of any frame a server receives: reserved bits without an extension,
// reserved opcodes, an unmasked frame, a control frame that is fragmented or longer than 125
// bytes, a length not in its shortest form, a 64-bit length with the top bit set.
WsChecked<WsFrameHeader> parse_ws_client_header(std::span<const std::uint8_t> bytes) noexcept;

// The same for a server's frame, as a client receives it: everything above is refused except
// that the frame must not be masked (section 5.1). The mask of the result is zero.
WsChecked<WsFrameHeader> parse_ws_server_header(std::span<const std::uint8_t> bytes) noexcept;

// XORs `data` with `mask`, taking `data` as the payload's bytes from `offset` on (a payload
// read in pieces is unmasked piece by piece).
void ws_unmask(std::span<std::uint8_t> data, const WsMask& mask, std::uint64_t offset) noexcept;

// Writes an unmasked, final frame's header (a server's) into `out`; returns its size: 2, 4 or
// 10 bytes.
std::size_t write_ws_server_header(WsOpcode op, std::uint64_t payload_size,
                                   std::span<std::uint8_t, kWsMaxServerHeader> out) noexcept;

// Writes a masked, final frame's header (a client's) into `out`; returns its size: 6, 8 or 14
// bytes. The caller masks the payload with ws_unmask (XOR both ways) and must take `mask` from
// a strong source of randomness, fresh for every frame (section 5.3).
std::size_t write_ws_client_header(WsOpcode op, std::uint64_t payload_size, const WsMask& mask,
                                   std::span<std::uint8_t, kWsMaxClientHeader> out) noexcept;

// A close frame's payload from the peer: the code it gives (0 when it gives none), checked
// against the codes a peer may send; the reason must be UTF-8 (1007 if not).
WsChecked<std::uint16_t> parse_ws_close_payload(std::span<const std::uint8_t> payload) noexcept;

bool is_valid_utf8(std::span<const std::uint8_t> bytes) noexcept;

// Tracks messages across frames: a continuation needs an open message, a new message may not
// start inside one, and a message may not grow past `max_message_bytes` (1009).
class WsMessageTracker {
  public:
    explicit WsMessageTracker(std::uint64_t max_message_bytes) : max_(max_message_bytes) {}

    // Call with every frame's header before reading its payload. Control frames may come
    // between the frames of a message and change nothing.
    std::optional<WsFault> on_header(const WsFrameHeader& h) noexcept;
    // The opcode the message being read started with (text or binary).
    WsOpcode message_opcode() const noexcept { return opcode_; }

  private:
    std::uint64_t max_;
    std::uint64_t size_ = 0;
    WsOpcode opcode_ = WsOpcode::kBinary;
    bool open_ = false;
};

}  // namespace pp::net

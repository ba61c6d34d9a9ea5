// WebSocket framing (net/ws_frame): the input read as a client's bytes, as the server's session
// reads them, and again as a server's bytes through the server-frame parser, frame after frame
// until a fault. Every header a parser takes must be in its one canonical form (re-encoding it
// with the matching writer gives the same bytes) and no message may grow past the limit; for
// a client's frames, unmasking in pieces must equal unmasking at once (a server's carry no
// mask). The load generator's link (bench/load_link.cpp) refuses fragments outright; its own
// handling of records and frames is tested in tests/bench/load_link_test.cpp.
#include <cstdlib>
#include <cstring>

#include "base/bytes.hpp"
#include "net/ws_frame.hpp"

namespace {

using namespace pp::net;

void check(bool ok) {
    if (!ok) std::abort();
}

constexpr std::uint64_t kMaxMessage = 1024;

// The header `h` as the writer for its sender makes it, with the fin bit as given (the writers
// make final frames only).
pp::Bytes encode_header(const WsFrameHeader& h, bool from_client) {
    std::array<std::uint8_t, kWsMaxClientHeader> buf{};
    const std::size_t n = from_client
                              ? write_ws_client_header(h.opcode, h.payload_size, h.mask, buf)
                              : write_ws_server_header(h.opcode, h.payload_size,
                                                       std::span<std::uint8_t, kWsMaxServerHeader>(
                                                           buf.data(), kWsMaxServerHeader));
    pp::Bytes out(buf.begin(), buf.begin() + n);
    if (!h.fin) out[0] &= 0x7F;
    return out;
}

void read_frames(const std::uint8_t* data, std::size_t size, bool from_client) {
    WsMessageTracker tracker(kMaxMessage);
    std::uint64_t message = 0;
    bool open = false;
    std::size_t pos = 0;
    while (size - pos >= 2) {
        const std::size_t head_size = ws_header_size(data[pos + 1]);
        check(head_size >= 2 && head_size <= kWsMaxClientHeader);
        if (size - pos < head_size) break;
        const pp::ByteView head{data + pos, head_size};
        auto parsed = from_client ? parse_ws_client_header(head) : parse_ws_server_header(head);
        if (!parsed.ok()) {
            check(parsed.fault->code == WsCloseCode::kProtocolError);
            break;
        }
        const WsFrameHeader& h = parsed.value;
        if (!from_client) check(head_size <= kWsMaxServerHeader && h.mask == WsMask{});
        const pp::Bytes again = encode_header(h, from_client);
        check(again.size() == head.size() &&
              std::memcmp(again.data(), head.data(), again.size()) == 0);
        if (is_control(h.opcode)) check(h.fin && h.payload_size <= kWsMaxControlPayload);
        auto fault = tracker.on_header(h);
        if (fault) {
            check(fault->code == WsCloseCode::kProtocolError ||
                  fault->code == WsCloseCode::kTooBig);
            // Too big counts the message this frame starts, or the one it continues.
            const std::uint64_t before = h.opcode == WsOpcode::kContinuation ? message : 0;
            if (fault->code == WsCloseCode::kTooBig) check(h.payload_size > kMaxMessage - before);
            break;
        }
        if (!is_control(h.opcode)) {
            if (h.opcode != WsOpcode::kContinuation) message = 0;
            check(h.opcode != WsOpcode::kContinuation || open);
            message += h.payload_size;
            check(message <= kMaxMessage);
            open = !h.fin;
        }
        pos += head_size;
        const std::size_t avail = size - pos;
        if (h.payload_size > avail) break;
        const auto n = static_cast<std::size_t>(h.payload_size);
        pp::Bytes whole(data + pos, data + pos + n);
        ws_unmask(whole, h.mask, 0);
        pp::Bytes pieces(data + pos, data + pos + n);
        const std::size_t cut = n / 3;
        ws_unmask({pieces.data(), cut}, h.mask, 0);
        ws_unmask({pieces.data() + cut, n - cut}, h.mask, cut);
        check(pieces == whole);
        if (h.opcode == WsOpcode::kClose) {
            auto code = parse_ws_close_payload(whole);
            if (code.ok()) {
                check(whole.empty() ? code.value == 0 : code.value >= 1000 && code.value <= 4999);
            } else {
                check(code.fault->code == WsCloseCode::kProtocolError ||
                      code.fault->code == WsCloseCode::kBadPayload);
            }
            break;
        }
        pos += n;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    read_frames(data, size, true);
    read_frames(data, size, false);
    return 0;
}

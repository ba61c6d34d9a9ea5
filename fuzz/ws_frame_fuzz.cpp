// The server's WebSocket framing (net/ws_frame): a client's bytes read as the session reads
// them, frame after frame, until a fault. Every header the parser takes must be in its one
// canonical form (re-encoding it gives the same bytes), no message may grow past the limit,
// and unmasking in pieces must equal unmasking at once.
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

// A client header for `h`, built from the server header writer: the same length forms, plus
// the fin bit as given, the mask bit and the mask.
pp::Bytes encode_client_header(const WsFrameHeader& h) {
    std::array<std::uint8_t, kWsMaxServerHeader> server{};
    const std::size_t n = write_ws_server_header(h.opcode, h.payload_size, server);
    pp::Bytes out(server.begin(), server.begin() + n);
    if (!h.fin) out[0] &= 0x7F;
    out[1] |= 0x80;
    out.insert(out.end(), h.mask.begin(), h.mask.end());
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    WsMessageTracker tracker(kMaxMessage);
    std::uint64_t message = 0;
    bool open = false;
    std::size_t pos = 0;
    while (size - pos >= 2) {
        const std::size_t head_size = ws_client_header_size(data[pos + 1]);
        check(head_size >= 2 && head_size <= kWsMaxClientHeader);
        if (size - pos < head_size) break;
        const pp::ByteView head{data + pos, head_size};
        auto parsed = parse_ws_client_header(head);
        if (!parsed.ok()) {
            check(parsed.fault->code == WsCloseCode::kProtocolError);
            break;
        }
        const WsFrameHeader& h = parsed.value;
        const pp::Bytes again = encode_client_header(h);
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
    return 0;
}

// WebSocket framing (net/ws_frame), byte for byte, without sockets: what RFC 6455 asks a
// server to accept and to refuse, and the client's half the load generator uses.
#include "net/ws_frame.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string_view>
#include <vector>

#include "base/bytes.hpp"

namespace pp::net {
namespace {

Bytes b(std::initializer_list<int> v) {
    Bytes out;
    for (int x : v) out.push_back(static_cast<std::uint8_t>(x));
    return out;
}

Bytes text(std::string_view s) {
    return Bytes(s.begin(), s.end());
}

std::optional<WsCloseCode> fault_of(const Bytes& header) {
    auto r = parse_ws_client_header(header);
    if (r.ok()) return std::nullopt;
    return r.fault->code;
}

TEST(WsFrame, HeaderSizeFollowsTheLengthAndMaskBits) {
    EXPECT_EQ(ws_header_size(0x80 | 5), 6u);
    EXPECT_EQ(ws_header_size(0x80 | 125), 6u);
    EXPECT_EQ(ws_header_size(0x80 | 126), 8u);
    EXPECT_EQ(ws_header_size(0x80 | 127), 14u);
    EXPECT_EQ(ws_header_size(5), 2u);  // unmasked: a server's frame, or a client's to refuse
}

TEST(WsFrame, TheRfcsMaskedHelloParsesAndUnmasks) {
    // RFC 6455, section 5.7: a single-frame masked text message "Hello".
    const Bytes frame = b({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
    ASSERT_EQ(ws_header_size(frame[1]), 6u);
    auto r = parse_ws_client_header({frame.data(), 6});
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r.value.fin);
    EXPECT_EQ(r.value.opcode, WsOpcode::kText);
    EXPECT_EQ(r.value.payload_size, 5u);
    EXPECT_EQ(r.value.mask, (WsMask{0x37, 0xfa, 0x21, 0x3d}));
    Bytes payload(frame.begin() + 6, frame.end());
    ws_unmask(payload, r.value.mask, 0);
    EXPECT_EQ(payload, text("Hello"));
}

TEST(WsFrame, ExtendedLengthsParse) {
    auto r16 = parse_ws_client_header(b({0x82, 0xFE, 0x01, 0x00, 1, 2, 3, 4}));
    ASSERT_TRUE(r16.ok());
    EXPECT_EQ(r16.value.payload_size, 256u);
    auto r64 = parse_ws_client_header(
        b({0x02, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4}));  // a first fragment
    ASSERT_TRUE(r64.ok());
    EXPECT_FALSE(r64.value.fin);
    EXPECT_EQ(r64.value.opcode, WsOpcode::kBinary);
    EXPECT_EQ(r64.value.payload_size, 65536u);
    EXPECT_EQ(r64.value.mask, (WsMask{1, 2, 3, 4}));
}

TEST(WsFrame, WhatAServerMustRefuseIsAProtocolError) {
    const auto kProtocol = WsCloseCode::kProtocolError;
    EXPECT_EQ(fault_of(b({0xC2, 0x80, 1, 2, 3, 4})), kProtocol);  // RSV1 without an extension
    EXPECT_EQ(fault_of(b({0xA2, 0x80, 1, 2, 3, 4})), kProtocol);  // RSV2
    EXPECT_EQ(fault_of(b({0x83, 0x80, 1, 2, 3, 4})), kProtocol);  // reserved data opcode
    EXPECT_EQ(fault_of(b({0x8B, 0x80, 1, 2, 3, 4})), kProtocol);  // reserved control opcode
    EXPECT_EQ(fault_of(b({0x82, 0x05})), kProtocol);              // not masked
    EXPECT_EQ(fault_of(b({0x09, 0x80, 1, 2, 3, 4})), kProtocol);  // fragmented ping
    EXPECT_EQ(fault_of(b({0x89, 0xFE, 0, 126, 1, 2, 3, 4})), kProtocol);  // ping over 125
    EXPECT_EQ(fault_of(b({0x88, 0xFE, 0, 200, 1, 2, 3, 4})), kProtocol);  // close over 125
    // Lengths not in their shortest form, and a 64-bit length with its top bit set.
    EXPECT_EQ(fault_of(b({0x82, 0xFE, 0, 125, 1, 2, 3, 4})), kProtocol);
    EXPECT_EQ(fault_of(b({0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 1, 2, 3, 4})), kProtocol);
    EXPECT_EQ(fault_of(b({0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4})), kProtocol);
    // Fewer bytes than the header says it has.
    EXPECT_EQ(fault_of(b({0x82})), kProtocol);
    EXPECT_EQ(fault_of(b({0x82, 0xFE, 0x01, 0x00, 1, 2, 3})), kProtocol);
    // The largest lengths each form allows are fine.
    EXPECT_EQ(fault_of(b({0x82, 0xFD, 1, 2, 3, 4})), std::nullopt);
    EXPECT_EQ(fault_of(b({0x89, 0xFD, 1, 2, 3, 4})), std::nullopt);  // a ping of 125 bytes
    EXPECT_EQ(fault_of(b({0x82, 0xFE, 0xFF, 0xFF, 1, 2, 3, 4})), std::nullopt);
    EXPECT_EQ(fault_of(b({0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4})),
              std::nullopt);
}

TEST(WsFrame, UnmaskingInPiecesEqualsUnmaskingWhole) {
    std::mt19937 rng(7);
    Bytes plain(1000);
    for (auto& x : plain) x = static_cast<std::uint8_t>(rng());
    const WsMask mask{0xA1, 0x02, 0x73, 0xF4};
    Bytes whole = plain;
    ws_unmask(whole, mask, 0);
    // Byte by byte, as the RFC defines it.
    for (std::size_t i = 0; i < plain.size(); ++i) {
        ASSERT_EQ(whole[i], plain[i] ^ mask[i % 4]) << i;
    }
    for (std::size_t cut : {1u, 3u, 7u, 8u, 9u, 501u, 999u}) {
        Bytes pieces = plain;
        ws_unmask({pieces.data(), cut}, mask, 0);
        ws_unmask({pieces.data() + cut, pieces.size() - cut}, mask, cut);
        EXPECT_EQ(pieces, whole) << cut;
    }
    ws_unmask(whole, mask, 0);  // XOR twice is the identity
    EXPECT_EQ(whole, plain);
}

TEST(WsFrame, ServerHeadersUseTheShortestLength) {
    std::array<std::uint8_t, kWsMaxServerHeader> h{};
    ASSERT_EQ(write_ws_server_header(WsOpcode::kBinary, 0, h), 2u);
    EXPECT_EQ(h[0], 0x82);
    EXPECT_EQ(h[1], 0x00);
    ASSERT_EQ(write_ws_server_header(WsOpcode::kPong, 125, h), 2u);
    EXPECT_EQ(h[0], 0x8A);
    EXPECT_EQ(h[1], 125);
    ASSERT_EQ(write_ws_server_header(WsOpcode::kBinary, 126, h), 4u);
    EXPECT_EQ((Bytes{h.begin(), h.begin() + 4}), b({0x82, 126, 0, 126}));
    ASSERT_EQ(write_ws_server_header(WsOpcode::kBinary, 65535, h), 4u);
    EXPECT_EQ((Bytes{h.begin(), h.begin() + 4}), b({0x82, 126, 0xFF, 0xFF}));
    ASSERT_EQ(write_ws_server_header(WsOpcode::kClose, 65536, h), 10u);
    EXPECT_EQ((Bytes{h.begin(), h.end()}), b({0x88, 127, 0, 0, 0, 0, 0, 1, 0, 0}));
}

TEST(WsFrame, TheRfcsUnmaskedHelloParsesAsAServerFrame) {
    // RFC 6455, section 5.7: a single-frame unmasked text message "Hello", as a server sends.
    const Bytes frame = b({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f});
    ASSERT_EQ(ws_header_size(frame[1]), 2u);
    auto r = parse_ws_server_header({frame.data(), 2});
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r.value.fin);
    EXPECT_EQ(r.value.opcode, WsOpcode::kText);
    EXPECT_EQ(r.value.payload_size, 5u);
    EXPECT_EQ(r.value.mask, (WsMask{}));
    // The client's parser refuses it (not masked), and the server's the masked one.
    EXPECT_FALSE(parse_ws_client_header({frame.data(), 2}).ok());
    const Bytes masked = b({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d});
    auto m = parse_ws_server_header(masked);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.fault->code, WsCloseCode::kProtocolError);
    EXPECT_EQ(m.fault->detail, "server frame masked");
}

TEST(WsFrame, AServerFrameIsRefusedForWhatAnyFrameIsRefused) {
    const auto refused = [](const Bytes& h) {
        auto r = parse_ws_server_header(h);
        return !r.ok() && r.fault->code == WsCloseCode::kProtocolError;
    };
    EXPECT_TRUE(refused(b({0xC2, 0x00})));                             // RSV1
    EXPECT_TRUE(refused(b({0x83, 0x00})));                             // reserved opcode
    EXPECT_TRUE(refused(b({0x09, 0x00})));                             // fragmented ping
    EXPECT_TRUE(refused(b({0x8A, 0x7E, 0, 126})));                     // pong over 125
    EXPECT_TRUE(refused(b({0x82, 0x7E, 0, 125})));                     // not the shortest form
    EXPECT_TRUE(refused(b({0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0})));  // top bit set
    EXPECT_TRUE(refused(b({0x82, 0x7E, 0x01})));                       // truncated
    auto r64 = parse_ws_server_header(b({0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0}));
    ASSERT_TRUE(r64.ok());
    EXPECT_EQ(r64.value.payload_size, 65536u);
}

TEST(WsFrame, ClientHeadersUseTheShortestLengthAndCarryTheMask) {
    const WsMask mask{0x37, 0xfa, 0x21, 0x3d};
    std::array<std::uint8_t, kWsMaxClientHeader> h{};
    // The RFC's masked "Hello", rebuilt: header from the writer, payload masked with the mask.
    ASSERT_EQ(write_ws_client_header(WsOpcode::kText, 5, mask, h), 6u);
    Bytes frame(h.begin(), h.begin() + 6);
    Bytes payload = text("Hello");
    ws_unmask(payload, mask, 0);
    frame.insert(frame.end(), payload.begin(), payload.end());
    EXPECT_EQ(frame, b({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
    ASSERT_EQ(write_ws_client_header(WsOpcode::kBinary, 126, mask, h), 8u);
    EXPECT_EQ((Bytes{h.begin(), h.begin() + 8}), b({0x82, 0xFE, 0, 126, 0x37, 0xfa, 0x21, 0x3d}));
    ASSERT_EQ(write_ws_client_header(WsOpcode::kBinary, 65536, mask, h), 14u);
    EXPECT_EQ((Bytes{h.begin(), h.end()}),
              b({0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 0x37, 0xfa, 0x21, 0x3d}));
    // Every form the writer makes, the server's parser takes back as it was written.
    for (std::uint64_t size : {0u, 125u, 126u, 65535u, 65536u}) {
        const std::size_t n = write_ws_client_header(WsOpcode::kBinary, size, mask, h);
        auto r = parse_ws_client_header({h.data(), n});
        ASSERT_TRUE(r.ok()) << size;
        EXPECT_EQ(r.value.payload_size, size);
        EXPECT_EQ(r.value.mask, mask);
        EXPECT_TRUE(r.value.fin);
    }
}

TEST(WsFrame, ClosePayloads) {
    auto none = parse_ws_close_payload({});
    ASSERT_TRUE(none.ok());
    EXPECT_EQ(none.value, 0u);
    auto normal = parse_ws_close_payload(b({0x03, 0xE8}));
    ASSERT_TRUE(normal.ok());
    EXPECT_EQ(normal.value, 1000u);
    Bytes with_reason = b({0x0F, 0xA0});  // 4000, an application's code
    for (std::uint8_t c : text("bye \xC3\xA9")) with_reason.push_back(c);
    auto app = parse_ws_close_payload(with_reason);
    ASSERT_TRUE(app.ok());
    EXPECT_EQ(app.value, 4000u);
    for (int ok : {1000, 1003, 1007, 1011, 1014, 3000, 4999}) {
        auto r = parse_ws_close_payload(b({ok >> 8, ok & 0xFF}));
        EXPECT_TRUE(r.ok()) << ok;
    }
    // Codes no peer may send: reserved, "no status" and "abnormal" (never on the wire), the
    // unassigned ones and those past 4999.
    for (int bad : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535}) {
        auto r = parse_ws_close_payload(b({bad >> 8, bad & 0xFF}));
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_EQ(r.fault->code, WsCloseCode::kProtocolError) << bad;
    }
    auto one = parse_ws_close_payload(b({0x03}));
    ASSERT_FALSE(one.ok());
    EXPECT_EQ(one.fault->code, WsCloseCode::kProtocolError);
    auto bad_reason = parse_ws_close_payload(b({0x03, 0xE8, 0xC0, 0x80}));
    ASSERT_FALSE(bad_reason.ok());
    EXPECT_EQ(bad_reason.fault->code, WsCloseCode::kBadPayload);
}

TEST(WsFrame, Utf8) {
    EXPECT_TRUE(is_valid_utf8({}));
    EXPECT_TRUE(is_valid_utf8(text("plain ascii")));
    EXPECT_TRUE(is_valid_utf8(b({0xC3, 0xA9})));               // U+00E9
    EXPECT_TRUE(is_valid_utf8(b({0xE2, 0x82, 0xAC})));         // U+20AC
    EXPECT_TRUE(is_valid_utf8(b({0xED, 0x9F, 0xBF})));         // U+D7FF, before the surrogates
    EXPECT_TRUE(is_valid_utf8(b({0xF0, 0x9F, 0x98, 0x80})));   // U+1F600
    EXPECT_TRUE(is_valid_utf8(b({0xF4, 0x8F, 0xBF, 0xBF})));   // U+10FFFF, the last
    EXPECT_FALSE(is_valid_utf8(b({0x80})));                    // a lone continuation byte
    EXPECT_FALSE(is_valid_utf8(b({0xC0, 0x80})));              // overlong NUL
    EXPECT_FALSE(is_valid_utf8(b({0xC1, 0xBF})));              // overlong
    EXPECT_FALSE(is_valid_utf8(b({0xE0, 0x80, 0x80})));        // overlong
    EXPECT_FALSE(is_valid_utf8(b({0xF0, 0x80, 0x80, 0x80})));  // overlong
    EXPECT_FALSE(is_valid_utf8(b({0xED, 0xA0, 0x80})));        // U+D800, a surrogate
    EXPECT_FALSE(is_valid_utf8(b({0xF4, 0x90, 0x80, 0x80})));  // past U+10FFFF
    EXPECT_FALSE(is_valid_utf8(b({0xF5, 0x80, 0x80, 0x80})));
    EXPECT_FALSE(is_valid_utf8(b({0xFF})));
    EXPECT_FALSE(is_valid_utf8(b({0xE2, 0x82})));        // cut short
    EXPECT_FALSE(is_valid_utf8(b({0xE2, 0x28, 0xA1})));  // a second byte that continues nothing
}

WsFrameHeader frame(WsOpcode op, bool fin, std::uint64_t size) {
    WsFrameHeader h;
    h.opcode = op;
    h.fin = fin;
    h.payload_size = size;
    return h;
}

TEST(WsFrame, TrackerFollowsFragmentsAndControlFramesBetweenThem) {
    WsMessageTracker t(100);
    EXPECT_FALSE(t.on_header(frame(WsOpcode::kBinary, true, 100)));  // exactly the limit
    EXPECT_EQ(t.message_opcode(), WsOpcode::kBinary);
    EXPECT_FALSE(t.on_header(frame(WsOpcode::kText, false, 10)));
    EXPECT_FALSE(t.on_header(frame(WsOpcode::kPing, true, 3)));  // between fragments
    EXPECT_FALSE(t.on_header(frame(WsOpcode::kContinuation, false, 0)));
    EXPECT_FALSE(t.on_header(frame(WsOpcode::kContinuation, true, 90)));
    EXPECT_EQ(t.message_opcode(), WsOpcode::kText);
    EXPECT_FALSE(t.on_header(frame(WsOpcode::kBinary, true, 1)));  // the next message
}

TEST(WsFrame, TrackerRefusesFragmentsOutOfPlace) {
    WsMessageTracker t(100);
    auto orphan = t.on_header(frame(WsOpcode::kContinuation, true, 1));
    ASSERT_TRUE(orphan);
    EXPECT_EQ(orphan->code, WsCloseCode::kProtocolError);
    WsMessageTracker u(100);
    EXPECT_FALSE(u.on_header(frame(WsOpcode::kBinary, false, 1)));
    auto interleaved = u.on_header(frame(WsOpcode::kBinary, true, 1));
    ASSERT_TRUE(interleaved);
    EXPECT_EQ(interleaved->code, WsCloseCode::kProtocolError);
}

TEST(WsFrame, TrackerBoundsTheWholeMessage) {
    WsMessageTracker one(100);
    auto big = one.on_header(frame(WsOpcode::kBinary, true, 101));
    ASSERT_TRUE(big);
    EXPECT_EQ(big->code, WsCloseCode::kTooBig);
    WsMessageTracker pieces(100);
    EXPECT_FALSE(pieces.on_header(frame(WsOpcode::kBinary, false, 60)));
    auto grown = pieces.on_header(frame(WsOpcode::kContinuation, true, 41));
    ASSERT_TRUE(grown);
    EXPECT_EQ(grown->code, WsCloseCode::kTooBig);
    // A length near 2^63 must not wrap the running total around.
    WsMessageTracker huge(100);
    EXPECT_FALSE(huge.on_header(frame(WsOpcode::kBinary, false, 50)));
    auto wrapped = huge.on_header(frame(WsOpcode::kContinuation, true, (1ull << 63) - 1));
    ASSERT_TRUE(wrapped);
    EXPECT_EQ(wrapped->code, WsCloseCode::kTooBig);
}

}  // namespace
}  // namespace pp::net

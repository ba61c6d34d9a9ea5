// RFC 1928/1929 messages: every field parsed and encoded, every truncation reported as "need
// more", every bad field as malformed.
#include <gtest/gtest.h>

#include <cerrno>

#include "relay/socks5/codec.hpp"
#include "relay/socks5/reply_codes.hpp"

namespace pp::relay::socks5 {
namespace {

Buffer bytes(std::initializer_list<int> v) {
    Buffer b;
    for (int x : v) b.push_back(static_cast<std::uint8_t>(x));
    return b;
}

// Every strict prefix of a valid message must ask for more bytes.
template <typename Parse>
void expect_prefixes_need_more(const Buffer& whole, Parse parse) {
    for (std::size_t n = 0; n < whole.size(); ++n)
        EXPECT_EQ(parse(ByteView(whole.data(), n)).status, Status::kNeedMore) << "prefix " << n;
}

TEST(Socks5Codec, GreetingParsesMethods) {
    auto in = bytes({5, 2, 0, 2});
    auto p = parse_greeting(in);
    ASSERT_EQ(p.status, Status::kDone);
    EXPECT_EQ(p.consumed, 4u);
    EXPECT_EQ(p.value.count, 2);
    EXPECT_TRUE(p.value.offers(Method::kNoAuth));
    EXPECT_TRUE(p.value.offers(Method::kUserPass));
    EXPECT_FALSE(p.value.offers(Method::kGssapi));
    expect_prefixes_need_more(in, parse_greeting);
}

TEST(Socks5Codec, GreetingConsumesOnlyItsBytes) {
    auto in = bytes({5, 1, 2, 1, 9, 9});
    auto p = parse_greeting(in);
    ASSERT_EQ(p.status, Status::kDone);
    EXPECT_EQ(p.consumed, 3u);
}

TEST(Socks5Codec, GreetingRejectsBadVersionAndNoMethods) {
    EXPECT_EQ(parse_greeting(bytes({4, 1, 0})).status, Status::kMalformed);
    EXPECT_EQ(parse_greeting(bytes({5, 0})).status, Status::kMalformed);
    EXPECT_EQ(parse_greeting(bytes({'G', 'E', 'T'})).status, Status::kMalformed);
}

TEST(Socks5Codec, GreetingWith255Methods) {
    Buffer in{5, 255};
    for (int i = 0; i < 255; ++i) in.push_back(static_cast<std::uint8_t>(i));
    auto p = parse_greeting(in);
    ASSERT_EQ(p.status, Status::kDone);
    EXPECT_EQ(p.value.count, 255);
    EXPECT_TRUE(p.value.offers(Method::kUserPass));
}

TEST(Socks5Codec, MethodSelectionRoundTrip) {
    Buffer out;
    encode_method_selection(out, Method::kNoAcceptable);
    EXPECT_EQ(out, bytes({5, 0xFF}));
    auto p = parse_method_selection(out);
    ASSERT_EQ(p.status, Status::kDone);
    EXPECT_EQ(p.value, Method::kNoAcceptable);
}

TEST(Socks5Codec, CredentialsRoundTrip) {
    Buffer out;
    ASSERT_TRUE(encode_credentials(out, "alice", "s3cret:x"));
    auto p = parse_credentials(out);
    ASSERT_EQ(p.status, Status::kDone);
    EXPECT_EQ(p.consumed, out.size());
    EXPECT_EQ(p.value.user, "alice");
    EXPECT_EQ(p.value.password, "s3cret:x");
    expect_prefixes_need_more(out, parse_credentials);
}

TEST(Socks5Codec, CredentialsFieldBounds) {
    EXPECT_EQ(parse_credentials(bytes({1, 0, 1, 'p'})).status, Status::kMalformed);
    EXPECT_EQ(parse_credentials(bytes({1, 1, 'u', 0})).status, Status::kMalformed);
    EXPECT_EQ(parse_credentials(bytes({5, 1, 'u', 1, 'p'})).status, Status::kMalformed);
    Buffer out;
    EXPECT_FALSE(encode_credentials(out, "", "p"));
    EXPECT_FALSE(encode_credentials(out, "u", std::string(256, 'p')));
    EXPECT_TRUE(out.empty());
    ASSERT_TRUE(encode_credentials(out, std::string(255, 'u'), std::string(255, 'p')));
    EXPECT_EQ(parse_credentials(out).status, Status::kDone);
}

TEST(Socks5Codec, AuthReply) {
    Buffer out;
    encode_auth_reply(out, true);
    encode_auth_reply(out, false);
    EXPECT_EQ(out, bytes({1, 0, 1, 1}));
    EXPECT_TRUE(parse_auth_reply(out).value);
    EXPECT_FALSE(parse_auth_reply(ByteView(out).subspan(2)).value);
}

TEST(Socks5Codec, RequestIpv4) {
    auto in = bytes({5, 1, 0, 1, 127, 0, 0, 1, 0x1F, 0x90});
    auto p = parse_request(in);
    ASSERT_EQ(p.status, Status::kDone);
    EXPECT_EQ(p.consumed, in.size());
    EXPECT_EQ(p.value.command, 1);
    EXPECT_EQ(p.value.destination, Address::ipv4({127, 0, 0, 1}, 8080));
    expect_prefixes_need_more(in, parse_request);
}

TEST(Socks5Codec, RequestIpv6AndDomainRoundTrip) {
    std::array<std::uint8_t, 16> v6{};
    v6[15] = 1;
    for (const auto& a : {Address::ipv6(v6, 443), Address::host("example.org", 80)}) {
        for (auto c : {Command::kConnect, Command::kBind, Command::kUdpAssociate}) {
            Buffer out;
            ASSERT_TRUE(encode_request(out, c, a));
            auto p = parse_request(out);
            ASSERT_EQ(p.status, Status::kDone);
            EXPECT_EQ(p.value.command, static_cast<std::uint8_t>(c));
            EXPECT_EQ(p.value.destination, a);
            expect_prefixes_need_more(out, parse_request);
        }
    }
}

TEST(Socks5Codec, RequestErrors) {
    EXPECT_EQ(parse_request(bytes({4, 1, 0, 1, 1, 2, 3, 4, 0, 80})).status, Status::kMalformed);
    EXPECT_EQ(parse_request(bytes({5, 1, 1, 1, 1, 2, 3, 4, 0, 80})).status, Status::kMalformed);
    EXPECT_EQ(parse_request(bytes({5, 1, 0, 3, 0, 0, 80})).status, Status::kMalformed);
    auto bad_atyp = parse_request(bytes({5, 1, 0, 2, 1, 2, 3, 4, 0, 80}));
    EXPECT_EQ(bad_atyp.status, Status::kAddressTypeNotSupported);
    // An unknown command still parses, so the server can answer 0x07.
    auto p = parse_request(bytes({5, 9, 0, 1, 1, 2, 3, 4, 0, 80}));
    ASSERT_EQ(p.status, Status::kDone);
    EXPECT_EQ(p.value.command, 9);
}

TEST(Socks5Codec, DomainOf255Bytes) {
    Buffer out;
    ASSERT_TRUE(encode_request(out, Command::kConnect, Address::host(std::string(255, 'a'), 1)));
    EXPECT_EQ(parse_request(out).value.destination.domain.size(), 255u);
    Buffer none;
    EXPECT_FALSE(encode_request(none, Command::kConnect, Address::host(std::string(256, 'a'), 1)));
    EXPECT_FALSE(encode_request(none, Command::kConnect, Address::host("", 1)));
    EXPECT_TRUE(none.empty());
}

TEST(Socks5Codec, EveryReplyCodeRoundTrips) {
    for (int c = 0; c <= 8; ++c) {
        Buffer out;
        Reply r{static_cast<ReplyCode>(c), Address::ipv4({10, 1, 2, 3}, 1080)};
        ASSERT_TRUE(encode_reply(out, r));
        EXPECT_EQ(out[1], c);
        auto p = parse_reply(out);
        ASSERT_EQ(p.status, Status::kDone);
        EXPECT_EQ(p.value.code, r.code);
        EXPECT_EQ(p.value.bound, r.bound);
        expect_prefixes_need_more(out, parse_reply);
    }
    EXPECT_EQ(parse_reply(bytes({5, 9, 0, 1, 0, 0, 0, 0, 0, 0})).status, Status::kMalformed);
}

TEST(Socks5Codec, UdpDatagram) {
    Buffer out;
    ASSERT_TRUE(encode_udp_header(out, Address::ipv4({1, 2, 3, 4}, 53)));
    out.insert(out.end(), {'h', 'i'});
    auto p = parse_udp_datagram(out);
    ASSERT_EQ(p.status, Status::kDone);
    EXPECT_EQ(p.value.fragment, 0);
    EXPECT_EQ(p.value.destination, Address::ipv4({1, 2, 3, 4}, 53));
    ASSERT_EQ(p.value.data.size(), 2u);
    EXPECT_EQ(p.value.data[0], 'h');
    // Truncated datagrams are malformed, never "need more": UDP has no next segment.
    for (std::size_t n = 0; n < 10; ++n)
        EXPECT_EQ(parse_udp_datagram(ByteView(out.data(), n)).status, Status::kMalformed);
    out[2] = 1;
    EXPECT_EQ(parse_udp_datagram(out).value.fragment, 1);
    out[0] = 1;
    EXPECT_EQ(parse_udp_datagram(out).status, Status::kMalformed);
    EXPECT_EQ(parse_udp_datagram(bytes({0, 0, 0, 7, 1, 2})).status,
              Status::kAddressTypeNotSupported);
}

TEST(Socks5Codec, ConnectErrnoMapping) {
    EXPECT_EQ(reply_for_connect_errno(ECONNREFUSED), ReplyCode::kConnectionRefused);
    EXPECT_EQ(reply_for_connect_errno(ENETUNREACH), ReplyCode::kNetworkUnreachable);
    EXPECT_EQ(reply_for_connect_errno(EADDRNOTAVAIL), ReplyCode::kNetworkUnreachable);
    EXPECT_EQ(reply_for_connect_errno(EHOSTUNREACH), ReplyCode::kHostUnreachable);
    EXPECT_EQ(reply_for_connect_errno(ETIMEDOUT), ReplyCode::kTtlExpired);
    EXPECT_EQ(reply_for_connect_errno(EACCES), ReplyCode::kNotAllowed);
    EXPECT_EQ(reply_for_connect_errno(EIO), ReplyCode::kGeneralFailure);
}

}  // namespace
}  // namespace pp::relay::socks5

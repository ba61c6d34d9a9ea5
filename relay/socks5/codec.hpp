#pragma once
// SOCKS5 wire formats (RFC 1928 and the RFC 1929 username/password sub-negotiation), sans-IO:
// parsers take the bytes received so far and say "need more", "malformed" or "parsed, N bytes
// consumed"; encoders append to a caller's buffer. Both server and client sides are here so the
// tests and the fuzzer can round-trip every message. No Boost, no sockets.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pp::relay::socks5 {

using ByteView = std::span<const std::uint8_t>;
using Buffer = std::vector<std::uint8_t>;

inline constexpr std::uint8_t kVersion = 0x05;
inline constexpr std::uint8_t kAuthVersion = 0x01;  // RFC 1929 sub-negotiation version

enum class Method : std::uint8_t {
    kNoAuth = 0x00,
    kGssapi = 0x01,
    kUserPass = 0x02,
    kNoAcceptable = 0xFF,
};

enum class Command : std::uint8_t {
    kConnect = 0x01,
    kBind = 0x02,
    kUdpAssociate = 0x03,
};

enum class AddressType : std::uint8_t {
    kIpv4 = 0x01,
    kDomain = 0x03,
    kIpv6 = 0x04,
};

enum class ReplyCode : std::uint8_t {
    kSucceeded = 0x00,
    kGeneralFailure = 0x01,
    kNotAllowed = 0x02,
    kNetworkUnreachable = 0x03,
    kHostUnreachable = 0x04,
    kConnectionRefused = 0x05,
    kTtlExpired = 0x06,
    kCommandNotSupported = 0x07,
    kAddressTypeNotSupported = 0x08,
};

enum class Status : std::uint8_t {
    kDone,       // `value` is valid, `consumed` bytes were used
    kNeedMore,   // a prefix of a valid message: read more and parse again from the start
    kMalformed,  // not a valid message; `error` says why
    // A request whose ATYP we do not know: its length is unknown, so the only answer is
    // reply 0x08 and closing (RFC 1928 sec. 6).
    kAddressTypeNotSupported,
};

template <typename T>
struct Parsed {
    Status status = Status::kNeedMore;
    std::size_t consumed = 0;
    T value{};
    std::string_view error;  // static text, set for kMalformed and kAddressTypeNotSupported
};

// DST/BND address: an IPv4 or IPv6 address in network order, or a host name (1..255 bytes).
struct Address {
    AddressType type = AddressType::kIpv4;
    std::array<std::uint8_t, 16> ip{};  // first 4 bytes for IPv4
    std::string domain;
    std::uint16_t port = 0;

    static Address ipv4(std::array<std::uint8_t, 4> a, std::uint16_t port);
    static Address ipv6(const std::array<std::uint8_t, 16>& a, std::uint16_t port);
    static Address host(std::string_view name, std::uint16_t port);
    bool operator==(const Address&) const = default;
};

struct Greeting {
    std::array<std::uint8_t, 255> methods{};
    std::uint8_t count = 0;  // 1..255
    bool offers(Method m) const;
};

// RFC 1929: both fields 1..255 bytes. The caller wipes `password` once it has checked it.
struct Credentials {
    std::string user;
    std::string password;
};

struct Request {
    std::uint8_t command = 0;  // raw: an unknown command still parses, to be answered with 0x07
    Address destination;
};

struct Reply {
    ReplyCode code = ReplyCode::kSucceeded;
    Address bound;
};

// UDP ASSOCIATE datagram header (RFC 1928 sec. 7); `data` points into the parsed datagram.
struct UdpDatagram {
    std::uint8_t fragment = 0;
    Address destination;
    ByteView data;
};

// Server side: what the client sends.
Parsed<Greeting> parse_greeting(ByteView in);
Parsed<Credentials> parse_credentials(ByteView in);
Parsed<Request> parse_request(ByteView in);
// A datagram is whole or nothing: a truncated one is malformed, never "need more".
Parsed<UdpDatagram> parse_udp_datagram(ByteView in);

void encode_method_selection(Buffer& out, Method m);
void encode_auth_reply(Buffer& out, bool ok);
// False (and nothing appended) when a domain address is empty or longer than 255 bytes.
bool encode_reply(Buffer& out, const Reply& r);
bool encode_udp_header(Buffer& out, const Address& a);

// Client side: what the server sends, and what a client writes (tests, fuzzer round trips).
Parsed<Method> parse_method_selection(ByteView in);
Parsed<bool> parse_auth_reply(ByteView in);
Parsed<Reply> parse_reply(ByteView in);

// False when a field does not fit its length byte (an empty or >255-byte name or method list).
bool encode_greeting(Buffer& out, std::span<const Method> methods);
bool encode_credentials(Buffer& out, std::string_view user, std::string_view password);
bool encode_request(Buffer& out, Command c, const Address& destination);

}  // namespace pp::relay::socks5

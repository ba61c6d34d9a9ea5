#pragma once
// The client's side of the two proxy protocols a route may go through, as pure functions on
// bytes (no sockets, no clock): the route racer does the I/O, the fuzzer and the unit tests
// call these directly.
//
// SOCKS5 (RFC 1928, RFC 1929): greeting → method choice → [username/password → auth reply] →
// CONNECT → reply. Names are sent as names (ATYP 0x03) so the proxy resolves them: the client's
// DNS, which a censor may answer, is never asked. IP literals go as 0x01/0x04.
// HTTP CONNECT (RFC 9110 9.3.6): request head → response head; 2xx opens the tunnel.
//
// Errors are values whose detail names the step. Codes: kMalformed (bytes that are not the
// protocol, or a value we cannot encode), kLimitExceeded (the proxy refuses us: no acceptable
// method, wrong credentials, not allowed by its rules, response head too large), kNoSession
// (the proxy cannot reach the server: unreachable, refused, TTL expired, other refusals),
// kInternal (the proxy's own failure, or a command or address type it does not support).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/bytes.hpp"
#include "base/result.hpp"

namespace pp::net::proxy {

// A reply read so far: complete (then `size` bytes of the input are the reply), or not yet
// (then at least `size` bytes in total are needed before asking again).
struct Progress {
    bool complete = false;
    std::size_t size = 0;
};

// ---- SOCKS5 ----
enum class Socks5Method : std::uint8_t { kNoAuth = 0x00, kPassword = 0x02 };

// VER 5, the methods offered: no authentication, and username/password when we have them.
Bytes socks5_greeting(bool offer_password);
// The proxy's two-byte choice. A method we did not offer is kMalformed; 0xFF kLimitExceeded.
Result<Socks5Method> socks5_parse_method(ByteView reply, bool offered_password);
// RFC 1929 request. Username and password: 1 to 255 bytes each (kMalformed otherwise).
Result<Bytes> socks5_password_request(std::string_view username, std::string_view password);
// RFC 1929 reply (VER 1, STATUS): 0 is success, anything else kLimitExceeded.
Result<void> socks5_parse_auth_reply(ByteView reply);
// CONNECT to host:port. `host`: a name (1 to 255 bytes, sent for the proxy to resolve), an
// IPv4 literal, or an IPv6 literal with or without brackets.
Result<Bytes> socks5_connect_request(std::string_view host, std::uint16_t port);
// The CONNECT reply: VER REP RSV ATYP BND.ADDR BND.PORT, of variable length. An error reply
// code is reported as soon as its first two bytes are in.
inline constexpr std::size_t kSocks5ReplyMin = 5;  // enough to know the whole reply's length
Result<Progress> socks5_parse_connect_reply(ByteView reply);

// ---- HTTP CONNECT ----
inline constexpr std::size_t kHttpHeadMax = 8 * 1024;
// "CONNECT host:port HTTP/1.1", Host, and Proxy-Authorization: Basic when `username` is set.
// Control characters anywhere, or ':' in the username (RFC 7617), are kMalformed.
Result<std::string> http_connect_request(std::string_view host, std::uint16_t port,
                                         std::string_view username, std::string_view password);
// The response head, ended by an empty line, at most kHttpHeadMax bytes. 2xx: the tunnel is
// open, and `reply` must hold nothing after the head (a proxy that speaks for the server before
// our TLS does is refused, kMalformed). 407, and 401 (what tinyproxy answers to wrong
// credentials): kLimitExceeded. Any other status: kNoSession.
Result<Progress> http_parse_connect_response(ByteView reply);

}  // namespace pp::net::proxy

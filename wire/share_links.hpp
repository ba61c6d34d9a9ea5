#pragma once
// Share links for a relay, built by the operator's tools and parsed wherever a user pastes or
// scans one:
//
//   paperplane://relay?host=H&port=P&pin=HEX64&secret=B64URL32[&name=NAME]
//   socks5://[user:password@]host:port          (RFC 3986 userinfo, "[v6]" hosts)
//   tg://socks?server=H&port=P[&user=U&pass=W]  (Telegram; https://t.me/socks?... too)
//
// Parsing is strict: bounded length, every parameter known and given once, a valid host and
// port, a 64-hex-digit pin, a 32-byte secret in canonical unpadded base64url. Errors are
// kMalformed with a static reason that says which rule failed. Pure code: no I/O.
#include <cstdint>
#include <string>
#include <string_view>

#include "base/bytes.hpp"
#include "base/result.hpp"

namespace pp::wire {

constexpr std::size_t kMaxLinkBytes = 2048;

// Relay mode: where the relay listens, the SHA-256 of its certificate to pin, and the secret
// the client's authenticator is derived from (a secret: the struct wipes it).
struct RelayLink {
    std::string host;  // DNS name, IPv4 or IPv6 (without brackets)
    std::uint16_t port = 0;
    std::string pin;  // 64 lowercase hex digits
    SecretArray<32> secret;
    std::string name;  // the operator's suggested display name (may be empty)
};

// A SOCKS5 server. Empty user and password: no authentication (method 0x00); otherwise both
// are 1-255 bytes (RFC 1929).
struct Socks5Link {
    std::string host;  // DNS name, IPv4 or IPv6 (without brackets)
    std::uint16_t port = 0;
    std::string user;
    std::string password;
    friend bool operator==(const Socks5Link&, const Socks5Link&) = default;
};

std::string format_relay_link(const RelayLink& link);
Result<RelayLink> parse_relay_link(std::string_view link);

std::string format_socks5_link(const Socks5Link& link);
Result<Socks5Link> parse_socks5_link(std::string_view link);

// tg:// opens the Telegram app directly; https://t.me/ goes through a browser first, which
// works where tg:// is not registered.
enum class TelegramForm { kApp, kWeb };
std::string format_telegram_socks_link(const Socks5Link& link,
                                       TelegramForm form = TelegramForm::kApp);
// Accepts both forms.
Result<Socks5Link> parse_telegram_socks_link(std::string_view link);

// A DNS name (labels of letters, digits, '-' and '_', 1-63 bytes, 253 in all), a dotted IPv4
// address or an IPv6 address without brackets.
bool valid_host(std::string_view host);

}  // namespace pp::wire

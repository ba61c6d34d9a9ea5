#include "wire/share_links.hpp"

#include <arpa/inet.h>
#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <initializer_list>
#include <map>

#include "base/hex.hpp"
#include "base/percent_encoding.hpp"

namespace pp::wire {

namespace {

constexpr std::string_view kRelayPrefix = "paperplane://relay?";
constexpr std::string_view kSocks5Prefix = "socks5://";
constexpr std::string_view kTelegramAppPrefix = "tg://socks?";
constexpr std::string_view kTelegramWebPrefix = "https://t.me/socks?";
constexpr std::size_t kSecretBase64Chars = 43;    // 32 bytes, unpadded
constexpr std::size_t kMaxCredentialBytes = 255;  // RFC 1929 ULEN / PLEN

Error malformed(std::string_view why) {
    return make_error(ErrorCode::kMalformed, why);
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// inet_pton reads a C string: the character checks keep an embedded NUL from ending the text
// early, which would accept "::1\0anything".
bool is_ipv6(std::string_view host) {
    if (host.empty() || host.size() > 45) return false;
    if (!std::all_of(host.begin(), host.end(), [](char c) {
            return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
        }))
        return false;
    const std::string s(host);
    in6_addr a{};
    return inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

bool is_ipv4(std::string_view host) {
    if (host.empty() || host.size() > 15) return false;
    if (!std::all_of(host.begin(), host.end(), [](char c) { return is_digit(c) || c == '.'; }))
        return false;
    const std::string s(host);
    in_addr a{};
    return inet_pton(AF_INET, s.c_str(), &a) == 1;
}

Result<std::uint16_t> parse_port(std::string_view s) {
    unsigned value = 0;
    if (s.empty() || s.size() > 5 || !std::all_of(s.begin(), s.end(), is_digit))
        return malformed("link: port must be 1-65535");
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || end != s.data() + s.size() || value == 0 || value > 65535)
        return malformed("link: port must be 1-65535");
    return static_cast<std::uint16_t>(value);
}

// A host as a query value: bare, or an IPv6 address in brackets.
Result<std::string> host_from_value(std::string_view v) {
    if (v.size() >= 2 && v.front() == '[' && v.back() == ']') {
        v = v.substr(1, v.size() - 2);
        if (!is_ipv6(v)) return malformed("link: only an IPv6 address goes in brackets");
    }
    if (!valid_host(v)) return malformed("link: host is not a host name or address");
    return std::string(v);
}

bool valid_credential(std::string_view s) {
    return !s.empty() && s.size() <= kMaxCredentialBytes;
}

// Display names: 1-64 bytes, no control characters (the rule client/links.hpp applies too).
bool valid_name(std::string_view name) {
    if (name.empty() || name.size() > 64) return false;
    return std::none_of(name.begin(), name.end(), [](char c) {
        const auto b = static_cast<unsigned char>(c);
        return b < 0x20 || b == 0x7F;
    });
}

using Params = std::map<std::string, std::string, std::less<>>;

// "k=v&k=v": every key once, only `allowed` keys, values percent-decoded.
Result<Params> parse_query(std::string_view query,
                           std::initializer_list<std::string_view> allowed) {
    Params out;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (amp != std::string_view::npos && query.empty()) return malformed("link: trailing '&'");
        const auto eq = pair.find('=');
        if (eq == std::string_view::npos) return malformed("link: parameters are k=v");
        const auto key = pair.substr(0, eq);
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
            return malformed("link: unknown parameter");
        auto value = percent_decode(pair.substr(eq + 1));
        if (!value) return value.error();
        if (!out.emplace(std::string(key), std::move(*value)).second)
            return malformed("link: repeated parameter");
    }
    return out;
}

// Wipes every decoded value (one of them may be a relay secret) when a parse ends, either way.
struct WipeOnExit {
    Params& params;
    ~WipeOnExit() {
        for (auto& [key, value] : params) sodium_memzero(value.data(), value.size());
    }
};

// Telegram and SOCKS5 clients hand these on as they are: control bytes are never meant (and
// a SOCKS5 link must convert to a Telegram one and back).
bool printable_credential(std::string_view s) {
    return std::none_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7f;
    });
}

const std::string* find(const Params& p, std::string_view key) {
    auto it = p.find(key);
    return it == p.end() ? nullptr : &it->second;
}

std::string host_for_authority(const std::string& host) {
    return is_ipv6(host) ? "[" + host + "]" : host;
}

std::string encode_secret(const SecretArray<32>& secret) {
    char out[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sodium_bin2base64(out, sizeof out, secret.data(), secret.size(),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    std::string s(out);
    sodium_memzero(out, sizeof out);
    return s;
}

// Exactly 43 base64url characters whose unused low bits are zero, so that each secret has one
// spelling and a link formats back to itself.
Result<SecretArray<32>> decode_secret(const std::string& text) {
    if (text.size() != kSecretBase64Chars)
        return malformed("link: secret must be 32 bytes in unpadded base64url");
    SecretArray<32> secret;
    std::size_t len = 0;
    const char* end = nullptr;
    if (sodium_base642bin(secret.data(), secret.size(), text.data(), text.size(), nullptr, &len,
                          &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        len != secret.size() || end != text.data() + text.size())
        return malformed("link: secret must be 32 bytes in unpadded base64url");
    std::string again = encode_secret(secret);
    const bool canonical = sodium_memcmp(again.data(), text.data(), text.size()) == 0;
    sodium_memzero(again.data(), again.size());
    if (!canonical) return malformed("link: secret is not canonical base64url");
    return secret;
}

// RFC 3986 userinfo: unreserved / pct-encoded / sub-delims / ":".
bool userinfo_char(char c) {
    return is_unreserved(c) || c == '%' || c == ':' ||
           std::string_view("!$&'()*+,;=").find(c) != std::string_view::npos;
}

}  // namespace

bool valid_host(std::string_view host) {
    if (host.empty() || host.size() > 253) return false;
    if (host.find(':') != std::string_view::npos) return is_ipv6(host);
    // A name whose last label is numeric would be read as an address: it has to be one.
    auto name = host;
    if (name.size() > 1 && name.ends_with('.')) name.remove_suffix(1);  // the root's dot
    const auto last_dot = name.rfind('.');
    const auto last = last_dot == std::string_view::npos ? name : name.substr(last_dot + 1);
    if (!last.empty() && std::all_of(last.begin(), last.end(), is_digit))
        return is_ipv4(name) && name == host;
    std::size_t label = 0;
    for (char c : host) {
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
            continue;
        }
        const bool ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' || c == '_';
        if (!ok || ++label > 63) return false;
    }
    return label > 0 || host.size() > 1;  // "example.org." (a trailing root dot) is fine
}

std::string format_relay_link(const RelayLink& link) {
    std::string out = std::string(kRelayPrefix) + "host=" + percent_encode(link.host) +
                      "&port=" + std::to_string(link.port) + "&pin=" + link.pin +
                      "&secret=" + encode_secret(link.secret);
    if (!link.name.empty()) out += "&name=" + percent_encode(link.name);
    return out;
}

Result<RelayLink> parse_relay_link(std::string_view link) {
    if (link.size() > kMaxLinkBytes) return malformed("link: too long");
    if (!link.starts_with(kRelayPrefix))
        return malformed("link: does not start with paperplane://relay?");
    auto p =
        parse_query(link.substr(kRelayPrefix.size()), {"host", "port", "pin", "secret", "name"});
    if (!p) return p.error();
    const WipeOnExit wipe{*p};
    const auto* host = find(*p, "host");
    const auto* port = find(*p, "port");
    const auto* pin = find(*p, "pin");
    const auto* secret = find(*p, "secret");
    if (!host || !port || !pin || !secret)
        return malformed("link: host, port, pin and secret are required");
    RelayLink out;
    PP_TRY(h, host_from_value(*host));
    out.host = std::move(h);
    PP_TRY(port_value, parse_port(*port));
    out.port = port_value;
    out.pin = *pin;
    std::transform(out.pin.begin(), out.pin.end(), out.pin.begin(),
                   [](char c) { return static_cast<char>(c >= 'A' && c <= 'F' ? c + 32 : c); });
    if (out.pin.size() != 64 || !from_hex(out.pin))
        return malformed("link: pin must be 64 hex digits (SHA-256)");
    PP_TRY(s, decode_secret(*secret));
    out.secret = s;
    if (const auto* name = find(*p, "name")) {
        if (!valid_name(*name)) return malformed("link: name must be 1-64 printable bytes");
        out.name = *name;
    }
    return out;
}

std::string format_socks5_link(const Socks5Link& link) {
    std::string out(kSocks5Prefix);
    if (!link.user.empty() || !link.password.empty())
        out += percent_encode(link.user) + ":" + percent_encode(link.password) + "@";
    return out + host_for_authority(link.host) + ":" + std::to_string(link.port);
}

Result<Socks5Link> parse_socks5_link(std::string_view link) {
    if (link.size() > kMaxLinkBytes) return malformed("link: too long");
    if (!link.starts_with(kSocks5Prefix)) return malformed("link: does not start with socks5://");
    auto authority = link.substr(kSocks5Prefix.size());
    if (authority.ends_with('/')) authority.remove_suffix(1);  // "socks5://h:1080/" is common
    if (authority.find_first_of("/?#") != std::string_view::npos)
        return malformed("socks5 link: no path, query or fragment allowed");
    Socks5Link out;
    if (const auto at = authority.find('@'); at != std::string_view::npos) {
        const auto userinfo = authority.substr(0, at);
        authority.remove_prefix(at + 1);
        if (authority.find('@') != std::string_view::npos)
            return malformed("socks5 link: '@' in the user or password must be %40");
        if (!std::all_of(userinfo.begin(), userinfo.end(), userinfo_char))
            return malformed("socks5 link: user and password must be percent-encoded");
        const auto colon = userinfo.find(':');
        if (colon == std::string_view::npos)
            return malformed("socks5 link: user without a password");
        PP_TRY(user, percent_decode(userinfo.substr(0, colon)));
        PP_TRY(password, percent_decode(userinfo.substr(colon + 1)));
        if (!valid_credential(user) || !valid_credential(password))
            return malformed("socks5 link: user and password must be 1-255 bytes");
        if (!printable_credential(user) || !printable_credential(password))
            return malformed("socks5 link: control bytes in user or password");
        out.user = std::move(user);
        out.password = std::move(password);
    }
    std::string_view host, port;
    if (authority.starts_with('[')) {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return malformed("socks5 link: unclosed '['");
        host = authority.substr(1, close - 1);
        if (!is_ipv6(host)) return malformed("link: only an IPv6 address goes in brackets");
        const auto rest = authority.substr(close + 1);
        if (!rest.starts_with(':')) return malformed("socks5 link: port is required");
        port = rest.substr(1);
    } else {
        const auto colon = authority.find(':');
        if (colon == std::string_view::npos) return malformed("socks5 link: port is required");
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
        if (port.find(':') != std::string_view::npos)
            return malformed("socks5 link: an IPv6 host goes in brackets");
        if (!valid_host(host)) return malformed("link: host is not a host name or address");
    }
    out.host = std::string(host);
    PP_TRY(port_value, parse_port(port));
    out.port = port_value;
    return out;
}

std::string format_telegram_socks_link(const Socks5Link& link, TelegramForm form) {
    std::string out(form == TelegramForm::kApp ? kTelegramAppPrefix : kTelegramWebPrefix);
    out += "server=" + percent_encode(link.host) + "&port=" + std::to_string(link.port);
    if (!link.user.empty() || !link.password.empty())
        out += "&user=" + percent_encode(link.user) + "&pass=" + percent_encode(link.password);
    return out;
}

Result<Socks5Link> parse_telegram_socks_link(std::string_view link) {
    if (link.size() > kMaxLinkBytes) return malformed("link: too long");
    if (link.starts_with(kTelegramAppPrefix))
        link.remove_prefix(kTelegramAppPrefix.size());
    else if (link.starts_with(kTelegramWebPrefix))
        link.remove_prefix(kTelegramWebPrefix.size());
    else
        return malformed("link: does not start with tg://socks? or https://t.me/socks?");
    auto p = parse_query(link, {"server", "port", "user", "pass"});
    if (!p) return p.error();
    const auto* server = find(*p, "server");
    const auto* port = find(*p, "port");
    if (!server || !port) return malformed("link: server and port are required");
    Socks5Link out;
    PP_TRY(h, host_from_value(*server));
    out.host = std::move(h);
    PP_TRY(port_value, parse_port(*port));
    out.port = port_value;
    const auto* user = find(*p, "user");
    const auto* pass = find(*p, "pass");
    if (user || pass) {
        if (!user || !pass || !valid_credential(*user) || !valid_credential(*pass))
            return malformed("telegram link: user and pass must both be 1-255 bytes");
        if (!printable_credential(*user) || !printable_credential(*pass))
            return malformed("telegram link: control bytes in user or pass");
        out.user = *user;
        out.password = *pass;
    }
    return out;
}

}  // namespace pp::wire

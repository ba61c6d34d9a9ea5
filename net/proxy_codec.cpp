#include "net/proxy_codec.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>

namespace pp::net::proxy {

namespace {

constexpr std::uint8_t kSocksVersion = 0x05;
constexpr std::uint8_t kPasswordVersion = 0x01;  // RFC 1929's sub-negotiation version
constexpr std::uint8_t kCmdConnect = 0x01;
constexpr std::uint8_t kAtypIpv4 = 0x01;
constexpr std::uint8_t kAtypName = 0x03;
constexpr std::uint8_t kAtypIpv6 = 0x04;
constexpr std::uint8_t kNoAcceptableMethod = 0xFF;

// "[::1]" → "::1"; anything else unchanged.
std::string_view unbracket(std::string_view host) {
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        return host.substr(1, host.size() - 2);
    }
    return host;
}

// inet_pton wants a terminated string; hosts longer than any address are not addresses.
template <std::size_t N>
bool parse_address(int family, std::string_view text, std::array<std::uint8_t, N>& out) {
    std::array<char, 64> z{};
    if (text.empty() || text.size() >= z.size()) return false;
    std::copy(text.begin(), text.end(), z.begin());
    return ::inet_pton(family, z.data(), out.data()) == 1;
}

bool has_control(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7F;
    });
}

std::string base64(std::string_view in) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= in.size(); i += 3) {
        const std::uint32_t v =
            static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16 |
            static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8 |
            static_cast<unsigned char>(in[i + 2]);
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += kAlphabet[(v >> 6) & 63];
        out += kAlphabet[v & 63];
    }
    const std::size_t rest = in.size() - i;
    if (rest > 0) {
        std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16;
        if (rest == 2) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

Error socks5_reply_error(std::uint8_t code) {
    switch (code) {
        case 0x01:
            return make_error(ErrorCode::kInternal, "socks5: general proxy failure");
        case 0x02:
            return make_error(ErrorCode::kLimitExceeded, "socks5: connection not allowed");
        case 0x03:
            return make_error(ErrorCode::kNoSession, "socks5: network unreachable");
        case 0x04:
            return make_error(ErrorCode::kNoSession, "socks5: host unreachable");
        case 0x05:
            return make_error(ErrorCode::kNoSession, "socks5: connection refused");
        case 0x06:
            return make_error(ErrorCode::kNoSession, "socks5: TTL expired");
        case 0x07:
            return make_error(ErrorCode::kInternal, "socks5: command not supported");
        case 0x08:
            return make_error(ErrorCode::kInternal, "socks5: address type not supported");
        default:
            return make_error(ErrorCode::kMalformed, "socks5: unknown reply code");
    }
}

}  // namespace

Bytes socks5_greeting(bool offer_password) {
    if (offer_password) {
        return {kSocksVersion, 2, static_cast<std::uint8_t>(Socks5Method::kNoAuth),
                static_cast<std::uint8_t>(Socks5Method::kPassword)};
    }
    return {kSocksVersion, 1, static_cast<std::uint8_t>(Socks5Method::kNoAuth)};
}

Result<Socks5Method> socks5_parse_method(ByteView reply, bool offered_password) {
    if (reply.size() != 2 || reply[0] != kSocksVersion) {
        return make_error(ErrorCode::kMalformed, "socks5: not a SOCKS5 method choice");
    }
    if (reply[1] == static_cast<std::uint8_t>(Socks5Method::kNoAuth)) {
        return Socks5Method::kNoAuth;
    }
    if (reply[1] == static_cast<std::uint8_t>(Socks5Method::kPassword) && offered_password) {
        return Socks5Method::kPassword;
    }
    if (reply[1] == kNoAcceptableMethod) {
        return make_error(ErrorCode::kLimitExceeded,
                          offered_password ? "socks5: proxy accepts none of our methods"
                                           : "socks5: proxy requires a username and password");
    }
    return make_error(ErrorCode::kMalformed, "socks5: proxy chose a method we did not offer");
}

Result<Bytes> socks5_password_request(std::string_view username, std::string_view password) {
    if (username.empty() || username.size() > 255 || password.empty() || password.size() > 255) {
        return make_error(ErrorCode::kMalformed, "socks5: username or password not 1-255 bytes");
    }
    Bytes out;
    out.reserve(3 + username.size() + password.size());
    out.push_back(kPasswordVersion);
    out.push_back(static_cast<std::uint8_t>(username.size()));
    append(out, as_bytes(username));
    out.push_back(static_cast<std::uint8_t>(password.size()));
    append(out, as_bytes(password));
    return out;
}

Result<void> socks5_parse_auth_reply(ByteView reply) {
    if (reply.size() != 2 || reply[0] != kPasswordVersion) {
        return make_error(ErrorCode::kMalformed, "socks5: not a password authentication reply");
    }
    if (reply[1] != 0) {
        return make_error(ErrorCode::kLimitExceeded, "socks5: proxy refused the credentials");
    }
    return {};
}

Result<Bytes> socks5_connect_request(std::string_view host, std::uint16_t port) {
    Bytes out{kSocksVersion, kCmdConnect, 0x00};
    std::array<std::uint8_t, 4> v4{};
    std::array<std::uint8_t, 16> v6{};
    const std::string_view bare = unbracket(host);
    if (parse_address(AF_INET, host, v4)) {
        out.push_back(kAtypIpv4);
        append(out, v4);
    } else if (parse_address(AF_INET6, bare, v6)) {
        out.push_back(kAtypIpv6);
        append(out, v6);
    } else {
        if (host.empty() || host.size() > 255 || has_control(host)) {
            return make_error(ErrorCode::kMalformed, "socks5: host name not 1-255 bytes");
        }
        out.push_back(kAtypName);
        out.push_back(static_cast<std::uint8_t>(host.size()));
        append(out, as_bytes(host));
    }
    out.push_back(static_cast<std::uint8_t>(port >> 8));
    out.push_back(static_cast<std::uint8_t>(port & 0xFF));
    return out;
}

Result<Progress> socks5_parse_connect_reply(ByteView reply) {
    if (reply.size() < 2) return Progress{false, kSocks5ReplyMin};
    if (reply[0] != kSocksVersion) {
        return make_error(ErrorCode::kMalformed, "socks5: not a SOCKS5 reply");
    }
    if (reply[1] != 0) return socks5_reply_error(reply[1]);
    if (reply.size() < kSocks5ReplyMin) return Progress{false, kSocks5ReplyMin};
    std::size_t total = 0;
    switch (reply[3]) {
        case kAtypIpv4:
            total = 4 + 4 + 2;
            break;
        case kAtypIpv6:
            total = 4 + 16 + 2;
            break;
        case kAtypName:
            total = 4 + 1 + std::size_t{reply[4]} + 2;
            break;
        default:
            return make_error(ErrorCode::kMalformed, "socks5: reply has an unknown address type");
    }
    if (reply.size() < total) return Progress{false, total};
    return Progress{true, total};
}

Result<std::string> http_connect_request(std::string_view host, std::uint16_t port,
                                         std::string_view username, std::string_view password) {
    if (host.empty() || has_control(host) || host.find(' ') != std::string_view::npos) {
        return make_error(ErrorCode::kMalformed, "http proxy: host empty or not printable");
    }
    if (has_control(username) || has_control(password) ||
        username.find(':') != std::string_view::npos) {
        return make_error(ErrorCode::kMalformed, "http proxy: credentials not printable");
    }
    std::array<std::uint8_t, 16> v6{};
    std::string authority;
    if (host.front() != '[' && parse_address(AF_INET6, host, v6)) {
        authority = "[" + std::string(host) + "]";
    } else {
        authority = std::string(host);
    }
    authority += ":" + std::to_string(port);
    std::string out = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
    if (!username.empty()) {
        std::string pair = std::string(username) + ":" + std::string(password);
        out += "Proxy-Authorization: Basic " + base64(pair) + "\r\n";
        std::fill(pair.begin(), pair.end(), '\0');
    }
    out += "\r\n";
    return out;
}

Result<Progress> http_parse_connect_response(ByteView reply) {
    const std::string_view text(reinterpret_cast<const char*>(reply.data()), reply.size());
    const std::size_t end = text.find("\r\n\r\n");
    if (end == std::string_view::npos) {
        if (reply.size() >= kHttpHeadMax) {
            return make_error(ErrorCode::kLimitExceeded, "http proxy: response head too large");
        }
        return Progress{false, reply.size() + 1};
    }
    const std::size_t head = end + 4;
    if (head > kHttpHeadMax) {
        return make_error(ErrorCode::kLimitExceeded, "http proxy: response head too large");
    }
    // "HTTP/1.x NNN" then a space or the end of the line.
    constexpr std::string_view kPrefix = "HTTP/1.";
    if (text.size() < 13 || text.substr(0, kPrefix.size()) != kPrefix ||
        (text[7] != '0' && text[7] != '1') || text[8] != ' ' ||
        (text[12] != ' ' && text[12] != '\r')) {
        return make_error(ErrorCode::kMalformed, "http proxy: not an HTTP response");
    }
    int status = 0;
    const auto [ptr, ec] = std::from_chars(text.data() + 9, text.data() + 12, status);
    if (ec != std::errc() || ptr != text.data() + 12 || status < 100) {
        return make_error(ErrorCode::kMalformed, "http proxy: not an HTTP response");
    }
    if (status == 407 || status == 401) {
        return make_error(ErrorCode::kLimitExceeded,
                          "http proxy: authentication required or refused");
    }
    if (status < 200 || status > 299) {
        return make_error(ErrorCode::kNoSession, "http proxy: refused the tunnel");
    }
    if (reply.size() > head) {
        return make_error(ErrorCode::kMalformed, "http proxy: bytes after the response head");
    }
    return Progress{true, head};
}

}  // namespace pp::net::proxy

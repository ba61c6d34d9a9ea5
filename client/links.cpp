#include "client/links.hpp"

#include <algorithm>
#include <charconv>
#include <map>

#include "base/hex.hpp"
#include "base/percent_encoding.hpp"

namespace pp::client {

namespace {

constexpr std::string_view kScheme = "paperplane://";
constexpr std::size_t kMaxLinkBytes = 2048;

using Params = std::map<std::string, std::string, std::less<>>;

// "paperplane://KIND?k=v&k=v": every key once, only `allowed` keys.
Result<Params> parse(std::string_view link, std::string_view kind,
                     std::initializer_list<std::string_view> allowed) {
    if (link.size() > kMaxLinkBytes) return make_error(ErrorCode::kMalformed, "link: too long");
    if (!link.starts_with(kScheme))
        return make_error(ErrorCode::kMalformed, "link: does not start with paperplane://");
    link.remove_prefix(kScheme.size());
    if (!link.starts_with(kind) || link.size() == kind.size() || link[kind.size()] != '?')
        return make_error(ErrorCode::kMalformed, "link: not the expected kind of link");
    link.remove_prefix(kind.size() + 1);
    Params out;
    while (!link.empty()) {
        const auto amp = link.find('&');
        const auto pair = link.substr(0, amp);
        link = amp == std::string_view::npos ? std::string_view{} : link.substr(amp + 1);
        const auto eq = pair.find('=');
        if (eq == std::string_view::npos) return make_error(ErrorCode::kMalformed, "link: k=v");
        const auto key = pair.substr(0, eq);
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
            return make_error(ErrorCode::kMalformed, "link: unknown parameter");
        auto value = percent_decode(pair.substr(eq + 1));
        if (!value) return value.error();
        if (!out.emplace(std::string(key), std::move(*value)).second)
            return make_error(ErrorCode::kMalformed, "link: repeated parameter");
    }
    return out;
}

Result<ServerAddress> server_from(const Params& p) {
    auto host = p.find("host");
    auto port = p.find("port");
    auto pin = p.find("pin");
    if (host == p.end() || port == p.end() || pin == p.end())
        return make_error(ErrorCode::kMalformed, "link: host, port and pin are required");
    ServerAddress s;
    s.host = host->second;
    if (s.host.empty() || s.host.size() > 253 ||
        !std::all_of(s.host.begin(), s.host.end(),
                     [](char c) { return is_unreserved(c) || c == ':' || c == '[' || c == ']'; }))
        return make_error(ErrorCode::kMalformed, "link: host is not a host name or address");
    unsigned value = 0;
    const auto& ps = port->second;
    auto [end, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), value);
    if (ec != std::errc() || end != ps.data() + ps.size() || value == 0 || value > 65535)
        return make_error(ErrorCode::kMalformed, "link: port must be 1-65535");
    s.port = static_cast<std::uint16_t>(value);
    s.pin = pin->second;
    std::transform(s.pin.begin(), s.pin.end(), s.pin.begin(),
                   [](char c) { return static_cast<char>(c >= 'A' && c <= 'F' ? c + 32 : c); });
    if (s.pin.size() != 64 || !from_hex(s.pin))
        return make_error(ErrorCode::kMalformed, "link: pin must be 64 hex digits (SHA-256)");
    return s;
}

std::string server_params(const ServerAddress& s) {
    return "host=" + percent_encode(s.host) + "&port=" + std::to_string(s.port) + "&pin=" + s.pin;
}

}  // namespace

bool valid_display_name(std::string_view name) {
    if (name.empty() || name.size() > 64) return false;
    return std::none_of(name.begin(), name.end(), [](char c) {
        const auto b = static_cast<unsigned char>(c);
        return b < 0x20 || b == 0x7F;
    });
}

std::string format_server_link(const ServerAddress& server) {
    return std::string(kScheme) + "server?" + server_params(server);
}

Result<ServerAddress> parse_server_link(std::string_view link) {
    auto p = parse(link, "server", {"host", "port", "pin"});
    if (!p) return p.error();
    return server_from(*p);
}

std::string format_contact_link(const ContactLink& link) {
    std::string out = std::string(kScheme) + "contact?" + server_params(link.server) +
                      "&account=" + to_hex(link.account) + "&identity=" + to_hex(link.identity_key);
    if (!link.name.empty()) out += "&name=" + percent_encode(link.name);
    return out;
}

Result<ContactLink> parse_contact_link(std::string_view link) {
    auto p = parse(link, "contact", {"host", "port", "pin", "account", "identity", "name"});
    if (!p) return p.error();
    auto server = server_from(*p);
    if (!server) return server.error();
    ContactLink out;
    out.server = *server;
    auto account = p->find("account");
    auto identity = p->find("identity");
    if (account == p->end() || identity == p->end())
        return make_error(ErrorCode::kMalformed, "link: account and identity are required");
    auto id = from_hex(account->second);
    if (!id || id->size() != out.account.size())
        return make_error(ErrorCode::kMalformed, "link: account must be 32 hex digits");
    std::copy(id->begin(), id->end(), out.account.begin());
    auto key = from_hex(identity->second);
    if (!key || key->size() != 33 || (*key)[0] != 0x05)
        return make_error(ErrorCode::kMalformed, "link: identity must be a 33-byte 05.. key");
    out.identity_key = std::move(*key);
    if (auto name = p->find("name"); name != p->end()) {
        if (!valid_display_name(name->second))
            return make_error(ErrorCode::kMalformed, "link: name must be 1-64 printable bytes");
        out.name = name->second;
    }
    return out;
}

}  // namespace pp::client

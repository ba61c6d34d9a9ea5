#include "relay/destination_policy.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace pp::relay {

namespace {

// Ranges no public proxy should reach unless the operator says so.
const char* const kDefaultDeny[] = {
    "0.0.0.0/8",       // "this network", includes the unspecified address
    "10.0.0.0/8",      // RFC 1918
    "100.64.0.0/10",   // carrier-grade NAT
    "127.0.0.0/8",     // loopback
    "169.254.0.0/16",  // link-local
    "172.16.0.0/12",   // RFC 1918
    "192.168.0.0/16",  // RFC 1918
    "224.0.0.0/4",     // multicast
    "240.0.0.0/4",     // reserved, includes broadcast
    "::/128",          // unspecified
    "::1/128",         // loopback
    "fc00::/7",        // unique local
    "fe80::/10",       // link-local
    "ff00::/8",        // multicast
    "192.0.0.0/24",    // IETF protocol assignments (DS-Lite, NAT64 discovery, ...)
    "198.18.0.0/15",   // benchmarking; also where some VPNs and fake-IP DNS land
    // NAT64 and 6to4 are not listed: their embedded IPv4 address is judged instead.
};

// The IPv4 address a translating prefix carries, per its layout: 64:ff9b::/96 (RFC 6052, the
// last 32 bits), 64:ff9b:1::/48 (RFC 8215 local use, RFC 6052's /48 layout: bits 48-63, then
// the u-octet, then bits 72-87) and 6to4 2002::/16 (RFC 3056, bits 16-47).
std::optional<IpAddress> embedded_v4(const IpAddress& a) {
    if (a.v4) return std::nullopt;
    const auto& b = a.bytes;
    static constexpr std::uint8_t kWkp[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (std::equal(std::begin(kWkp), std::end(kWkp), b.begin()))
        return IpAddress::from_v4({b[12], b[13], b[14], b[15]});
    static constexpr std::uint8_t kLocal[6] = {0, 0x64, 0xff, 0x9b, 0, 1};
    if (std::equal(std::begin(kLocal), std::end(kLocal), b.begin()))
        return IpAddress::from_v4({b[6], b[7], b[9], b[10]});
    if (b[0] == 0x20 && b[1] == 0x02) return IpAddress::from_v4({b[2], b[3], b[4], b[5]});
    return std::nullopt;
}

std::string normalize_host(std::string_view h) {
    if (!h.empty() && h.back() == '.') h.remove_suffix(1);
    std::string out(h);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool plausible_host(std::string_view h) {
    if (h.empty() || h.size() > 253) return false;
    return std::all_of(h.begin(), h.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
    });
}

}  // namespace

IpAddress IpAddress::from_v4(std::array<std::uint8_t, 4> b) {
    IpAddress a;
    a.v4 = true;
    std::copy(b.begin(), b.end(), a.bytes.begin());
    return a;
}

IpAddress IpAddress::from_v6(const std::array<std::uint8_t, 16>& b) {
    IpAddress a;
    a.v4 = false;
    a.bytes = b;
    return a;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
    if (text.size() > 63) return std::nullopt;
    std::string s(text);
    IpAddress a;
    if (::inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
        a.v4 = true;
        return a;
    }
    if (::inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
        a.v4 = false;
        return a;
    }
    return std::nullopt;
}

IpAddress IpAddress::unmapped() const {
    if (v4) return *this;
    static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    if (!std::equal(std::begin(kMapped), std::end(kMapped), bytes.begin())) return *this;
    return from_v4({bytes[12], bytes[13], bytes[14], bytes[15]});
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
    const auto slash = text.find('/');
    auto addr = IpAddress::parse(text.substr(0, slash));
    if (!addr) return std::nullopt;
    const unsigned max = addr->v4 ? 32 : 128;
    unsigned prefix = max;
    if (slash != std::string_view::npos) {
        auto digits = text.substr(slash + 1);
        if (digits.empty() || digits.size() > 3) return std::nullopt;
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
        if (ec != std::errc{} || end != digits.data() + digits.size() || prefix > max)
            return std::nullopt;
    }
    // An IPv4-mapped CIDR is stored as the IPv4 one it means.
    if (!addr->v4 && prefix >= 96 && addr->unmapped().v4) {
        addr = addr->unmapped();
        prefix -= 96;
    }
    return Cidr{*addr, prefix};
}

bool Cidr::contains(const IpAddress& raw) const {
    const IpAddress a = raw.unmapped();
    if (a.v4 != base.v4) return false;
    unsigned bits = prefix;
    for (std::size_t i = 0; bits > 0; ++i) {
        const unsigned take = bits >= 8 ? 8 : bits;
        const auto mask = static_cast<std::uint8_t>(0xFF << (8 - take));
        if ((a.bytes[i] & mask) != (base.bytes[i] & mask)) return false;
        bits -= take;
    }
    return true;
}

Result<DestinationPolicy> DestinationPolicy::create(const std::vector<std::string>& allow,
                                                    const std::vector<std::string>& deny,
                                                    std::vector<IpAddress> own_addresses) {
    DestinationPolicy p;
    auto add = [](const std::string& entry, std::vector<Cidr>& cidrs,
                  std::vector<std::string>& hosts) {
        if (auto c = Cidr::parse(entry)) {
            cidrs.push_back(*c);
            return true;
        }
        if (entry.find('/') != std::string::npos || !plausible_host(entry)) return false;
        hosts.push_back(normalize_host(entry));
        return true;
    };
    for (const auto& e : allow)
        if (!add(e, p.allow_, p.allow_hosts_))
            return make_error(ErrorCode::kMalformed, "socks5 allow entry is not a CIDR or host");
    for (const auto& e : deny)
        if (!add(e, p.deny_, p.deny_hosts_))
            return make_error(ErrorCode::kMalformed, "socks5 deny entry is not a CIDR or host");
    for (auto& a : own_addresses) p.own_.push_back(a.unmapped());
    return p;
}

bool DestinationPolicy::host_name_valid(std::string_view host) {
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
    return plausible_host(host);
}

bool DestinationPolicy::host_allowed(std::string_view host) const {
    const auto h = normalize_host(host);
    return std::find(deny_hosts_.begin(), deny_hosts_.end(), h) == deny_hosts_.end();
}

bool DestinationPolicy::host_explicitly_allowed(std::string_view host) const {
    const auto h = normalize_host(host);
    return std::find(allow_hosts_.begin(), allow_hosts_.end(), h) != allow_hosts_.end();
}

bool DestinationPolicy::address_allowed(const IpAddress& raw, bool via_allowed_host) const {
    const IpAddress a = raw.unmapped();
    // A translated address reaches its embedded IPv4 one: an explicit deny of either wins.
    const auto inner = embedded_v4(a);
    for (const auto& c : deny_)
        if (c.contains(a) || (inner && c.contains(*inner))) return false;
    if (via_allowed_host) return true;
    for (const auto& c : allow_)
        if (c.contains(a)) return true;
    if (inner) return address_allowed(*inner);
    if (std::find(own_.begin(), own_.end(), a) != own_.end()) return false;
    static const std::vector<Cidr> defaults = [] {
        std::vector<Cidr> v;
        for (const char* s : kDefaultDeny) v.push_back(*Cidr::parse(s));
        return v;
    }();
    for (const auto& c : defaults)
        if (c.contains(a)) return false;
    return true;
}

}  // namespace pp::relay

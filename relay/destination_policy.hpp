#pragma once
// Which destinations a SOCKS5 client may reach. Pure: built from Socks5Config's allow and deny
// lists plus the relay's own addresses, asked about a host name before resolution and about
// every resolved address before it is connected to (so a name that resolves to 127.0.0.1 after
// passing the name check is still refused: no DNS-rebinding bypass).
//
// Order: an explicit deny always wins; then an explicit allow (a CIDR covering the address, or
// an allowed host name the address was resolved from) opens it; then the default-deny set
// (loopback, private, link-local, CGNAT, unspecified, multicast, broadcast, their IPv4-mapped
// forms, and the relay's own addresses) closes it; everything else is allowed. A NAT64
// (64:ff9b::/96, 64:ff9b:1::/48) or 6to4 (2002::/16) address is judged by the IPv4 address it
// embeds, unless an allow entry covers the IPv6 address itself.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace pp::relay {

struct IpAddress {
    bool v4 = true;
    std::array<std::uint8_t, 16> bytes{};  // first 4 for IPv4

    static IpAddress from_v4(std::array<std::uint8_t, 4> b);
    static IpAddress from_v6(const std::array<std::uint8_t, 16>& b);
    // Dotted quad or RFC 4291 text (inet_pton rules); nullopt if neither.
    static std::optional<IpAddress> parse(std::string_view text);
    // ::ffff:a.b.c.d becomes a.b.c.d so one rule covers both spellings.
    IpAddress unmapped() const;
    bool operator==(const IpAddress&) const = default;
};

struct Cidr {
    IpAddress base;
    unsigned prefix = 0;  // 0..32 for IPv4, 0..128 for IPv6
    // "10.0.0.0/8", "::1/128", or a single address (a full-length prefix).
    static std::optional<Cidr> parse(std::string_view text);
    bool contains(const IpAddress& a) const;
};

class DestinationPolicy {
  public:
    // Fails on an entry that is neither a CIDR, an address, nor a plausible host name.
    static Result<DestinationPolicy> create(const std::vector<std::string>& allow,
                                            const std::vector<std::string>& deny,
                                            std::vector<IpAddress> own_addresses);

    // False for a name the resolver would read differently from the deny list: a NUL cuts it
    // short in getaddrinfo(), so "blocked.example\0x" would pass as "blocked.example"; any byte
    // that is not a letter, digit, '-', '_' or '.' (an optional trailing dot aside) is refused.
    static bool host_name_valid(std::string_view host);
    // Before resolution: false if the name is on the deny list. Names compare case-insensitively
    // and without a trailing dot.
    bool host_allowed(std::string_view host) const;
    // True if the name is on the allow list, which opens the addresses it resolves to.
    bool host_explicitly_allowed(std::string_view host) const;
    // After resolution, for each address about to be connected to (or sent a datagram).
    // `via_allowed_host`: the address came from resolving a host_explicitly_allowed name.
    bool address_allowed(const IpAddress& a, bool via_allowed_host = false) const;

  private:
    std::vector<Cidr> allow_, deny_;
    std::vector<std::string> allow_hosts_, deny_hosts_;
    std::vector<IpAddress> own_;
};

}  // namespace pp::relay

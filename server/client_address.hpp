#pragma once
// Client addresses as rate limits see them. One IPv4 address is one key. IPv6 is keyed by its
// /64: a subscriber is routinely given a whole /64 and can pick a new address in it for every
// connection, so the full address would be no limit at all. An IPv4-mapped IPv6 address
// (::ffff:a.b.c.d, what a dual-stack socket reports for IPv4 clients) is its IPv4 address.
#include <string>
#include <string_view>

namespace pp::server {

// The IP of a peer given as "ip:port" or "[ipv6]:port" (the net layer's form), without the
// port; IPv4-mapped IPv6 as plain IPv4. Unparsable input is returned unchanged.
std::string peer_ip(std::string_view peer);

// The rate-limit key of a peer: "a.b.c.d" for IPv4, "xxxx:xxxx:xxxx:xxxx::/64" for IPv6.
std::string address_key(std::string_view peer);

}  // namespace pp::server

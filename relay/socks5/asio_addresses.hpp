#pragma once
// Conversions between Asio's addresses and the pure forms the SOCKS5 codec and the destination
// policy use (they stay free of Boost so the fuzz build takes them).
#include <boost/asio/ip/address.hpp>

#include <algorithm>

#include "relay/destination_policy.hpp"
#include "relay/socks5/codec.hpp"

namespace pp::relay::socks5 {

inline IpAddress to_ip(const boost::asio::ip::address& a) {
    if (a.is_v4()) return IpAddress::from_v4(a.to_v4().to_bytes());
    return IpAddress::from_v6(a.to_v6().to_bytes());
}

// The address of an IPv4 or IPv6 destination (not of a domain name).
inline boost::asio::ip::address to_asio(const Address& dst) {
    if (dst.type == AddressType::kIpv4) {
        boost::asio::ip::address_v4::bytes_type b;
        std::copy_n(dst.ip.begin(), 4, b.begin());
        return boost::asio::ip::address_v4(b);
    }
    return boost::asio::ip::address_v6(dst.ip);
}

}  // namespace pp::relay::socks5

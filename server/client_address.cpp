#include "server/client_address.hpp"

#include <boost/asio/ip/address.hpp>

namespace pp::server {

namespace {

std::string_view strip_port(std::string_view peer) {
    if (!peer.empty() && peer.front() == '[') {
        auto close = peer.find(']');
        return close == std::string_view::npos ? peer : peer.substr(1, close - 1);
    }
    auto colon = peer.rfind(':');
    // More than one colon and no brackets: a bare IPv6 address without a port.
    if (colon == std::string_view::npos || peer.find(':') != colon) return peer;
    return peer.substr(0, colon);
}

// nullopt-like: an unspecified address when `text` is not an IP address.
boost::asio::ip::address parse(std::string_view text, bool& ok) {
    boost::system::error_code ec;
    auto a = boost::asio::ip::make_address(std::string(text), ec);
    ok = !ec;
    if (ok && a.is_v6() && a.to_v6().is_v4_mapped())
        return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
    return a;
}

}  // namespace

std::string peer_ip(std::string_view peer) {
    const std::string_view ip = strip_port(peer);
    bool ok = false;
    auto a = parse(ip, ok);
    return ok ? a.to_string() : std::string(ip);
}

std::string address_key(std::string_view peer) {
    const std::string_view ip = strip_port(peer);
    bool ok = false;
    auto a = parse(ip, ok);
    if (!ok) return std::string(ip);
    if (a.is_v4()) return a.to_string();
    auto bytes = a.to_v6().to_bytes();
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(24);
    for (std::size_t i = 0; i < 8; i += 2) {
        // Four groups of four hex digits: a fixed form, so equal prefixes are equal keys.
        for (std::size_t j = i; j < i + 2; ++j) {
            out += kHex[bytes[j] >> 4];
            out += kHex[bytes[j] & 0xF];
        }
        out += ':';
    }
    out += ":/64";
    return out;
}

}  // namespace pp::server

#include <gtest/gtest.h>

#include "server/client_address.hpp"

namespace pp::server {
namespace {

TEST(ClientAddress, Ipv4IsItsOwnKey) {
    EXPECT_EQ(address_key("203.0.113.9:443"), "203.0.113.9");
    EXPECT_EQ(address_key("203.0.113.9:1"), address_key("203.0.113.9:65535"));
    EXPECT_NE(address_key("203.0.113.9:1"), address_key("203.0.113.10:1"));
    EXPECT_EQ(peer_ip("203.0.113.9:443"), "203.0.113.9");
}

TEST(ClientAddress, Ipv6IsKeyedByItsSlash64) {
    const auto a = address_key("[2001:db8:aa:bb:1:2:3:4]:443");
    EXPECT_EQ(a, "2001:0db8:00aa:00bb::/64");
    // Any address in the same /64 (one subscriber) is the same key, however it is written.
    EXPECT_EQ(address_key("[2001:db8:aa:bb::1]:1"), a);
    EXPECT_EQ(address_key("[2001:0DB8:00AA:00BB:ffff:ffff:ffff:ffff]:2"), a);
    EXPECT_NE(address_key("[2001:db8:aa:bc::1]:1"), a);
    EXPECT_EQ(address_key("[::1]:8443"), "0000:0000:0000:0000::/64");
    // Logs (when enabled) show the full address.
    EXPECT_EQ(peer_ip("[2001:db8:aa:bb:1:2:3:4]:443"), "2001:db8:aa:bb:1:2:3:4");
}

TEST(ClientAddress, Ipv4MappedIpv6IsIpv4) {
    EXPECT_EQ(address_key("[::ffff:203.0.113.9]:443"), "203.0.113.9");
    EXPECT_EQ(address_key("[::ffff:cb00:7109]:443"), "203.0.113.9");
    EXPECT_EQ(peer_ip("[::ffff:203.0.113.9]:443"), "203.0.113.9");
}

TEST(ClientAddress, UnparsableInputIsKeptAsIs) {
    EXPECT_EQ(address_key("?"), "?");
    EXPECT_EQ(address_key("not-an-ip:80"), "not-an-ip");
    EXPECT_EQ(address_key("[2001:db8::1"), "[2001:db8::1");
}

}  // namespace
}  // namespace pp::server

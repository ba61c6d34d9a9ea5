#include "relay/destination_policy.hpp"

#include <gtest/gtest.h>

namespace pp::relay {
namespace {

IpAddress ip(const char* s) {
    return *IpAddress::parse(s);
}

DestinationPolicy make(std::vector<std::string> allow, std::vector<std::string> deny,
                       std::vector<IpAddress> own = {}) {
    auto p = DestinationPolicy::create(allow, deny, std::move(own));
    EXPECT_TRUE(p.ok());
    return std::move(*p);
}

TEST(DestinationPolicy, DefaultDeniesInternalRanges) {
    auto p = make({}, {});
    for (const char* a : {"127.0.0.1",
                          "127.255.0.9",
                          "10.1.2.3",
                          "172.16.0.1",
                          "172.31.255.255",
                          "192.168.1.1",
                          "169.254.169.254",
                          "100.64.0.1",
                          "100.127.255.255",
                          "0.0.0.0",
                          "224.0.0.1",
                          "255.255.255.255",
                          "::",
                          "::1",
                          "fc00::1",
                          "fd12::1",
                          "fe80::1",
                          "ff02::1",
                          "::ffff:127.0.0.1",
                          "::ffff:10.0.0.1",
                          "::ffff:169.254.1.1",
                          "64:ff9b::7f00:1",
                          "192.0.0.1",
                          "198.18.0.1",
                          "198.19.255.255"})
        EXPECT_FALSE(p.address_allowed(ip(a))) << a;
    for (const char* a : {"1.1.1.1", "8.8.8.8", "172.32.0.1", "100.128.0.1", "192.169.0.1",
                          "2001:db8::1", "2606:4700::1111", "::ffff:1.1.1.1"})
        EXPECT_TRUE(p.address_allowed(ip(a))) << a;
}

// NAT64 and 6to4 addresses are judged by the IPv4 address they embed.
TEST(DestinationPolicy, TranslatedAddressesJudgedByTheirEmbeddedIpv4) {
    auto p = make({}, {"9.9.9.9"}, {ip("203.0.113.7")});
    for (const char* a : {"64:ff9b::a00:1",            // 10.0.0.1
                          "64:ff9b::7f00:1",           // 127.0.0.1
                          "64:ff9b::909:909",          // 9.9.9.9, denied explicitly
                          "64:ff9b::cb00:7107",        // 203.0.113.7, our own
                          "64:ff9b:1:a00:0:100::",     // RFC 8215 /48: 10.0.0.1
                          "64:ff9b:1:a9fe:a9:fe00::",  // 169.254.169.254
                          "2002:a00:1::1",             // 6to4 of 10.0.0.1
                          "2002:7f00:1::"})            // 6to4 of 127.0.0.1
        EXPECT_FALSE(p.address_allowed(ip(a))) << a;
    for (const char* a : {"64:ff9b::808:808", "64:ff9b:1:808:8:800::", "2002:808:808::1"})
        EXPECT_TRUE(p.address_allowed(ip(a))) << a;
    auto open = make({"10.0.0.0/8"}, {});
    EXPECT_TRUE(open.address_allowed(ip("64:ff9b::a00:1")));
}

TEST(DestinationPolicy, HostNameValidity) {
    for (const char* h : {"example.com", "example.com.", "a-b_c.example", "localhost"})
        EXPECT_TRUE(DestinationPolicy::host_name_valid(h)) << h;
    EXPECT_FALSE(DestinationPolicy::host_name_valid(std::string("localhost\0x", 11)));
    for (const char* h : {"", ".", "local host", "a/b", "a%00b", "ex\xc3\xa4mple.com"})
        EXPECT_FALSE(DestinationPolicy::host_name_valid(h)) << h;
}

TEST(DestinationPolicy, OwnAddressesDenied) {
    auto p = make({}, {}, {ip("203.0.113.7"), ip("2001:db8::7")});
    EXPECT_FALSE(p.address_allowed(ip("203.0.113.7")));
    EXPECT_FALSE(p.address_allowed(ip("::ffff:203.0.113.7")));
    EXPECT_FALSE(p.address_allowed(ip("2001:db8::7")));
    EXPECT_TRUE(p.address_allowed(ip("203.0.113.8")));
}

TEST(DestinationPolicy, AllowOpensAndDenyAlwaysWins) {
    auto p = make({"127.0.0.0/8", "::1"}, {"127.0.0.2", "8.8.0.0/16"});
    EXPECT_TRUE(p.address_allowed(ip("127.0.0.1")));
    EXPECT_TRUE(p.address_allowed(ip("::ffff:127.0.0.1")));
    EXPECT_TRUE(p.address_allowed(ip("::1")));
    EXPECT_FALSE(p.address_allowed(ip("127.0.0.2")));
    EXPECT_FALSE(p.address_allowed(ip("8.8.8.8")));
    EXPECT_FALSE(p.address_allowed(ip("::ffff:8.8.8.8")));
    EXPECT_TRUE(p.address_allowed(ip("8.9.0.1")));
    EXPECT_FALSE(p.address_allowed(ip("10.0.0.1")));
    auto q = make({"0.0.0.0/0"}, {"8.8.8.8", "::ffff:9.9.9.9"});
    EXPECT_FALSE(q.address_allowed(ip("9.9.9.9")));
    EXPECT_FALSE(q.address_allowed(ip("8.8.8.8"), /*via_allowed_host=*/true));
}

TEST(DestinationPolicy, HostNames) {
    auto p = make({"intranet.example"}, {"blocked.example"});
    EXPECT_FALSE(p.host_allowed("BLOCKED.example."));
    EXPECT_TRUE(p.host_allowed("other.example"));
    EXPECT_TRUE(p.host_explicitly_allowed("Intranet.Example"));
    // An allowed name opens the private address it resolves to; an unlisted one does not.
    EXPECT_TRUE(p.address_allowed(ip("10.0.0.5"), true));
    EXPECT_FALSE(p.address_allowed(ip("10.0.0.5"), false));
}

TEST(DestinationPolicy, CidrParsing) {
    EXPECT_TRUE(Cidr::parse("10.0.0.0/8"));
    EXPECT_TRUE(Cidr::parse("::/0"));
    EXPECT_FALSE(Cidr::parse("10.0.0.0/33"));
    EXPECT_FALSE(Cidr::parse("::/129"));
    EXPECT_FALSE(Cidr::parse("10.0.0.0/"));
    EXPECT_FALSE(Cidr::parse("10.0.0.0/8x"));
    EXPECT_FALSE(Cidr::parse("10.0.0/8"));
    auto c = *Cidr::parse("192.168.0.0/23");
    EXPECT_TRUE(c.contains(ip("192.168.1.255")));
    EXPECT_FALSE(c.contains(ip("192.168.2.0")));
    EXPECT_FALSE(c.contains(ip("::1")));
    EXPECT_FALSE(DestinationPolicy::create({"10.0.0.0/99"}, {}, {}).ok());
    EXPECT_FALSE(DestinationPolicy::create({}, {"bad host!"}, {}).ok());
}

}  // namespace
}  // namespace pp::relay

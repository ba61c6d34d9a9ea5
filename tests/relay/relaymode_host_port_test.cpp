// "host:port" as operators write upstreams and the decoy, and as clients name their target.
#include <gtest/gtest.h>

#include "relay/upstream_connect.hpp"

namespace pp::relay::detail {
namespace {

TEST(RelayHostPort, Splits) {
    auto a = split_host_port("chat.example.org:443");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->host, "chat.example.org");
    EXPECT_EQ(a->port, "443");
    auto b = split_host_port("[2001:db8::1]:8443");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->host, "2001:db8::1");
    EXPECT_EQ(b->port, "8443");
}

TEST(RelayHostPort, RejectsBadInput) {
    for (const char* bad :
         {"", "host", "host:", ":443", "host:0", "host:65536", "host:44x", "[]:1", "host:-1"}) {
        EXPECT_FALSE(split_host_port(bad)) << bad;
    }
}

}  // namespace
}  // namespace pp::relay::detail

// Memory per idle proxied connection: many CONNECTed tunnels with no traffic must not hold
// buffers or pipes. Measured as the growth of this process's RSS, which also holds the test's
// clients and destination (plain fds, a few bytes each).
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <fstream>

#include "tests/relay/socks5_test_support.hpp"

namespace pp::relay::test {
namespace {

long rss_bytes() {
    long pages = 0, resident = 0;
    std::ifstream("/proc/self/statm") >> pages >> resident;
    return resident * ::sysconf(_SC_PAGESIZE);
}

#if defined(__SANITIZE_ADDRESS__)
constexpr long kBoundPerConnection = 64 * 1024;  // redzones and quarantine, not our memory
#else
constexpr long kBoundPerConnection = 4 * 1024;
#endif

TEST(Socks5Memory, IdleConnectionsStayUnderBound) {
    constexpr int kConnections = 2000;
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 4 * kConnections + 200) GTEST_SKIP() << "RLIMIT_NOFILE too low";

    // The destination accepts and holds every connection, reading nothing.
    std::uint16_t dest_port = 0;
    int dest = listen_tcp(false, &dest_port);
    std::vector<int> accepted;
    std::atomic<bool> stop{false};
    std::thread acceptor([&] {
        accepted.reserve(kConnections + 200);
        while (!stop) {
            pollfd p{dest, POLLIN, 0};
            if (::poll(&p, 1, 20) <= 0) continue;
            int c = ::accept4(dest, nullptr, nullptr, SOCK_CLOEXEC);
            if (c >= 0) accepted.push_back(c);
        }
    });

    Config c = base_config("");
    c.socks5.allow_no_auth = true;
    c.socks5.max_connections_per_user = 2 * kConnections;
    RunningServer s(c);
    ASSERT_TRUE(s.ok());
    std::vector<int> clients;
    clients.reserve(kConnections + 200);
    auto open_tunnels = [&](int n) {
        for (int i = 0; i < n; ++i) {
            int fd = connect_tcp(false, s.port());
            ASSERT_GE(fd, 0);
            // Greeting and request in one write, replies read together: 2 + 10 bytes.
            Buffer out{5, 1, 0};
            (void)socks5::encode_request(out, socks5::Command::kConnect,
                                         socks5::Address::ipv4({127, 0, 0, 1}, dest_port));
            ASSERT_TRUE(send_all(fd, out));
            auto in = read_n(fd, 12);
            ASSERT_EQ(in.size(), 12u);
            ASSERT_EQ(in[3], 0) << "reply code";
            clients.push_back(fd);
        }
    };
    open_tunnels(200);  // warm up allocator pools and the pipe pool
    ASSERT_FALSE(::testing::Test::HasFatalFailure());
    std::this_thread::sleep_for(200ms);
    const long before = rss_bytes();
    open_tunnels(kConnections);
    ASSERT_FALSE(::testing::Test::HasFatalFailure());
    std::this_thread::sleep_for(200ms);
    const long per = (rss_bytes() - before) / kConnections;
    std::printf("RSS growth per idle proxied connection: %ld bytes\n", per);
    EXPECT_LT(per, kBoundPerConnection);
    EXPECT_EQ(s.metrics().connections_open.load(), kConnections + 200);

    for (int fd : clients) ::close(fd);
    stop = true;
    acceptor.join();
    for (int fd : accepted) ::close(fd);
    ::close(dest);
}

// UDP associations waiting for datagrams hold no datagram buffers: the receive buffer is per io
// thread. Kernel socket memory is not in RSS; what is measured is ours.
TEST(Socks5Memory, IdleUdpAssociationsStayUnderBound) {
    constexpr int kAssociations = 500;
#if defined(__SANITIZE_ADDRESS__)
    constexpr long kBoundPerAssociation = 128 * 1024;
#else
    constexpr long kBoundPerAssociation = 16 * 1024;
#endif
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 4 * kAssociations + 200) GTEST_SKIP() << "RLIMIT_NOFILE too low";

    Config c = base_config("");
    c.socks5.allow_no_auth = true;
    RunningServer s(c);
    ASSERT_TRUE(s.ok());
    std::vector<int> clients;
    auto open_associations = [&](int n) {
        for (int i = 0; i < n; ++i) {
            int fd = connect_tcp(false, s.port());
            ASSERT_GE(fd, 0);
            Buffer out{5, 1, 0};
            (void)socks5::encode_request(out, socks5::Command::kUdpAssociate,
                                         socks5::Address::ipv4({0, 0, 0, 0}, 0));
            ASSERT_TRUE(send_all(fd, out));
            auto in = read_n(fd, 12);
            ASSERT_EQ(in.size(), 12u);
            ASSERT_EQ(in[3], 0) << "reply code";
            clients.push_back(fd);
        }
    };
    open_associations(50);
    ASSERT_FALSE(::testing::Test::HasFatalFailure());
    std::this_thread::sleep_for(200ms);
    const long before = rss_bytes();
    open_associations(kAssociations);
    ASSERT_FALSE(::testing::Test::HasFatalFailure());
    std::this_thread::sleep_for(200ms);
    const long per = (rss_bytes() - before) / kAssociations;
    std::printf("RSS growth per idle UDP association: %ld bytes\n", per);
    EXPECT_LT(per, kBoundPerAssociation);
    for (int fd : clients) ::close(fd);
}

}  // namespace
}  // namespace pp::relay::test

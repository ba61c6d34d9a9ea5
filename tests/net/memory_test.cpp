// Memory per idle TLS WebSocket connection, measured on a server in a child process so the
// clients' own memory does not count. PP_NET_MEM_CONNS sets the number of connections.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "net/ws_client.hpp"
#include "tests/net/test_server.hpp"

namespace pp::net {
namespace {

using namespace std::chrono_literals;

long rss_kib(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
    }
    return -1;
}

[[noreturn]] void serve_until_pipe_closes(int port_fd, int stop_fd) {
    test::RecordingHandler handler;
    Server server(ServerOptions{}, test::shared_identity(), handler,
                  [](std::string_view) { return HttpReply{}; });
    std::uint16_t port = server.start().ok() ? server.port() : 0;
    if (::write(port_fd, &port, sizeof port) != sizeof port) ::_exit(1);
    char b;
    while (::read(stop_fd, &b, 1) > 0) {
    }
    server.shutdown();
    ::_exit(0);
}

TEST(Memory, IdleWebSocketConnectionsStaySmall) {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "under ASan, RSS measures redzones and quarantine, not the server";
#endif
    const char* env = std::getenv("PP_NET_MEM_CONNS");
    const int n = env != nullptr ? std::atoi(env) : 300;
    test::shared_identity();  // generated before fork, so the child does not pay for it
    int port_pipe[2], stop_pipe[2];
    ASSERT_EQ(::pipe(port_pipe), 0);
    ASSERT_EQ(::pipe(stop_pipe), 0);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::close(port_pipe[0]);
        ::close(stop_pipe[1]);
        serve_until_pipe_closes(port_pipe[1], stop_pipe[0]);
    }
    ::close(port_pipe[1]);
    ::close(stop_pipe[0]);
    std::uint16_t port = 0;
    ASSERT_EQ(::read(port_pipe[0], &port, sizeof port), static_cast<ssize_t>(sizeof port));
    ASSERT_NE(port, 0);

    // Warm up: one connection and a round trip, so first-use allocations are not counted.
    {
        auto warm =
            WsClient::connect("127.0.0.1", port, test::shared_identity().fingerprint_sha256());
        ASSERT_TRUE(warm.ok());
    }
    std::this_thread::sleep_for(200ms);
    const long before = rss_kib(child);
    std::vector<WsClient> clients;
    clients.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        auto c = WsClient::connect("127.0.0.1", port, test::shared_identity().fingerprint_sha256());
        ASSERT_TRUE(c.ok()) << i;
        clients.push_back(std::move(c).value());
    }
    std::this_thread::sleep_for(300ms);
    const long after = rss_kib(child);
    const double per_conn = static_cast<double>(after - before) / n;
    std::printf(
        "[ memory   ] %d idle TLS WebSocket connections: server RSS %ld -> %ld KiB, "
        "%.1f KiB per connection\n",
        n, before, after, per_conn);
    clients.clear();
    ::close(stop_pipe[1]);
    int status = 0;
    ::waitpid(child, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    // A regression guard with room for allocator noise (the target is 20 KiB): going back to
    // asio::ssl::stream, whose buffers alone hold about 68 KiB per connection, fails it.
    EXPECT_LT(per_conn, 32.0);
}

}  // namespace
}  // namespace pp::net

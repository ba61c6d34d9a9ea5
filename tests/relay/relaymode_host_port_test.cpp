// "host:port" as operators write upstreams and the decoy, and as clients name their target.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

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

// Parameters, not lambda captures: the coroutine outlives the lambda object.
boost::asio::awaitable<void> connect_into(boost::asio::ip::tcp::socket& socket,
                                          const std::string& target, const bool& closed,
                                          boost::system::error_code& result) {
    result = co_await connect_host_port(socket, target, closed);
}

// A connection the watchdog already closed must not connect once the DNS answer comes in: the
// socket would be opened anew with no deadline.
TEST(RelayHostPort, NoConnectAfterTheConnectionClosed) {
    namespace asio = boost::asio;
    asio::io_context io;
    asio::ip::tcp::acceptor listening(io, {asio::ip::make_address("127.0.0.1"), 0});
    const std::string target = "127.0.0.1:" + std::to_string(listening.local_endpoint().port());
    asio::ip::tcp::socket socket(io);
    bool closed = true;
    boost::system::error_code result;
    asio::co_spawn(io, connect_into(socket, target, closed, result), asio::detached);
    io.run();
    EXPECT_EQ(result, asio::error::operation_aborted);
    EXPECT_FALSE(socket.is_open());
    // And with the flag clear the same target connects.
    closed = false;
    io.restart();
    asio::co_spawn(io, connect_into(socket, target, closed, result), asio::detached);
    io.run();
    EXPECT_FALSE(result) << result.message();
}

}  // namespace
}  // namespace pp::relay::detail

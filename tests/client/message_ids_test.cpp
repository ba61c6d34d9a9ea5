// The ids the client makes. Inside the ciphertext: the device's clock first. For the server:
// the server's clock first, so its idempotency index takes them in order (wire/message_id.hpp),
// and never the device's, whose offset would tell devices apart; the rest random.
#include <gtest/gtest.h>

#include <set>

#include "client/client_impl.hpp"
#include "wire/message_id.hpp"
#include "wire/server_clock.hpp"

namespace pp::client {
namespace {

TEST(ClientMessageIds, CarryTheClockOfWhenTheyWereMade) {
    const std::int64_t before = unix_ms_now();
    const MessageId id = new_message_id();
    const std::int64_t after = unix_ms_now();
    EXPECT_GE(wire::message_id_clock_ms(id), before);
    EXPECT_LE(wire::message_id_clock_ms(id), after);
}

TEST(ClientMessageIds, DifferWithinOneMillisecond) {
    std::set<MessageId> seen;
    for (int i = 0; i < 1000; ++i) EXPECT_TRUE(seen.insert(new_message_id()).second);
}

TEST(ClientServerMessageIds, CarryTheServersClockNotTheDevices) {
    // A server an hour ahead of this device, as it answered an authentication 30 ms long.
    const auto sent = std::chrono::steady_clock::now();
    const auto received = sent + std::chrono::milliseconds(30);
    const std::int64_t server_then = unix_ms_now() + 3'600'000;
    wire::ServerClock server;
    server.observe(static_cast<std::uint64_t>(server_then), sent, received);
    const MessageId id = new_server_message_id(server, received + std::chrono::milliseconds(1000));
    EXPECT_EQ(wire::message_id_clock_ms(id), server_then + 15 + 1000);
}

TEST(ClientServerMessageIds, DifferWithinOneMillisecond) {
    wire::ServerClock server;
    const auto t = std::chrono::steady_clock::now();
    server.observe(static_cast<std::uint64_t>(unix_ms_now()), t, t);
    std::set<MessageId> seen;
    for (int i = 0; i < 1000; ++i)
        EXPECT_TRUE(seen.insert(new_server_message_id(server, t)).second);
}

// Whether ids from `make` start with no clock: clock-first ids made back to back would all share
// their first two bytes; eight random ones do so with odds of 2^-112.
template <typename Make>
bool first_bytes_vary(Make make) {
    const auto first = make();
    bool differ = false;
    for (int i = 0; i < 7; ++i) {
        const auto next = make();
        differ = differ || next[0] != first[0] || next[1] != first[1];
    }
    return differ;
}

TEST(ClientServerMessageIds, AreWhollyRandomWithoutTheServersClock) {
    // No estimate: no clock at all, rather than the device's.
    const wire::ServerClock unknown;
    const auto t = std::chrono::steady_clock::now();
    EXPECT_TRUE(first_bytes_vary([&] { return new_server_message_id(unknown, t); }));
}

TEST(ClientServerMessageIds, AreWhollyRandomOnceTheServersClockIsOld) {
    // The first send after a long quiet: the estimate's drift could by now carry the rate
    // error of this device's clock, so the id carries no clock (docs/protocol.md).
    wire::ServerClock server;
    const auto t = std::chrono::steady_clock::now();
    server.observe(static_cast<std::uint64_t>(unix_ms_now()), t, t);
    const auto later = t + wire::ServerClock::kMaxAge + std::chrono::seconds(1);
    EXPECT_TRUE(first_bytes_vary([&] { return new_server_message_id(server, later); }));
}

TEST(ClientGroupIds, AreNotClockFirst) {
    // A group id says nothing about when the group was made.
    EXPECT_TRUE(first_bytes_vary([] { return random_group_id(); }));
}

}  // namespace
}  // namespace pp::client

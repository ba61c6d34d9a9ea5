// The ids the client gives its sends: its clock first, so the server's idempotency index
// takes them in order (wire/message_id.hpp); the rest random.
#include <gtest/gtest.h>

#include <set>

#include "client/client_impl.hpp"
#include "wire/message_id.hpp"

namespace pp::client {
namespace {

TEST(ClientMessageIds, CarryTheClockOfWhenTheyWereMade) {
    const std::int64_t before = now_ms();
    const MessageId id = new_message_id();
    const std::int64_t after = now_ms();
    EXPECT_GE(wire::message_id_clock_ms(id), before);
    EXPECT_LE(wire::message_id_clock_ms(id), after);
}

TEST(ClientMessageIds, DifferWithinOneMillisecond) {
    std::set<MessageId> seen;
    for (int i = 0; i < 1000; ++i) EXPECT_TRUE(seen.insert(new_message_id()).second);
}

TEST(ClientGroupIds, AreNotClockFirst) {
    // A group id says nothing about when the group was made. Clock-first ids made back to
    // back would all share their first bytes; eight random ones do so with odds of 2^-112.
    const GroupId first = random_group_id();
    bool differ = false;
    for (int i = 0; i < 7; ++i) {
        const GroupId next = random_group_id();
        differ = differ || next[0] != first[0] || next[1] != first[1];
    }
    EXPECT_TRUE(differ);
}

}  // namespace
}  // namespace pp::client

#include "wire/message_id.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace pp::wire {
namespace {

std::array<std::uint8_t, kMessageIdTailBytes> tail_of(std::uint8_t fill) {
    std::array<std::uint8_t, kMessageIdTailBytes> t{};
    t.fill(fill);
    return t;
}

TEST(MessageId, ClockIsBigEndianMillisecondsThenTail) {
    const std::array<std::uint8_t, kMessageIdTailBytes> tail{10, 11, 12, 13, 14,
                                                             15, 16, 17, 18, 19};
    const auto id = message_id_at(0x0102'0304'0506, tail);
    const MessageIdBytes want{1, 2, 3, 4, 5, 6, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
    EXPECT_EQ(id, want);
    EXPECT_EQ(message_id_clock_ms(id), 0x0102'0304'0506);
}

// The point of the layout: byte order (how the store's index compares blobs) follows time,
// whatever the tails, including across the carry from the low clock bytes into the high ones.
TEST(MessageId, LaterIdsSortAfterEarlierOnes) {
    const std::int64_t times[] = {0,
                                  1,
                                  255,
                                  256,
                                  65'535,
                                  65'536,
                                  4'294'967'295,
                                  4'294'967'296,
                                  1'700'000'000'000,
                                  1'700'000'000'001};
    for (std::size_t i = 0; i + 1 < std::size(times); ++i) {
        const auto a = message_id_at(times[i], tail_of(0xFF));
        const auto b = message_id_at(times[i + 1], tail_of(0x00));
        EXPECT_TRUE(std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end()))
            << times[i] << " vs " << times[i + 1];
        EXPECT_EQ(message_id_clock_ms(a), times[i]);
    }
}

TEST(MessageId, ClockOutsideFortyEightBitsIsClamped) {
    EXPECT_EQ(message_id_clock_ms(message_id_at(-5, tail_of(1))), 0);
    const std::int64_t max = (std::int64_t{1} << 48) - 1;
    EXPECT_EQ(message_id_clock_ms(message_id_at(max + 12345, tail_of(1))), max);
    EXPECT_EQ(message_id_clock_ms(message_id_at(max, tail_of(1))), max);
}

}  // namespace
}  // namespace pp::wire

#include "wire/message_id.hpp"

#include <algorithm>

namespace pp::wire {

MessageIdBytes message_id_at(std::int64_t unix_ms,
                             std::span<const std::uint8_t, kMessageIdTailBytes> tail) {
    constexpr std::int64_t kMaxClock = (std::int64_t{1} << (8 * kMessageIdClockBytes)) - 1;
    const auto clock = static_cast<std::uint64_t>(std::clamp<std::int64_t>(unix_ms, 0, kMaxClock));
    MessageIdBytes id{};
    for (std::size_t i = 0; i < kMessageIdClockBytes; ++i)
        id[i] = static_cast<std::uint8_t>(clock >> (8 * (kMessageIdClockBytes - 1 - i)));
    std::copy(tail.begin(), tail.end(), id.begin() + kMessageIdClockBytes);
    return id;
}

std::int64_t message_id_clock_ms(std::span<const std::uint8_t, kMessageIdBytes> id) {
    std::uint64_t clock = 0;
    for (std::size_t i = 0; i < kMessageIdClockBytes; ++i) clock = (clock << 8) | id[i];
    return static_cast<std::int64_t>(clock);
}

}  // namespace pp::wire

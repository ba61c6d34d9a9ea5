#pragma once
// The 16-byte message id a sender chooses for each send (docs/protocol.md, "Message ids"):
// the sender's clock in milliseconds, big-endian, then random bytes. Ids made at about the
// same time sort next to each other, so the server's idempotency index takes a burst of sends
// on its newest pages instead of one random page each. The server relies on nothing here: an
// id of any other form is still accepted, only stored less compactly.
#include <array>
#include <cstdint>
#include <span>

namespace pp::wire {

inline constexpr std::size_t kMessageIdBytes = 16;
inline constexpr std::size_t kMessageIdClockBytes = 6;  // 2^48 ms: beyond the year 10000
inline constexpr std::size_t kMessageIdTailBytes = kMessageIdBytes - kMessageIdClockBytes;

using MessageIdBytes = std::array<std::uint8_t, kMessageIdBytes>;

// `unix_ms` below 0 counts as 0 and above 2^48 - 1 as 2^48 - 1; `tail` should be random (the
// client uses 80 random bits: no two ids collide in practice, even within one millisecond).
MessageIdBytes message_id_at(std::int64_t unix_ms,
                             std::span<const std::uint8_t, kMessageIdTailBytes> tail);

// The clock part of an id made by message_id_at().
std::int64_t message_id_clock_ms(std::span<const std::uint8_t, kMessageIdBytes> id);

}  // namespace pp::wire

#include "wire/server_clock.hpp"

#include <limits>

namespace pp::wire {

namespace {

std::int64_t to_ms(std::chrono::steady_clock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace

void ServerClock::observe(std::uint64_t server_ms, Steady sent, Steady received) {
    // Past 2^62 ms (a hundred million years) is no clock: forget rather than overflow later.
    constexpr auto kMax = std::uint64_t{1} << 62;
    if (server_ms == 0 || server_ms > kMax || received < sent) {
        server_ms_.reset();
        return;
    }
    server_ms_ = static_cast<std::int64_t>(server_ms) + to_ms(received - sent) / 2;
    received_ = received;
}

std::optional<std::int64_t> ServerClock::at(Steady now) const {
    if (!server_ms_) return std::nullopt;
    return *server_ms_ + to_ms(now - received_);
}

}  // namespace pp::wire

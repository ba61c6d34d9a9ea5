#include "wire/server_clock.hpp"

namespace pp::wire {

namespace {

std::int64_t to_ms(std::chrono::steady_clock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace

std::chrono::steady_clock::duration ServerClock::uncertainty(Steady now) const {
    // Divided first: no overflow however old the estimate.
    return half_round_trip_ + (now - received_) / (1'000'000 / kDriftPartsPerMillion);
}

void ServerClock::observe(std::uint64_t server_ms, Steady sent, Steady received) {
    // Past 2^62 ms (a hundred million years) is no clock: ignored rather than overflow later.
    constexpr auto kMax = std::uint64_t{1} << 62;
    if (server_ms == 0 || server_ms > kMax || received < sent) return;
    const auto half = (received - sent) / 2;
    // The held one is kept while it is the more certain, and only in the first half of its
    // life: past that any reading takes over, so a device that keeps sending keeps an estimate
    // even where round trips vary more than the drift allowance.
    if (server_ms_ && received - received_ <= kMaxAge / 2 && uncertainty(received) <= half) return;
    server_ms_ = static_cast<std::int64_t>(server_ms) + to_ms(half);
    received_ = received;
    half_round_trip_ = half;
}

std::optional<std::int64_t> ServerClock::at(Steady now) const {
    if (!server_ms_ || now - received_ > kMaxAge) return std::nullopt;
    return *server_ms_ + to_ms(now - received_);
}

}  // namespace pp::wire

#pragma once
// An estimate of the server's clock, kept by a client from the clock the server gives in its
// answers (AuthenticateResponse and SendResponse, server_time_ms), for the clock at the front of
// the message ids the server sees (wire/message_id.hpp, docs/protocol.md "Message ids").
//
// Why not the device's own clock: the gap between an id's clock and its arrival would then
// carry the device's clock offset, which is stable enough to tell devices apart. With the
// server's clock the gap carries the network delay, which the server sees anyway, and the
// error of the estimate: half the round trip it came from, plus what the device's steady clock
// has drifted since (its rate error times the estimate's age). Every answer that carries the
// clock refreshes the estimate when it is the better one, or when the held one is past half its
// life, so while a device sends, the age stays short. After a long quiet it is not: an estimate
// older than kMaxAge is no longer given, and the client makes the id wholly random instead, so
// the drift never grows large enough to carry the rate error of the device's clock.
//
// Time on the device is read from the steady clock only, so neither the device's wall clock
// nor a change to it reaches an id.
#include <chrono>
#include <cstdint>
#include <optional>

namespace pp::wire {

class ServerClock {
  public:
    using Steady = std::chrono::steady_clock::time_point;

    // The rate error assumed of the device's steady clock when an aged estimate is weighed
    // against a new one: 100 ppm, more than a quartz oscillator's usual tens.
    static constexpr std::int64_t kDriftPartsPerMillion = 100;
    // How long an estimate is given after its reading: 100 ppm of five minutes is 30 ms, about
    // what a mobile network's round trip varies by anyway (a quartz clock's usual tens of ppm
    // drift 3 to 10 ms in that time). Past half of it, any answer with the clock replaces the
    // estimate, so a device that sends more often than this keeps one.
    static constexpr std::chrono::seconds kMaxAge{300};

    // The server answered a request sent at `sent` and answered by `received` with its clock
    // `server_ms` (milliseconds since 1970), read somewhere in between: taken as read halfway,
    // give or take half the round trip. Kept if it is more certain than the estimate held, aged
    // to `received`, or if the held one is older than half of kMaxAge. 0 (an answer without the
    // clock) and readings no clock could give change nothing.
    void observe(std::uint64_t server_ms, Steady sent, Steady received);

    // Drops the estimate: a new connection, perhaps to a server that gives no clock.
    void forget() { server_ms_.reset(); }

    // The server's clock at `now`, by the estimate held; nothing without one, or when its
    // reading is older than kMaxAge.
    std::optional<std::int64_t> at(Steady now) const;

  private:
    // How far off the estimate may be at `now`: half its round trip plus the drift since.
    std::chrono::steady_clock::duration uncertainty(Steady now) const;

    std::optional<std::int64_t> server_ms_;  // the estimate at received_
    Steady received_{};
    std::chrono::steady_clock::duration half_round_trip_{};
};

}  // namespace pp::wire

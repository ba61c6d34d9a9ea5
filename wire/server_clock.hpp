#pragma once
// An estimate of the server's clock, kept by a client from the server's answer to its
// authentication (AuthenticateResponse.server_time_ms), for the clock at the front of the
// message ids the server sees (wire/message_id.hpp, docs/protocol.md "Message ids").
//
// Why not the device's own clock: the gap between an id's clock and its arrival would then
// carry the device's clock offset, which is stable enough to tell devices apart. With the
// server's clock the gap carries only the network delay, which the server sees anyway.
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

    // The server answered a request sent at `sent` and answered by `received` with its clock
    // `server_ms` (milliseconds since 1970), read somewhere in between: taken as read halfway.
    // 0 (a server that does not say) forgets any earlier estimate.
    void observe(std::uint64_t server_ms, Steady sent, Steady received);

    // The server's clock at `now`, by the last observation; nothing before one.
    std::optional<std::int64_t> at(Steady now) const;

  private:
    std::optional<std::int64_t> server_ms_;  // the estimate at received_
    Steady received_{};
};

}  // namespace pp::wire

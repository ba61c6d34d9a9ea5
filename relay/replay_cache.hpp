#pragma once
// Remembers the MACs of relay authenticators already used, for as long as they could still pass
// the clock check, so a recorded first record sent again lands on the decoy. Bounded: when it is
// full of entries that are still live it refuses new ones (the connection goes to the decoy)
// rather than forget one and let it be replayed. Thread-safe.
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>

#include "wire/relay_auth.hpp"

namespace pp::relay {

class ReplayCache {
  public:
    enum class Verdict : std::uint8_t { kFresh, kReplay, kFull };

    explicit ReplayCache(std::size_t capacity) : capacity_(capacity) {}

    // Records `mac` until `expires_at_unix` (the authenticator's time plus the clock window)
    // unless it is already there; forgets entries whose time has passed first.
    Verdict check_and_insert(const wire::relay::AuthMac& mac, std::uint64_t expires_at_unix,
                             std::uint64_t now_unix);

    std::size_t size() const;

  private:
    void expire(std::uint64_t now_unix);

    const std::size_t capacity_;
    mutable std::mutex mutex_;
    std::set<wire::relay::AuthMac> macs_;
    std::multimap<std::uint64_t, wire::relay::AuthMac> by_expiry_;
};

}  // namespace pp::relay

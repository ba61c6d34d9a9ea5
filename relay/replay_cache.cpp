#include "relay/replay_cache.hpp"

namespace pp::relay {

ReplayCache::Verdict ReplayCache::check_and_insert(const wire::relay::AuthMac& mac,
                                                   std::uint64_t expires_at_unix,
                                                   std::uint64_t now_unix) {
    std::lock_guard lock(mutex_);
    expire(now_unix);
    if (macs_.contains(mac)) return Verdict::kReplay;
    if (macs_.size() >= capacity_) return Verdict::kFull;
    macs_.insert(mac);
    by_expiry_.emplace(expires_at_unix, mac);
    return Verdict::kFresh;
}

std::size_t ReplayCache::size() const {
    std::lock_guard lock(mutex_);
    return macs_.size();
}

void ReplayCache::expire(std::uint64_t now_unix) {
    // An entry expiring exactly now is kept: the clock check still accepts it this second.
    while (!by_expiry_.empty() && by_expiry_.begin()->first < now_unix) {
        macs_.erase(by_expiry_.begin()->second);
        by_expiry_.erase(by_expiry_.begin());
    }
}

}  // namespace pp::relay

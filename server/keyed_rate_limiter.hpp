#pragma once
// Token buckets by key (an account, a client address), shared by every connection of that key.
// Bounded: past `max_keys` distinct keys the table starts over, so a flood of new addresses
// costs memory only up to the bound (at worst their buckets refill early).
#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "server/rate_limiter.hpp"

namespace pp::server {

class KeyedRateLimiter {
  public:
    KeyedRateLimiter(double rate, double burst, std::size_t max_keys = 100'000)
        : rate_(rate), burst_(burst), max_keys_(max_keys) {}

    bool take(const std::string& key, TokenBucket::Clock::time_point now) {
        std::lock_guard lock(mutex_);
        auto it = buckets_.find(key);
        if (it == buckets_.end()) {
            if (buckets_.size() >= max_keys_) buckets_.clear();
            it = buckets_.emplace(key, TokenBucket(rate_, burst_)).first;
        }
        return it->second.take(now);
    }

  private:
    double rate_, burst_;
    std::size_t max_keys_;
    std::mutex mutex_;
    std::unordered_map<std::string, TokenBucket> buckets_;
};

}  // namespace pp::server

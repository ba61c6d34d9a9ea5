#pragma once
// Token buckets by key (an account, a client address, a pair of accounts), shared by every
// connection of that key.
//
// Memory is bounded by `max_keys`. Keys are kept in least-recently-used order; to make room
// for a new key the least recently used one is forgotten. That is exact when its bucket has
// refilled (idle: a new bucket would be identical), which is the common case, since the
// buckets being drained are the ones in use. Only a flood of more than `max_keys` distinct
// keys within one refill time can forget a bucket that was not full, and then it is the
// stalest one, never the table: nobody can reset everyone's buckets at once.
// Idle buckets are also dropped by sweep(), so the table shrinks after a burst.
#include <chrono>
#include <cstddef>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

#include "server/rate_limiter.hpp"

namespace pp::server {

class KeyedRateLimiter {
  public:
    KeyedRateLimiter(double rate, double burst, std::size_t max_keys = 100'000)
        : rate_(rate), burst_(burst), max_keys_(max_keys < 1 ? 1 : max_keys) {}

    bool take(const std::string& key, TokenBucket::Clock::time_point now) {
        std::lock_guard lock(mutex_);
        auto it = index_.find(key);
        if (it != index_.end()) {
            lru_.splice(lru_.begin(), lru_, it->second);  // most recently used first
            return it->second->bucket.take(now);
        }
        while (index_.size() >= max_keys_) {
            Entry& oldest = lru_.back();
            if (!oldest.bucket.idle(now)) ++evicted_busy_;
            index_.erase(oldest.key);
            lru_.pop_back();
        }
        lru_.push_front(Entry{key, TokenBucket(rate_, burst_)});
        index_.emplace(key, lru_.begin());
        return lru_.front().bucket.take(now);
    }

    // Forgets every bucket that has refilled; returns how many went.
    std::size_t sweep(TokenBucket::Clock::time_point now) {
        std::lock_guard lock(mutex_);
        std::size_t gone = 0;
        for (auto it = lru_.begin(); it != lru_.end();) {
            if (it->bucket.idle(now)) {
                index_.erase(it->key);
                it = lru_.erase(it);
                ++gone;
            } else {
                ++it;
            }
        }
        return gone;
    }

    std::size_t size() {
        std::lock_guard lock(mutex_);
        return index_.size();
    }
    // Buckets forgotten to make room while not yet refilled (a flood of distinct keys).
    std::size_t evicted_busy() {
        std::lock_guard lock(mutex_);
        return evicted_busy_;
    }

  private:
    struct Entry {
        std::string key;
        TokenBucket bucket;
    };
    double rate_, burst_;
    std::size_t max_keys_;
    std::mutex mutex_;
    std::list<Entry> lru_;  // most recently used first
    std::unordered_map<std::string, std::list<Entry>::iterator> index_;
    std::size_t evicted_busy_ = 0;
};

}  // namespace pp::server

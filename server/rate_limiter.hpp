#pragma once
// A token bucket: `rate` tokens per second up to `burst`. Not thread-safe; each owner (a
// connection, an account) guards its own.
#include <algorithm>
#include <chrono>

namespace pp::server {

class TokenBucket {
  public:
    using Clock = std::chrono::steady_clock;
    TokenBucket(double rate, double burst) : rate_(rate), burst_(burst), tokens_(burst) {}

    bool take(Clock::time_point now, double cost = 1.0) {
        if (last_ != Clock::time_point{}) {
            std::chrono::duration<double> dt = now - last_;
            tokens_ = std::min(burst_, tokens_ + dt.count() * rate_);
        }
        last_ = now;
        if (tokens_ < cost) return false;
        tokens_ -= cost;
        return true;
    }

    // True when the bucket would be full at `now`: forgetting it changes nothing, since a new
    // bucket starts full too.
    bool idle(Clock::time_point now) const {
        if (last_ == Clock::time_point{}) return true;
        std::chrono::duration<double> dt = now - last_;
        return tokens_ + dt.count() * rate_ >= burst_;
    }

  private:
    double rate_, burst_, tokens_;
    Clock::time_point last_{};
};

}  // namespace pp::server

#pragma once
// Which devices each recipient account has, kept in memory so that a 1:1 send checks the
// sender's device list without a database read.
//
// The store stays the truth. An entry is read again once it is older than `ttl` (a device
// added by another server process sharing the database is seen then), a sender's list that
// disagrees with the cache is checked against the store before the sender is told it is
// stale, and the commit itself refuses a delivery to a device that does not exist. Memory is
// bounded: past `max_entries` the table starts over (each account then costs one read again).
#include <chrono>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "store/store.hpp"

namespace pp::server {

class DeviceDirectory {
  public:
    using Clock = std::chrono::steady_clock;

    DeviceDirectory(store::Store& store, Clock::duration ttl, std::size_t max_entries);

    // The account's device ids in increasing order; kNoSession when there is no such account.
    // `fresh` skips the cache (and refreshes it); `read` (optional) tells whether the answer
    // came from the store just now.
    Result<std::vector<store::DeviceId>> devices(const store::AccountId& account, bool fresh,
                                                 bool* read = nullptr);

  private:
    struct Entry {
        std::vector<store::DeviceId> devices;
        Clock::time_point read;
    };
    // Account ids are random: their first eight bytes are a good hash.
    struct Hash {
        std::size_t operator()(const store::AccountId& id) const noexcept {
            std::size_t h = 0;
            std::memcpy(&h, id.data(), sizeof h);
            return h;
        }
    };

    store::Store& store_;
    Clock::duration ttl_;
    std::size_t max_entries_;
    std::mutex mutex_;
    std::unordered_map<store::AccountId, Entry, Hash> entries_;
};

}  // namespace pp::server

#include "server/device_directory.hpp"

#include <algorithm>

namespace pp::server {

DeviceDirectory::DeviceDirectory(store::Store& store, Clock::duration ttl, std::size_t max_entries)
    : store_(store), ttl_(ttl), max_entries_(std::max<std::size_t>(max_entries, 1)) {}

Result<std::vector<store::DeviceId>> DeviceDirectory::devices(const store::AccountId& account,
                                                              bool fresh, bool* read) {
    const auto now = Clock::now();
    if (read != nullptr) *read = false;
    if (!fresh) {
        std::lock_guard lock(mutex_);
        auto it = entries_.find(account);
        if (it != entries_.end() && now - it->second.read < ttl_) return it->second.devices;
    }
    // Read outside the lock: a slow read must not hold up sends to other accounts. Two
    // concurrent misses for one account both read; the later write wins, both are current.
    if (read != nullptr) *read = true;
    auto a = store_.account(account);
    if (!a) return a.error();  // unknown accounts are not cached: they may register any time
    std::vector<store::DeviceId> ids;
    ids.reserve(a->devices.size());
    for (const auto& d : a->devices) ids.push_back(d.id);
    std::sort(ids.begin(), ids.end());
    std::lock_guard lock(mutex_);
    if (entries_.size() >= max_entries_ && entries_.find(account) == entries_.end())
        entries_.clear();
    entries_[account] = Entry{ids, now};
    return ids;
}

}  // namespace pp::server

#pragma once
// What every SOCKS5 session shares: settings, counters, users, policy, pipes, and the registry
// stop() walks to close live sessions. Owned by Socks5Server through a shared_ptr so a session
// finishing after the server object is gone still finds it.
#include <list>
#include <memory>
#include <mutex>

#include "relay/config.hpp"
#include "relay/destination_policy.hpp"
#include "relay/metrics.hpp"
#include "relay/socks5/lookup_service.hpp"
#include "relay/socks5/pipe_pool.hpp"
#include "relay/users.hpp"

namespace pp::relay::socks5 {

class Session;

struct ServerState {
    ServerState(const Config& c, Metrics& m)
        : config(c),
          metrics(m),
          pipes(kIdlePipes, kPipeBytes),
          lookups(kLookupThreads, kLookupQueue, kLookupsPerKey) {}

    // 256 KiB pipes, a few kept idle: 16 MiB of pipe buffers under the default
    // fs.pipe-user-pages-soft (16 MiB per non-root user), so a service user's pipes are not cut
    // to one page each; 1 MiB pipes and 64 idle ones spent it at once.
    static constexpr std::size_t kIdlePipes = 16;
    static constexpr int kPipeBytes = 256 * 1024;
    // A few lookups in parallel are enough for a relay's traffic; the queue and the per-user
    // share keep one user's unresolvable names from filling it for everyone.
    // Each user (or, without authentication, each client address) may have at most
    // kLookupsPerKey lookups queued or running, well below kLookupThreads: names whose DNS never
    // answers cost their asker its own lookups, not the other users' workers.
    static constexpr unsigned kLookupThreads = 8;
    static constexpr std::size_t kLookupQueue = 1024;
    static constexpr unsigned kLookupsPerKey = 2;

    Config config;  // a copy: the daemon may rebuild its Config on reload
    Metrics& metrics;
    Users users;
    DestinationPolicy policy;
    PipePool pipes;
    LookupService lookups;

    std::mutex sessions_mutex;
    std::list<std::weak_ptr<Session>> sessions;
    bool stopping = false;  // under sessions_mutex
};

}  // namespace pp::relay::socks5

#pragma once
// relay/ internal: what every relay-mode connection shares: settings, counters, the TLS identity,
// the authenticator key, the replay cache and the built-in decoy site. Connections hold it by
// shared_ptr, so it outlives a RelayServer that is destroyed while they finish.
#include "relay/config.hpp"
#include "relay/decoy_site.hpp"
#include "relay/metrics.hpp"
#include "relay/relay_identity.hpp"
#include "relay/replay_cache.hpp"
#include "wire/relay_auth.hpp"

namespace pp::relay::detail {

struct RelayContext {
    RelayContext(const Config& c, Metrics& m, RelayIdentity id)
        : config(c),
          metrics(m),
          identity(std::move(id)),
          key(identity.secret),
          replays(c.relay.replay_cache_entries),
          site(c.relay.decoy_root, c.relay.decoy_keepalive_timeout, c.relay.handshake_timeout) {}

    const Config config;
    Metrics& metrics;
    const RelayIdentity identity;
    const wire::relay::AuthKey key;
    ReplayCache replays;
    const DecoySite site;
};

}  // namespace pp::relay::detail

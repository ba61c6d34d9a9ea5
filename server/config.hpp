#pragma once
// What an operator can tune. Defaults suit a small self-hosted server.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "server/signed_endpoints.hpp"

namespace pp::server {

enum class RegistrationPolicy : std::uint8_t { kOpen, kInvite, kProofOfWork };

struct Config {
    RegistrationPolicy registration = RegistrationPolicy::kOpen;
    unsigned pow_difficulty = 20;  // leading zero bits of SHA-256(challenge || nonce)
    std::chrono::hours message_ttl{24 * 30};
    std::size_t max_queue_messages = 10'000;
    std::size_t max_prekeys_per_upload = 200;
    std::size_t max_recipients_per_send = 1'000;
    std::size_t push_window = 256;  // pushed but unacknowledged messages per connection
    // ... and their bytes: well under the network layer's 4 MiB send-queue bound, so a backlog
    // of large messages never gets its own recipient disconnected.
    std::size_t push_window_bytes = 1 << 20;
    // Token buckets: sustained requests per second and burst.
    double requests_per_second = 200;  // per connection
    double request_burst = 400;
    double account_requests_per_second = 400;  // per account, across all its connections
    double account_request_burst = 800;
    // Per client address, across all its connections. Generous: a NAT or a relay may put many
    // people behind one address.
    double address_requests_per_second = 5000;
    double address_request_burst = 10000;
    // New accounts per client address: each costs a durable write and stays forever, so an
    // open server must not be flooded with them.
    double registrations_per_address_per_second = 2;
    double registration_burst = 50;
    // Every KeyedRateLimiter (per account, per address, per pair of accounts) keeps at most
    // this many buckets; past it the least recently used one is forgotten (see
    // keyed_rate_limiter.hpp). About 150 bytes each.
    std::size_t rate_limit_max_keys = 100'000;

    // One-time prekeys: each FetchBundles hands out one per device of the target, and they
    // are finite, so any signed-in account could otherwise drain another's by fetching its
    // bundles over and over. Two token buckets, per hour: one per (requester, target) pair and
    // one per requester across all targets. A fetch past either still gets its bundles, but
    // without one-time prekeys (see Service::on_fetch_bundles for why).
    double prekey_fetches_per_target_per_hour = 6;
    double prekey_fetch_burst_per_target = 5;
    double prekey_fetches_per_hour = 120;  // per requester, across targets
    double prekey_fetch_burst = 60;

    std::size_t max_batch = 512;  // sends per group-commit transaction
    // Sends (and, separately, ack requests) waiting for the group committer. Past this the
    // server answers RATE_LIMITED ("server busy") at once instead of queueing: nothing is
    // stored or deleted for that request, and the client retries it. Anything already
    // accepted is still committed.
    std::size_t max_pending_sends = 20'000;
    // ... and the contents of the sends accepted and not yet answered: while the disk lags,
    // 20,000 sends of the largest frame would hold 5 GiB. Passed by at most one send.
    std::size_t max_pending_send_bytes = 128 << 20;
    std::size_t max_pending_acks = 20'000;

    // Structured event logs never hold account ids, message data, keys, tokens, nonces or
    // invite codes. Client IP addresses are left out too unless the operator turns this on
    // (for abuse handling: it is the one piece of metadata the logs could keep).
    bool log_client_addresses = false;

    // Signed at start from the operator's [endpoints] (apps/server). Empty: the server has no
    // endpoint key, RegisterResponse carries none and GetEndpoints is answered NOT_FOUND.
    SignedEndpoints endpoints;
};

}  // namespace pp::server

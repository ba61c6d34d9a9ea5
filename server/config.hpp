#pragma once
// What an operator can tune. Defaults suit a small self-hosted server.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

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
    // Token buckets: sustained requests per second and burst, per connection and per account.
    double requests_per_second = 200;
    double request_burst = 400;
    std::size_t max_batch = 512;  // sends per group-commit transaction
};

}  // namespace pp::server

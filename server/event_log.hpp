#pragma once
// Structured event lines for operators: one `event=NAME key=value ...` line per connection
// event (open, close, authentication, registration), per rate-limit or backpressure close and
// per store error, through spdlog.
//
// What they never carry: message content, keys, tokens, nonces, invite codes, usernames and
// account ids. Connections are named by the server's own connection counter, which means
// nothing outside one run. Client IP addresses are left out unless the operator enabled them
// (Config::log_client_addresses) for abuse handling.
//
// Cost: nothing here runs per message. Sends and acks are not logged; a connection's
// rate-limit refusals are logged once (the first) and counted on its close line; store errors
// and "server busy" refusals are logged at most once a second, with a count of the rest.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace pp::server {

class EventLog {
  public:
    explicit EventLog(bool log_client_addresses) : log_addresses_(log_client_addresses) {}

    void connection_open(std::uint64_t conn, std::string_view ip) const;
    void connection_close(std::uint64_t conn, std::chrono::steady_clock::duration lived,
                          bool authenticated, std::uint64_t rate_limited) const;
    void auth_ok(std::uint64_t conn, std::uint32_t device) const;
    // `reason`: a fixed word from the server ("no_challenge", "refused", "already").
    void auth_failed(std::uint64_t conn, std::string_view reason) const;
    void registration(std::uint64_t conn, std::string_view policy) const;
    // `limit`: connection, account, address, registration.
    void rate_limited(std::uint64_t conn, std::string_view limit) const;
    // The connection was closed because it sent frames faster than they could be handled.
    void backpressure_close(std::uint64_t conn, int queued_frames) const;
    // The group committer's queue was full; throttled.
    void busy(std::string_view what);
    // `op`: what failed ("commit_sends", "pending", ...); `detail`: the store's error text,
    // which names no user data. Throttled.
    void store_error(std::string_view op, std::string_view detail);
    // A commit batch failed part way (out of memory) or its pushes could not be handed out, so
    // every connected device's queue is read once. One line per housekeeping tick that does
    // it, however many batches failed since the last.
    void pushes_lost() const;

  private:
    // True when a throttled line may be written now; `suppressed` gets how many were not.
    bool allow(std::atomic<std::int64_t>& last, std::atomic<std::uint64_t>& dropped,
               std::uint64_t& suppressed);

    bool log_addresses_;
    std::atomic<std::int64_t> last_busy_{0}, last_store_error_{0};
    std::atomic<std::uint64_t> dropped_busy_{0}, dropped_store_errors_{0};
};

}  // namespace pp::server

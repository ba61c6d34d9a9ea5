#pragma once
// Name lookups for SOCKS5 sessions, off the io threads. Asio's resolver runs every lookup on one
// hidden thread, so a single name whose DNS never answers stalls every CONNECT by name for
// everyone. Here a few worker threads run the (blocking) lookups from a bounded queue, each user
// may have only a few in flight, and the caller waits no longer than its own deadline: a late
// result is dropped. The lookup function can be replaced, so tests can stall it at will.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pp::relay::socks5 {

class LookupService {
  public:
    // Blocking: the addresses `host` names (empty if none or on error).
    using Resolve = std::function<std::vector<boost::asio::ip::address>(const std::string& host)>;

    enum class Outcome { kDone, kTimedOut, kBusy };
    struct Answer {
        Outcome outcome = Outcome::kBusy;
        std::vector<boost::asio::ip::address> addresses;
    };

    LookupService(unsigned threads, std::size_t max_queued, unsigned max_per_key);
    ~LookupService();  // stops taking work; a worker stuck in a lookup finishes on its own
    LookupService(const LookupService&) = delete;
    LookupService& operator=(const LookupService&) = delete;

    // For tests: replaces getaddrinfo(). Thread-safe.
    void set_resolve(Resolve r);
    // No more results are delivered (the io_context may be going away). Thread-safe.
    void shutdown();

    // Looks `host` up for `key` and resumes on `ex` (a strand) with the answer, or with
    // kTimedOut after `timeout` (or when the caller cancels `*waiting`, which points at the wait
    // while it lasts, so closing a session need not wait for the lookup), or with kBusy at once
    // when the queue or the user's share is full.
    // `key` names who asks: a user who authenticated, or the address of a client who did not,
    // so that one party's stuck lookups cannot take every worker (see kLookupsPerKey).
    boost::asio::awaitable<Answer> lookup(std::string host, std::uint64_t key,
                                          std::chrono::steady_clock::duration timeout,
                                          boost::asio::steady_timer** waiting);

    // The default: getaddrinfo() with AI_ADDRCONFIG.
    static std::vector<boost::asio::ip::address> system_resolve(const std::string& host);

  private:
    struct Core;
    std::shared_ptr<Core> core_;
};

}  // namespace pp::relay::socks5

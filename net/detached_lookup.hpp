#pragma once
// net/ internal: name lookups that never hold anyone up. Asio's resolver runs every lookup of
// an io_context on one thread, in turn, and its destructor joins that thread: one name whose
// DNS a censor drops (getaddrinfo can take 30 s and cannot be cancelled) would delay every
// other route of a race and then the caller's return. Here each lookup gets a detached thread
// of its own; its answer is posted back through a gate that the owner of the io_context closes
// before destroying it, and a lookup nobody waits for any more just ends with its thread.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace pp::net::detail {

// Where lookup threads deliver their answers. close() before the io_context goes away: after
// it nothing more is posted.
class LookupGate {
  public:
    explicit LookupGate(boost::asio::any_io_executor ex) : ex_(std::move(ex)) {}
    void close();
    bool post(std::function<void()> f);

  private:
    std::mutex mutex_;
    bool open_ = true;
    boost::asio::any_io_executor ex_;
};

// One lookup's meeting point, touched only on the io_context's thread. cancel() ends the
// wait at once (the thread finishes on its own and its answer is dropped).
class PendingLookup {
  public:
    explicit PendingLookup(const boost::asio::any_io_executor& ex);
    void cancel();

  private:
    friend boost::asio::awaitable<
        std::pair<boost::system::error_code, std::vector<boost::asio::ip::tcp::endpoint>>>
        lookup(std::shared_ptr<LookupGate>, std::shared_ptr<PendingLookup>, std::string,
               std::uint16_t);
    boost::asio::steady_timer wake_;
    bool answered_ = false;
    boost::system::error_code error_;
    std::vector<boost::asio::ip::tcp::endpoint> endpoints_;
};

// TCP endpoints of host:port. An IP literal needs no lookup; a name is looked up on a thread
// of its own. Errors: operation_aborted (cancelled), host_not_found, no_memory.
boost::asio::awaitable<
    std::pair<boost::system::error_code, std::vector<boost::asio::ip::tcp::endpoint>>>
lookup(std::shared_ptr<LookupGate> gate, std::shared_ptr<PendingLookup> pending, std::string host,
       std::uint16_t port);

}  // namespace pp::net::detail

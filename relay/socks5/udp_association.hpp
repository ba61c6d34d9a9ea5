#pragma once
// UDP ASSOCIATE (RFC 1928 sec. 7). One socket faces the client (bound next to the address the
// client reached us on), one per address family faces destinations. Only datagrams from the
// client's address are relayed out (if it announced 0.0.0.0:0, the first source from its IP is
// taken as its port); fragments are dropped; every destination passes the policy. Replies are
// accepted only from destinations the client has sent to, and go back wrapped in the header.
// The owning Session closes the association when the TCP control connection ends.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/udp.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "relay/socks5/codec.hpp"
#include "relay/socks5/server_state.hpp"

namespace pp::relay::socks5 {

class UdpAssociation {
  public:
    using Executor = boost::asio::any_io_executor;
    UdpAssociation(std::shared_ptr<ServerState> state, Executor strand,
                   std::shared_ptr<Metrics::UserCounters> user, std::uint64_t lookup_key);
    ~UdpAssociation();

    // Binds the sockets; returns the client-facing endpoint for the reply's BND fields.
    std::optional<boost::asio::ip::udp::endpoint> open(const boost::asio::ip::address& local,
                                                       const boost::asio::ip::address& client_ip,
                                                       const Address& announced);
    // Relays until close(). `on_end` runs (on the strand) when the association ends by itself:
    // no datagram either way for socks5.idle_timeout, or a socket that keeps failing.
    void start(std::function<void()> on_end);
    void close();

  private:
    struct Shared;
    std::shared_ptr<Shared> shared_;
};

}  // namespace pp::relay::socks5

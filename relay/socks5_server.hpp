#pragma once
// paperplane-relay's SOCKS5 mode (RFC 1928, RFC 1929): the listener the daemon constructs on its
// io_context. Each accepted connection runs on its own strand, so the daemon may run the
// io_context on any number of threads.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "base/result.hpp"
#include "relay/config.hpp"
#include "relay/metrics.hpp"
#include "relay/socks5/lookup_service.hpp"

namespace pp::relay {

namespace socks5 {
struct ServerState;
}

class Socks5Server {
  public:
    Socks5Server(boost::asio::io_context& io, const Config& config, Metrics& metrics);
    ~Socks5Server();
    Socks5Server(const Socks5Server&) = delete;
    Socks5Server& operator=(const Socks5Server&) = delete;

    // Loads the users file, builds the destination policy, binds config.socks5.listen (port 0:
    // an ephemeral one) and starts accepting.
    Result<void> start();
    // The bound TCP port (after start()).
    std::uint16_t port() const;
    // The users file start() and reload_users() read. Error details are static strings, so a
    // caller reporting a users-file error prints this path next to it.
    std::string users_file() const;
    // Re-reads the users file (SIGHUP). On error the current users stay in force.
    Result<void> reload_users();
    // Replaces the name lookup (getaddrinfo) so tests can stall or script it. Thread-safe.
    void set_resolve_for_tests(socks5::LookupService::Resolve r);
    // Stops accepting and closes every connection; io.run() then returns once they are gone.
    // Safe to call from any thread; the closing itself runs on the io_context.
    void stop();

  private:
    void accept();
    void stop_now();

    boost::asio::io_context& io_;
    std::shared_ptr<socks5::ServerState> state_;
    // The acceptor, its backoff timer and stop_now() share one strand: the accept handler
    // and a stop() from another thread must not touch the acceptor at the same time.
    boost::asio::strand<boost::asio::io_context::executor_type> strand_;
    boost::asio::ip::tcp::acceptor acceptor_;
    boost::asio::steady_timer accept_backoff_;
    std::uint16_t port_ = 0;
};

}  // namespace pp::relay

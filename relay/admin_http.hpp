#pragma once
// The relay's admin listener: plain HTTP on a separate, by default loopback-only address
// (Config::admin_listen), apart from the public listeners so that metrics never reach a
// prober. GET /metrics gives Metrics::render_prometheus(), GET /healthz gives "ok", every
// other path 404. Requests are bounded in size, time and number per connection, and at most
// kMaxConnections are served at once.
#include <cstdint>
#include <memory>

#include "base/result.hpp"
#include "relay/config.hpp"
#include "relay/metrics.hpp"

namespace boost::asio {
class io_context;
}

namespace pp::relay {

class AdminHttp {
  public:
    static constexpr unsigned kMaxConnections = 32;

    // The io_context and the Metrics must outlive this object. The io_context may run on any
    // number of threads: each connection is served on its own strand.
    AdminHttp(boost::asio::io_context& ioc, const Config& config, const Metrics& metrics);
    ~AdminHttp();
    AdminHttp(const AdminHttp&) = delete;
    AdminHttp& operator=(const AdminHttp&) = delete;

    // Binds and starts accepting. An empty admin_listen starts nothing (port() stays 0);
    // kMalformed for an address that is not "IP:port" or "[IPv6]:port", kInternal if it cannot
    // be bound. Port 0 binds an ephemeral port.
    Result<void> start();
    std::uint16_t port() const;
    // Closes the listener and every open admin connection; safe from any thread, idempotent.
    void stop();

  private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace pp::relay

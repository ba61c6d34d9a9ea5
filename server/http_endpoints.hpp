#pragma once
// The plain-HTTP side of the server's port: GET /healthz, GET /metrics with the service's
// metrics plus the store gauges (refreshed by the Housekeeper) and the network layer's
// counters, and GET /v1/endpoints with the signed endpoint list that has addresses only (the
// one with relays is for authenticated devices: server/signed_endpoints.hpp). Runs on the io
// threads, so it only reads atomics and what was fixed at start: never the database.
#include <atomic>
#include <string>
#include <string_view>
#include <utility>

#include "net/http_types.hpp"
#include "net/server.hpp"
#include "server/housekeeper.hpp"
#include "server/metrics.hpp"

namespace pp::server {

class HttpEndpoints {
  public:
    // `public_endpoints`: SignedEndpointList bytes; empty answers /v1/endpoints with 404.
    HttpEndpoints(const Metrics& metrics, const StoreGauges& gauges,
                  std::string public_endpoints = {})
        : metrics_(metrics), gauges_(gauges), public_endpoints_(std::move(public_endpoints)) {}

    // The network counters join /metrics once the server exists (it needs the route first).
    // Detach (nullptr) before the server is destroyed.
    void attach(const net::Server* server) { server_ = server; }

    net::HttpReply operator()(std::string_view target) const;
    std::string render_metrics() const;

  private:
    const Metrics& metrics_;
    const StoreGauges& gauges_;
    const std::string public_endpoints_;
    std::atomic<const net::Server*> server_{nullptr};
};

}  // namespace pp::server

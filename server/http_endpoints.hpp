#pragma once
// The plain-HTTP side of the server's port: GET /healthz, and GET /metrics with the service's
// metrics plus the store gauges (refreshed by the Housekeeper) and the network layer's
// counters. Runs on the io threads, so it only reads atomics: never the database.
#include <atomic>
#include <string>
#include <string_view>

#include "net/http_types.hpp"
#include "net/server.hpp"
#include "server/housekeeper.hpp"
#include "server/metrics.hpp"

namespace pp::server {

class HttpEndpoints {
  public:
    HttpEndpoints(const Metrics& metrics, const StoreGauges& gauges)
        : metrics_(metrics), gauges_(gauges) {}

    // The network counters join /metrics once the server exists (it needs the route first).
    // Detach (nullptr) before the server is destroyed.
    void attach(const net::Server* server) { server_ = server; }

    net::HttpReply operator()(std::string_view target) const;
    std::string render_metrics() const;

  private:
    const Metrics& metrics_;
    const StoreGauges& gauges_;
    std::atomic<const net::Server*> server_{nullptr};
};

}  // namespace pp::server

#include "server/http_endpoints.hpp"

namespace pp::server {

namespace {
void metric(std::string& out, const char* name, const char* type, const char* help,
            std::uint64_t value) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
    out += name;
    out += ' ';
    out += std::to_string(value);
    out += '\n';
}
}  // namespace

std::string HttpEndpoints::render_metrics() const {
    return metrics_.render([this](std::string& out) {
        metric(out, "paperplane_queued_messages", "gauge", "Messages waiting in device queues",
               gauges_.queued_messages.load());
        metric(out, "paperplane_accounts", "gauge", "Registered accounts", gauges_.accounts.load());
        metric(out, "paperplane_database_bytes", "gauge",
               "Size of the database's pages, used and free (the WAL not included)",
               gauges_.database_bytes.load());
        metric(out, "paperplane_database_free_bytes", "gauge",
               "Of those, pages emptied by acks and expiry, reused before the file grows",
               gauges_.database_free_bytes.load());
        metric(out, "paperplane_database_max_bytes", "gauge",
               "[storage] max_database_mib in bytes; 0: only the disk bounds the database",
               gauges_.database_max_bytes.load());
        const net::Server* server = server_.load();
        if (server == nullptr) return;
        const auto c = server->counters();
        metric(out, "paperplane_tls_handshake_failures_total", "counter",
               "TLS, HTTP or upgrade handshakes that failed or timed out", c.handshake_failures);
        metric(out, "paperplane_connections_rejected_total", "counter",
               "Connections closed at accept: connection cap reached", c.rejected_over_limit);
    });
}

net::HttpReply HttpEndpoints::operator()(std::string_view target) const {
    if (target == "/healthz") return {200, "text/plain", "ok\n"};
    if (target == "/metrics") return {200, "text/plain; version=0.0.4", render_metrics()};
    if (target == "/v1/endpoints" && !public_endpoints_.empty())
        return {200, "application/octet-stream", public_endpoints_};
    return {404, "text/plain", "not found\n"};
}

}  // namespace pp::server

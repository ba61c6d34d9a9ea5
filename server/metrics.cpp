#include "server/metrics.hpp"

#include <cstdio>

namespace pp::server {
namespace {

void line(std::string& out, const std::string& name, const char* type, const std::string& help,
          double value) {
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", value);
    out += name + " " + buf + "\n";
}

}  // namespace

void LatencyHistogram::observe(std::chrono::nanoseconds d) {
    const double s = std::chrono::duration<double>(d).count();
    std::size_t i = 0;
    while (i < kBounds.size() && s > kBounds[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(static_cast<std::uint64_t>(d.count()), std::memory_order_relaxed);
}

void LatencyHistogram::render(std::string& out, const std::string& name,
                              const std::string& help) const {
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
    std::uint64_t cumulative = 0;
    char buf[96];
    for (std::size_t i = 0; i < kBounds.size(); ++i) {
        cumulative += buckets_[i].load(std::memory_order_relaxed);
        std::snprintf(buf, sizeof buf, "%s_bucket{le=\"%g\"} %llu\n", name.c_str(), kBounds[i],
                      static_cast<unsigned long long>(cumulative));
        out += buf;
    }
    cumulative += buckets_[kBounds.size()].load(std::memory_order_relaxed);
    std::snprintf(buf, sizeof buf, "%s_bucket{le=\"+Inf\"} %llu\n", name.c_str(),
                  static_cast<unsigned long long>(cumulative));
    out += buf;
    std::snprintf(buf, sizeof buf, "%s_sum %.9f\n%s_count %llu\n", name.c_str(),
                  static_cast<double>(sum_ns_.load()) / 1e9, name.c_str(),
                  static_cast<unsigned long long>(count_.load()));
    out += buf;
}

std::string Metrics::render(const std::function<void(std::string&)>& extra) const {
    std::string out;
    auto counter = [&](const char* name, const char* help, const auto& v) {
        line(out, name, "counter", help, static_cast<double>(v.load()));
    };
    auto gauge = [&](const char* name, const char* help, const auto& v) {
        line(out, name, "gauge", help, static_cast<double>(v.load()));
    };
    counter("paperplane_connections_total", "WebSocket connections accepted", connections_total);
    gauge("paperplane_connections_open", "WebSocket connections open", connections_open);
    gauge("paperplane_connections_authenticated", "Connections with an authenticated device",
          connections_authenticated);
    gauge("paperplane_requests_on_workers",
          "Registration, prekey upload and bundle fetch requests queued or running on workers",
          requests_on_workers);
    gauge("paperplane_frames_waiting",
          "Frames waiting for their connection's request on a worker to be answered",
          frames_waiting);
    counter("paperplane_frames_in_total", "Frames received", frames_in);
    counter("paperplane_frames_rejected_total", "Malformed or refused frames", frames_rejected);
    counter("paperplane_registrations_total", "Accounts registered", registrations);
    counter("paperplane_auth_failures_total", "Failed device authentications", auth_failures);
    counter("paperplane_sends_total", "Send requests acknowledged", sends);
    counter("paperplane_sends_duplicate_total", "Retried sends acknowledged without storing",
            sends_duplicate);
    counter("paperplane_messages_stored_total", "Per-device queue entries committed",
            messages_stored);
    counter("paperplane_deliveries_total", "Messages pushed to devices", deliveries);
    counter("paperplane_acks_total", "Messages acknowledged and deleted", acks);
    counter("paperplane_commits_total", "Group-commit transactions", commits);
    counter("paperplane_rate_limited_total", "Requests refused by rate limits", rate_limited);
    counter("paperplane_busy_refusals_total",
            "Sends and acks refused because the group committer queue was full", busy_refusals);
    counter("paperplane_prekey_fetches_limited_total",
            "Bundle fetches answered without one-time prekeys (prekey limit)",
            prekey_fetches_limited);
    counter("paperplane_store_errors_total", "Failed store operations", store_errors);
    commit_latency.render(out, "paperplane_send_commit_seconds",
                          "Time from receiving a send to its durable commit");
    request_latency.render(out, "paperplane_request_seconds", "Time to answer a request");
    if (extra) extra(out);
    return out;
}

}  // namespace pp::server

#include "server/metrics.hpp"

#include <gtest/gtest.h>

namespace pp::server {
namespace {

TEST(Metrics, PrometheusTextWithHistogramBuckets) {
    Metrics m;
    m.sends += 3;
    m.commit_latency.observe(std::chrono::microseconds(300));  // first bucket
    m.commit_latency.observe(std::chrono::milliseconds(30));   // le=0.05
    m.commit_latency.observe(std::chrono::seconds(10));        // +Inf only
    auto text = m.render([](std::string& out) { out += "extra_gauge 1\n"; });
    EXPECT_NE(text.find("# TYPE paperplane_sends_total counter\npaperplane_sends_total 3\n"),
              std::string::npos);
    EXPECT_NE(text.find("paperplane_send_commit_seconds_bucket{le=\"0.0005\"} 1\n"),
              std::string::npos);
    EXPECT_NE(text.find("paperplane_send_commit_seconds_bucket{le=\"0.05\"} 2\n"),
              std::string::npos);
    EXPECT_NE(text.find("paperplane_send_commit_seconds_bucket{le=\"2.5\"} 2\n"),
              std::string::npos);
    EXPECT_NE(text.find("paperplane_send_commit_seconds_bucket{le=\"+Inf\"} 3\n"),
              std::string::npos);
    EXPECT_NE(text.find("paperplane_send_commit_seconds_count 3\n"), std::string::npos);
    EXPECT_NE(text.find("extra_gauge 1\n"), std::string::npos);
}

}  // namespace
}  // namespace pp::server

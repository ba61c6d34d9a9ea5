#include "tests/net/test_server.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "net/tls.hpp"

namespace pp::net::test {

TempDir::TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pp_net_XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

void RecordingHandler::on_open(const std::shared_ptr<Connection>& conn) {
    std::lock_guard lock(mu_);
    open_[conn->id()] = conn;
    ++opened_;
    cv_.notify_all();
}

void RecordingHandler::on_frame(const std::shared_ptr<Connection>& conn, Bytes frame) {
    if (echo) conn->send(std::move(frame));
}

void RecordingHandler::on_close(const std::shared_ptr<Connection>& conn) {
    std::lock_guard lock(mu_);
    open_.erase(conn->id());
    ++closed_;
    cv_.notify_all();
}

bool RecordingHandler::wait_opened(std::size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return opened_ >= n; });
}

bool RecordingHandler::wait_closed(std::size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return closed_ >= n; });
}

std::shared_ptr<Connection> RecordingHandler::any_open() {
    std::lock_guard lock(mu_);
    return open_.empty() ? nullptr : open_.begin()->second;
}

std::size_t RecordingHandler::opened() const {
    std::lock_guard lock(mu_);
    return opened_;
}

std::size_t RecordingHandler::closed() const {
    std::lock_guard lock(mu_);
    return closed_;
}

const TlsIdentity& shared_identity() {
    static TempDir dir;
    static TlsIdentity id = [] {
        auto r = load_or_create_self_signed(dir.path());
        if (!r) std::abort();
        return std::move(r).value();
    }();
    return id;
}

TestServer::TestServer(ServerOptions opts) {
    HttpRoute route = [](std::string_view target) -> HttpReply {
        if (target == "/healthz") return {200, "text/plain; charset=utf-8", "ok\n"};
        if (target == "/throw") throw std::runtime_error("route bug");
        return {404, "text/plain; charset=utf-8", "not found\n"};
    };
    server = std::make_unique<Server>(std::move(opts), shared_identity(), handler, route);
    auto started = server->start();
    EXPECT_TRUE(started.ok());
}

TestServer::~TestServer() {
    server->shutdown();
}

}  // namespace pp::net::test

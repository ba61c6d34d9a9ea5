#pragma once
// Shared fixtures for the net tests: a recording echo Handler and a server on an ephemeral
// loopback port with a self-signed identity in a temporary directory.
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include "net/server.hpp"

namespace pp::net::test {

using namespace std::chrono_literals;

class TempDir {
  public:
    TempDir();
    ~TempDir();
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

class RecordingHandler : public Handler {
  public:
    void on_open(const std::shared_ptr<Connection>& conn) override;
    void on_frame(const std::shared_ptr<Connection>& conn, Bytes frame) override;
    void on_close(const std::shared_ptr<Connection>& conn) override;

    bool echo = true;
    // Waits until `n` connections have opened (or closed); false on timeout.
    bool wait_opened(std::size_t n, std::chrono::milliseconds timeout = 5s);
    bool wait_closed(std::size_t n, std::chrono::milliseconds timeout = 5s);
    std::shared_ptr<Connection> any_open();
    std::size_t opened() const;
    std::size_t closed() const;

  private:
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::map<std::uint64_t, std::shared_ptr<Connection>> open_;
    std::size_t opened_ = 0;
    std::size_t closed_ = 0;
};

// One self-signed identity per test process: key generation is the slow part of setup.
const TlsIdentity& shared_identity();

struct TestServer {
    explicit TestServer(ServerOptions opts = {});
    ~TestServer();
    std::uint16_t port() const { return server->port(); }
    const std::string& pin() const { return shared_identity().fingerprint_sha256(); }

    RecordingHandler handler;
    std::unique_ptr<Server> server;
};

}  // namespace pp::net::test

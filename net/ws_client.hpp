#pragma once
// A small blocking TLS WebSocket client for integration tests, tools and the load generator.
// It trusts exactly one certificate: the server's pinned SHA-256 fingerprint. No threads: each
// call drives the client's own io_context on the calling thread until done or timed out.
// One client is used by one thread at a time.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.hpp"
#include "base/result.hpp"
#include "net/http_types.hpp"
#include "net/route.hpp"

namespace pp::net {

struct WsClientOptions {
    std::chrono::milliseconds connect_timeout{10000};  // resolve + TCP + TLS + upgrade
    std::size_t max_frame_bytes = 4 << 20;             // largest message accepted from the server
    std::string target = "/v1/ws";
    std::string host_header;  // empty: the host argument
};

// Errors: kUntrustedIdentity (pin mismatch), kLimitExceeded (timeout, oversize message),
// kNoSession (the connection is closed; see close_code()), kInternal (other network errors).
class WsClient {
  public:
    // One direct route to host:port, within options.connect_timeout.
    static Result<WsClient> connect(const std::string& host, std::uint16_t port,
                                    std::string_view pin_sha256_hex,
                                    const WsClientOptions& options = {});
    // Races `routes` (in order of preference) to `server` (net/route_racer.hpp says how): the
    // first route to complete TCP, its proxy or relay handshake, TLS with server.pin and the
    // WebSocket upgrade wins; the others are cancelled. Host header and SNI are server.host
    // (options.host_header overrides the header); options.connect_timeout is not used, `race`
    // bounds each attempt and the whole race. On success winner() is the winning route's
    // index. On failure the most telling error: kUntrustedIdentity if any route met a
    // certificate other than the pinned one (a hostile proxy, relay or DNS answer), else the
    // first route's error that is not a timeout, else kLimitExceeded "timed out"; no routes:
    // kMalformed. `report`, when given, receives one entry per route, in order, either way.
    static Result<WsClient> connect_racing(const std::vector<Route>& routes,
                                           const ServerTarget& server, const RaceOptions& race,
                                           const WsClientOptions& options = {},
                                           std::vector<AttemptReport>* report = nullptr);
    WsClient(WsClient&&) noexcept;
    WsClient& operator=(WsClient&&) noexcept;
    ~WsClient();

    Result<void> send(ByteView frame, std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // Text messages exist only so tests can check that the server refuses them.
    Result<void> send_text(std::string_view text,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // Next binary (or text) message. A timeout leaves the read pending, so the next call picks
    // up the same message: nothing is lost and the connection stays usable.
    Result<Bytes> receive(std::chrono::milliseconds timeout);
    // Close handshake (code 1000), then the socket is dropped whatever the peer does.
    void close(std::chrono::milliseconds timeout = std::chrono::seconds(2));
    // The close code the server sent, once a call has reported the connection closed.
    std::optional<std::uint16_t> close_code() const;
    // Index of the route this connection went over, in the vector given to connect_racing
    // (0 for connect()); callers remember it to try that route first next time.
    std::size_t winner() const;

    struct Impl;

  private:
    explicit WsClient(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// One GET over a fresh pinned TLS connection (health checks, metrics scrapes in tests).
Result<HttpReply> https_get(const std::string& host, std::uint16_t port,
                            std::string_view pin_sha256_hex, std::string_view target,
                            std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace pp::net

#pragma once
// One authenticated-or-not connection to the home server: the pinned TLS WebSocket from net/,
// requests matched to responses by id, and pushes (envelopes, QueueEmpty) queued in arrival
// order while a response is awaited. Synchronous: every call takes a timeout and runs on the
// caller's thread, so the client library needs no locks.
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <vector>

#include "base/result.hpp"
#include "client/types.hpp"
#include "net/route.hpp"
#include "net/ws_client.hpp"
#include "wire/frame_codec.hpp"

namespace pp::client {

namespace v1 = wire::v1;
using std::chrono::milliseconds;

class Connection {
  public:
    // Races `routes` to `server` (net::WsClient::connect_racing): the first to complete TLS
    // with the pinned certificate and the WebSocket upgrade wins. `reports` gets one entry per
    // route. kUntrustedIdentity when a route led to a certificate that does not match the pin
    // and none succeeded.
    static Result<std::unique_ptr<Connection>> open(const std::vector<net::Route>& routes,
                                                    const net::ServerTarget& server,
                                                    milliseconds timeout,
                                                    std::vector<net::AttemptReport>& reports);

    // Sends `req` (its id is assigned here) and waits for the matching response.
    Result<v1::Response> call(v1::Request req, milliseconds timeout);
    // Sends without waiting; the response is read and dropped later (acks on the way out).
    Result<void> submit(v1::Request req);
    // The next push, waiting up to `timeout`; nullopt when none came.
    Result<std::optional<v1::Push>> next_push(milliseconds timeout);
    void close();

  private:
    explicit Connection(net::WsClient ws) : ws_(std::move(ws)) {}
    Result<void> read_one(milliseconds timeout);

    net::WsClient ws_;
    std::uint64_t next_id_ = 1;
    std::map<std::uint64_t, v1::Response> responses_;
    std::deque<v1::Push> pushes_;
};

}  // namespace pp::client

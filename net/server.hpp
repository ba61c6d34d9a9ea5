#pragma once
// paperplane-server's network edge: one TLS 1.3 port answering HTTP GETs and WebSockets at
// /v1/ws. Binary WebSocket messages are handed to a Handler; everything else goes to an
// HttpRoute. Asio/Beast stay behind a pimpl so including this header is cheap.
//
// Threading: callbacks (Handler, HttpRoute) run on the server's io threads, serialised per
// connection (the connection's strand). They must not wait on anything slow (a lock held across
// an fsync, a remote database, sleeping): hand such work to another executor and come back with
// Connection::post, or reply with Connection::send, both safe from any thread.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/bytes.hpp"
#include "base/result.hpp"
#include "net/http_types.hpp"
#include "net/tls.hpp"

namespace pp::net {

struct ServerOptions {
    std::string host = "127.0.0.1";  // an IP literal (v4 or v6); "::" or "0.0.0.0" for all
    std::uint16_t port = 0;          // 0 = ephemeral; read the chosen one with Server::port()
    std::size_t max_connections = 20000;
    // Covers TCP accept -> TLS handshake -> HTTP request (or upgrade) as one deadline, so a client
    // that sends nothing, or trickles a header byte by byte, is cut off when it expires. Also
    // bounds a WebSocket close from when it began. Must be positive (start() refuses 0).
    std::chrono::milliseconds handshake_timeout{10000};
    // A WebSocket that receives nothing for this long is closed; a ping goes out halfway.
    std::chrono::milliseconds idle_timeout{120000};
    std::size_t max_frame_bytes = 256 * 1024;    // largest WebSocket message accepted
    std::size_t max_http_header_bytes = 8192;    // request line + headers
    std::size_t max_send_queue_bytes = 4 << 20;  // a slower reader than this is disconnected
    unsigned threads = 2;                        // read it through io_threads(): 0 still means one
};

// How many io threads a server with these options runs. Callers that size per-thread
// resources (the store's reader pool) take it from here rather than repeat the rule.
unsigned io_threads(const ServerOptions& o);

class Connection {
  public:
    virtual ~Connection();
    // Queues one binary WebSocket message. Thread-safe, never blocks. Past
    // max_send_queue_bytes of unsent data the connection is closed instead. Called on the
    // connection's strand, the message is queued at once; from another thread it is posted to
    // the strand. So messages go out in call order for calls from one thread, and a call on the
    // strand comes after every message posted before the strand's current handler was.
    virtual void send(Bytes frame) = 0;
    // Runs `fn` later on the connection's strand, serialised with the Handler's callbacks for
    // this connection; never inline. Thread-safe. Runs even after on_close (the connection is
    // kept alive until then), so `fn` checks its own state; not once Server::shutdown has
    // stopped the io threads (then it is destroyed unrun). An exception from it is dropped.
    virtual void post(std::function<void()> fn) = 0;
    // Starts a normal close handshake. Thread-safe; on_close follows. Should not throw: the
    // server's connections, out of memory, close at their next frame in or out instead.
    virtual void close() = 0;
    virtual std::uint64_t id() const = 0;
    virtual std::string peer() const = 0;  // "ip:port" of the TCP peer (for logs, rate limits)
};

class Handler {
  public:
    virtual ~Handler();
    // on_open once after the WebSocket upgrade, on_frame per binary message, on_close once when
    // an opened connection ends for any reason. Exceptions are caught and close the connection.
    virtual void on_open(const std::shared_ptr<Connection>& conn) = 0;
    virtual void on_frame(const std::shared_ptr<Connection>& conn, Bytes frame) = 0;
    virtual void on_close(const std::shared_ptr<Connection>& conn) = 0;
};

class Server {
  public:
    struct Counters {
        std::uint64_t connections_open = 0;  // accepted sockets still open (any phase)
        std::uint64_t connections_total = 0;
        std::uint64_t handshake_failures = 0;  // TLS, HTTP or upgrade failed or timed out
        std::uint64_t frames_in = 0;
        std::uint64_t frames_out = 0;
        std::uint64_t bytes_in = 0;  // WebSocket payload bytes
        std::uint64_t bytes_out = 0;
        std::uint64_t rejected_over_limit = 0;  // closed at accept: max_connections reached
    };

    // `handler` must outlive the server.
    Server(ServerOptions options, TlsIdentity tls, Handler& handler, HttpRoute route);
    ~Server();  // shutdown()
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    Result<void> start();  // binds, listens and starts the io threads
    std::uint16_t port() const;
    void stop_accepting();  // the listening socket closes; open connections carry on
    // Stops accepting, closes every connection (a WebSocket close first, then the socket after a
    // short grace), and joins the io threads. Idempotent.
    void shutdown();
    Counters counters() const;

    struct Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace pp::net

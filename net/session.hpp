#pragma once
// net/ internal: one accepted socket, from TLS handshake through HTTP or a WebSocket to close.
// Every member runs on the session's strand (the socket's executor) except send(), post(),
// close(), close_with(), abort() and check_idle(), which only post to it (send() runs inline
// when already on it), and idle_check_due(), which only reads atomics.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <atomic>
#include <chrono>
#include <list>
#include <memory>
#include <string>

#include "net/server_core.hpp"
#include "net/tls_stream.hpp"
#include "net/ws_frame.hpp"

namespace pp::net::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;

class Session final : public Connection, public std::enable_shared_from_this<Session> {
  public:
    Session(std::shared_ptr<ServerCore> core, asio::ip::tcp::socket socket, std::uint64_t id);

    // Spawns the session's coroutine on its strand; the coroutine keeps the session alive.
    static void launch(const std::shared_ptr<Session>& s);

    void send(Bytes frame) override;
    void post(std::function<void()> fn) override;
    void close() override;
    std::uint64_t id() const override { return id_; }
    std::string peer() const override { return peer_; }

    void close_with(WsCloseCode code);  // thread-safe; never throws
    void abort();                       // thread-safe: drop the TCP socket now
    // Keep-alive, from the server's idle sweep on any thread (session_keepalive.cpp): a
    // WebSocket silent for half the idle timeout is pinged, one silent for all of it dropped,
    // and a close not finished within the handshake timeout from when it began is cut off.
    // idle_check_due() only reads atomics, so the sweep can ask it of every session under the
    // live map's lock; check_idle() then posts on_idle() to the session's strand.
    bool idle_check_due(std::chrono::steady_clock::time_point now) const noexcept;
    void check_idle(std::chrono::steady_clock::time_point now) noexcept;

  private:
    // kOpen: frames flow both ways. kClosing: the peer's frames are no longer read and no data
    // frame is queued; the writer finishes what is queued (a close frame last), then the
    // connection is torn down.
    enum class Phase : std::uint8_t { kHandshake, kOpen, kClosing, kDone };
    // A frame waiting to be written. Data frames are binary; the rest are control frames.
    struct Outgoing {
        Bytes payload;
        WsOpcode opcode = WsOpcode::kBinary;
    };

    asio::awaitable<void> run();
    asio::awaitable<bool> handshake();  // session_http.cpp; true once upgraded to WebSocket
    asio::awaitable<bool> accept_websocket(
        const beast::http::request<beast::http::string_body>& req);
    // Reads frames and hands each whole binary message to the handler, until the peer's close
    // frame, a fault in its frames, or a read error.
    asio::awaitable<void> read_frames(const std::shared_ptr<Connection>& conn);
    // Reads exactly `size` bytes; waits on the socket only when OpenSSL has nothing left.
    asio::awaitable<boost::system::error_code> read_exact(std::uint8_t* data, std::size_t size);
    // After the reading ends: waits for the writer to finish (the close frame goes out last),
    // then closes TLS and TCP in order if the close frame went out, else just drops the socket.
    asio::awaitable<void> finish_closing();
    // The writer: writes as many queued frames as fit one batch, then the next, until the queue
    // is empty.
    void write_front() noexcept;
    void on_written(const boost::system::error_code& ec) noexcept;
    void finish_writing() noexcept;  // clears what is left; wakes finish_closing()
    // What a queued frame counts against max_send_queue_bytes: its payload, and for a control
    // frame (which may be empty) a fixed share for its node and header too.
    static constexpr std::size_t kControlFrameCharge = 64;
    static std::size_t queue_charge(const Outgoing& f) noexcept;
    // Queues a frame already counted in queued_bytes_ (drops it if the session is closing).
    void enqueue(Outgoing frame) noexcept;
    // A control frame of ours (ping, pong), counted against the send queue bound like a data
    // frame: a peer that pings without reading cannot grow the queue without bound.
    void enqueue_control(WsOpcode opcode, Bytes payload) noexcept;
    // Queues a close frame after everything queued; no data frame is queued after it. `code` 0
    // sends a close without a code (the echo of a close that gave none).
    void request_close(std::uint16_t code) noexcept;
    void request_close(WsCloseCode code) noexcept {
        request_close(static_cast<std::uint16_t>(code));
    }
    template <typename F>
    bool call_handler(F&& f);
    // Posts `job` to the strand; if posting cannot allocate, sets lost_frame_ instead, so the
    // strand closes the connection at its next frame. For close_with() and abort().
    template <class Job>
    void post_or_flag_lost(Job job) noexcept;
    // The deadline of the phase before the WebSocket (TLS handshake, HTTP requests, TLS
    // shutdown): when `timer` fires, the socket is closed. disarm() or the next arm() makes an
    // earlier expiry harmless even if its handler is already queued.
    void arm_deadline(asio::steady_timer& timer, std::chrono::steady_clock::duration d);
    void disarm_deadline() { ++deadline_gen_; }
    void on_idle(std::chrono::steady_clock::time_point now);  // on the strand
    bool idle_limited() const noexcept;
    bool close_overdue(std::chrono::steady_clock::time_point now) const noexcept;  // any thread
    // A frame (data or control) came from the peer: the keep-alive's sign of life.
    void heard() noexcept {
        last_heard_.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                          std::memory_order_relaxed);
    }
    void closing_began() noexcept {
        if (closing_since_.load(std::memory_order_relaxed) != 0) return;
        closing_since_.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                             std::memory_order_relaxed);
    }
    TlsStream& tls() { return tls_; }

    std::shared_ptr<ServerCore> core_;
    TlsStream tls_;
    const std::uint64_t id_;
    std::string peer_;
    // std::list: an idle connection's empty queue allocates nothing.
    std::list<Outgoing> queue_;
    // The batch being written: the front `writing_frames_` frames of queue_, framed. Empty (no
    // allocation) between writes.
    Bytes write_buffer_;
    std::size_t writing_frames_ = 0;
    std::atomic<std::size_t> queued_bytes_{0};
    // Exists only while finish_closing() waits for the writer; finish_writing() cancels it.
    std::unique_ptr<asio::steady_timer> writer_done_;
    Phase phase_ = Phase::kHandshake;
    bool writing_ = false;
    bool close_requested_ = false;  // our close frame is queued (or written)
    bool close_sent_ = false;       // and has been written in full
    // A frame from send(), or a close, could not be queued (out of memory): the peer misses
    // an answer or a push, so the connection is closed at the next frame in or out on its
    // strand. (Sits in padding.)
    std::atomic<bool> lost_frame_{false};
    // When the peer was last heard from, in steady-clock ticks; 0 until the WebSocket is open.
    // Written on the strand, read by the idle sweep.
    std::atomic<std::chrono::steady_clock::rep> last_heard_{0};
    // When a close began (ours asked for, or the peer's received), in steady-clock ticks; 0
    // while open. The close handshake gets the handshake timeout from then, even when it
    // cannot start because the writer is stuck behind a peer that reads nothing.
    std::atomic<std::chrono::steady_clock::rep> closing_since_{0};
    std::chrono::steady_clock::rep pinged_for_ = 0;  // the last_heard_ a ping went out for
    bool ping_in_flight_ = false;
    std::uint32_t deadline_gen_ = 0;
};

}  // namespace pp::net::detail

#pragma once
// relay/ internal: one accepted connection of the relay mode, its deadline and the byte copy
// both ways. Everything here runs on the connection's strand, so no member needs a lock.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "net/tls_stream.hpp"

namespace pp::relay::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using net::detail::TlsStream;
using Clock = std::chrono::steady_clock;
inline constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

// Per direction of a copy: one full TLS record, so a record is read and written whole.
inline constexpr std::size_t kCopyBufferSize = 16 * 1024;

// Shared by the connection's coroutine and its watchdog, which closes every socket once the
// deadline passes (handshake, first record, upstream connect, idle copy all use it).
struct Connection {
    explicit Connection(tcp::socket s)
        : raw(std::move(s)), timer(raw->get_executor()), deadline(Clock::now()) {}
    ~Connection() { close_all(); }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    std::optional<tcp::socket> raw;  // until the first byte says TLS; for plain HTTP throughout
    std::unique_ptr<TlsStream> tls;  // the client's TLS, once the first byte was a handshake
    std::optional<tcp::socket> upstream;
    asio::steady_timer timer;
    Clock::time_point deadline;
    bool done = false;
    // Set once close_all ran (deadline or a failed copy): a step that was waiting on something
    // other than these sockets (a DNS answer) must not open a new socket afterwards.
    bool closed = false;

    void touch(Clock::duration within) { deadline = Clock::now() + within; }
    void close_all() noexcept {
        closed = true;
        boost::system::error_code ignored;
        if (raw && raw->is_open()) raw->close(ignored);
        if (tls) tls->close();
        if (upstream && upstream->is_open()) upstream->close(ignored);
    }
    // The connection's coroutine calls this when it ends: the watchdog stops without closing.
    void finish() {
        done = true;
        timer.cancel();
    }
};

// Sleeps until the connection's deadline; extends itself while the deadline moves on.
inline asio::awaitable<void> watchdog(std::shared_ptr<Connection> c) {
    while (!c->done) {
        c->timer.expires_at(c->deadline);
        co_await c->timer.async_wait(kTok);
        if (c->done) break;
        if (Clock::now() >= c->deadline) {
            c->close_all();
            break;
        }
    }
}

// The end of one direction: the peer learns no more bytes come, the other direction goes on.
inline asio::awaitable<void> half_close(tcp::socket& s) {
    boost::system::error_code ignored;
    s.shutdown(tcp::socket::shutdown_send, ignored);
    co_return;
}
inline asio::awaitable<void> half_close(TlsStream& s) {
    co_await s.async_shutdown(kTok);  // close_notify; a failure surfaces on the next read
}

// What a copy does when its source ends in order. The authenticated tunnel carries a byte
// stream whose two directions end separately (kHalfClose); a web server ends the whole
// connection when either side is done, so the decoy path closes everything (kCloseAll).
enum class OnEnd : std::uint8_t { kHalfClose, kCloseAll };

// Copies `from` to `to` until `from` ends, then half-closes `to` (and with kCloseAll closes
// the rest). A read error other than an orderly end, or any write error, closes the whole
// connection so the other direction ends too. Every transfer pushes the idle deadline on;
// `counter` (may be null) counts the bytes.
template <typename From, typename To>
asio::awaitable<void> pump(Connection& c, From& from, To& to, Clock::duration idle,
                           std::atomic<std::uint64_t>* counter, OnEnd on_end = OnEnd::kHalfClose) {
    std::unique_ptr<std::uint8_t[]> buf(new std::uint8_t[kCopyBufferSize]);
    for (;;) {
        auto [rec, n] =
            co_await from.async_read_some(asio::buffer(buf.get(), kCopyBufferSize), kTok);
        if (rec) {
            if (rec == asio::error::eof || rec == asio::ssl::error::stream_truncated) {
                co_await half_close(to);
                if (on_end == OnEnd::kCloseAll) c.close_all();
            } else {
                c.close_all();
            }
            co_return;
        }
        c.touch(idle);
        auto [wec, wn] = co_await asio::async_write(to, asio::buffer(buf.get(), n), kTok);
        if (wec) {
            c.close_all();
            co_return;
        }
        if (counter != nullptr) counter->fetch_add(wn, std::memory_order_relaxed);
        c.touch(idle);
    }
}

}  // namespace pp::relay::detail

#pragma once
// bench/: one simulated device's WebSocket over TLS 1.3, for the load generator
// (bench/server_load.cpp).
//
// Why not Beast's websocket::stream over asio::ssl::stream, as the client library uses: the
// generator shares the machine with the server it measures, so every microsecond it spends
// per frame is taken from the server. With Beast's client stream the generator spent 61-77 us
// of CPU per message (five frames) in the closed loop, most of what the server spent. This link
// does what the server's session does (net/session.cpp): the SSL object reads and writes the socket
// itself (net/tls_stream.hpp), what OpenSSL has already decrypted is read without an operation and
// a post, several frames are parsed out of one read, and frames queued while a write is in flight
// leave together in the next write.
//
// Single-threaded: every call runs on the io_context's one thread. The server never fragments
// and offers no extension, so a fragmented message is refused here as a protocol error. A
// close from the server ends the link without a close in answer: the generator sees one only
// when the server is going away. A link must outlive its operations: the generator destroys
// its clients only after its io threads have stopped.
#include <openssl/rand.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/bytes.hpp"
#include "net/tls_stream.hpp"
#include "net/ws_frame.hpp"

namespace pp::bench {

class LoadLink {
  public:
    using error_code = boost::system::error_code;
    using tcp = boost::asio::ip::tcp;

    LoadLink(boost::asio::io_context& ioc, boost::asio::ssl::context& tls,
             std::size_t max_message_bytes);
    LoadLink(const LoadLink&) = delete;
    LoadLink& operator=(const LoadLink&) = delete;

    enum class OpenStep : std::uint8_t { kConnect, kTls, kUpgrade };
    struct OpenError {
        OpenStep step;
        error_code ec;
    };
    // TCP connect (no Nagle delay, as the client library), TLS handshake (the context's verify
    // callback judges the certificate), WebSocket upgrade to `target` with Host `host`, the
    // server's Sec-WebSocket-Accept checked. Unbounded by itself: the caller's deadline calls
    // close(), which makes the pending step fail.
    boost::asio::awaitable<std::optional<OpenError>> open(tcp::endpoint endpoint, std::string host,
                                                          std::string target);

    // Queues a binary message of `size` bytes, which `fill(std::span<std::uint8_t>)` writes in
    // place, masked with a fresh key. It leaves with the next write: at once if none is in
    // flight, else together with everything queued meanwhile. False if the link is closed or
    // no mask could be drawn (then it is closed).
    template <typename Fill>
    bool send(std::size_t size, Fill&& fill) {
        const auto frame = append_frame(net::WsOpcode::kBinary, size);
        if (!frame) return false;
        fill(frame->payload);
        seal_frame(*frame);
        return true;
    }

    // The next binary message, for strictly sequential use (request, then answer) before
    // read_messages() starts. Its bytes stay valid until the next read. Pings are answered on
    // the way; a close or any fault ends the link with an error.
    boost::asio::awaitable<std::pair<error_code, ByteView>> next_message();

    // Reads until the connection ends, handing each binary message's bytes to
    // `on_message(ByteView)` (valid during the call only); returns why reading ended.
    template <typename OnMessage>
    boost::asio::awaitable<error_code> read_messages(OnMessage on_message) {
        unsigned reads = 0;
        for (;;) {
            ByteView message;
            error_code ec;
            for (;;) {
                const Parsed got = parse_next(message, ec);
                if (got == Parsed::kMessage) {
                    on_message(message);
                    // The handler may have closed the link: nothing after that is read.
                    if (!open_) co_return boost::asio::error::operation_aborted;
                    continue;
                }
                if (got == Parsed::kFault) co_return ec;
                break;  // kNeedMore
            }
            const auto step = read_some();
            if (step.ec) co_return fail(step.ec);
            if (step.want != net::detail::TlsStream::Want::kNothing) {
                if (const auto wait_ec = co_await wait_ready(step.want)) co_return wait_ec;
                continue;
            }
            // As the server's session: other connections' work goes first now and then, or one
            // busy connection could hold the thread as long as its peer keeps writing.
            if (++reads % 16 == 0) co_await boost::asio::post(ioc_, boost::asio::use_awaitable);
        }
    }

    // Called once when a queued write fails (the reader learns of it on its own).
    void on_write_error(std::function<void(error_code)> f) { on_write_error_ = std::move(f); }

    // Closes the socket: pending waits and operations fail, later sends return false.
    void close() noexcept;
    bool is_open() const noexcept { return open_; }

  private:
    enum class Parsed : std::uint8_t { kMessage, kNeedMore, kFault };
    // A frame appended to the write queue, its payload still to be written and masked.
    struct OpenFrame {
        std::span<std::uint8_t> payload;
        net::WsMask mask;
    };
    // Takes the next complete frame from the read buffer: answers a ping, skips a pong, ends
    // on a close or a fault (ec set), or yields a binary message.
    Parsed parse_next(ByteView& message, error_code& ec);
    // One non-blocking read into the buffer's free tail, made room for first.
    net::detail::TlsStream::Step read_some();
    // Waits until the socket is ready for what OpenSSL wants; an error fails the link.
    boost::asio::awaitable<error_code> wait_ready(net::detail::TlsStream::Want want);
    std::optional<OpenFrame> append_frame(net::WsOpcode op, std::size_t size);
    void seal_frame(const OpenFrame& frame);
    void start_write();
    error_code fail(error_code ec);
    bool next_mask(net::WsMask& mask);

    boost::asio::io_context& ioc_;
    boost::asio::ssl::context& tls_context_;
    const std::size_t max_message_;
    tcp::socket socket_;  // until the TLS stream takes it over
    std::optional<net::detail::TlsStream> tls_;
    bool open_ = false;

    // Received bytes: [read_pos_, read_end_) is not parsed yet; need_ is how many bytes from
    // read_pos_ the frame at its head needs in all (0: unknown yet).
    Bytes read_buf_;
    std::size_t read_pos_ = 0;
    std::size_t read_end_ = 0;
    std::size_t need_ = 0;

    // Frames queued while a write is in flight, and the write in flight.
    Bytes pending_;
    Bytes in_flight_;
    bool writing_ = false;
    std::function<void(error_code)> on_write_error_;

    // Mask keys, drawn from OpenSSL's DRBG 64 at a time.
    std::array<std::uint8_t, 256> mask_pool_{};
    std::size_t mask_pos_ = sizeof mask_pool_;
};

}  // namespace pp::bench

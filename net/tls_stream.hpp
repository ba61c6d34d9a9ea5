#pragma once
// net/ internal: a TLS stream for the server's accepted connections that holds no I/O buffers of
// its own.
//
// Why not asio::ssl::stream: its stream_core keeps two 17 KiB buffers and its engine a BIO pair
// of another 2 x 17 KiB for the connection's whole life, about 68 KiB per connection, while most
// of our connections are idle WebSockets. Here the SSL object reads and writes the TCP socket
// itself through a tiny BIO (recv/send on the socket's descriptor), and the stream only waits
// for readiness with socket.async_wait() when OpenSSL says WANT_READ or WANT_WRITE. With
// SSL_MODE_RELEASE_BUFFERS on the context, an idle connection then holds the SSL object and the
// socket, nothing else.
//
// Rules the callers keep (the session does): all operations of one stream run on one strand, so
// only one SSL call ever runs at a time; at most one read and one write operation are
// outstanding, as Beast's AsyncStream contract already requires. A read and a write may be
// outstanding together (the session's reader and writer are). read_now() counts as a read.
//
// Satisfies Beast's AsyncStream (get_executor, async_read_some, async_write_some), so Beast's
// http::async_read/async_write use it directly; async_teardown() below closes a connection in
// order (close_notify, then Beast's TCP teardown).
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>

typedef struct ssl_st SSL;

namespace pp::net::detail {

class TlsStream {
  public:
    using executor_type = boost::asio::ip::tcp::socket::executor_type;
    using error_code = boost::system::error_code;
    using handshake_type = boost::asio::ssl::stream_base::handshake_type;

    // Takes over a connected socket. If OpenSSL cannot allocate the SSL object, every operation
    // completes with an error instead (no exception for an allocation failure per connection).
    TlsStream(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context& ctx);
    ~TlsStream();
    // The SSL object's BIO points at socket_, so the stream stays where it was built.
    TlsStream(const TlsStream&) = delete;
    TlsStream& operator=(const TlsStream&) = delete;

    executor_type get_executor() noexcept { return socket_.get_executor(); }
    boost::asio::ip::tcp::socket& socket() noexcept { return socket_; }
    SSL* native_handle() noexcept { return ssl_; }

    // Closes the socket: pending waits complete with operation_aborted, later SSL calls fail.
    void close() noexcept;

    // void(error_code)
    template <typename Token>
    auto async_handshake(handshake_type type, Token&& token) {
        return start<void(error_code)>(HandshakeStep{type}, std::forward<Token>(token));
    }

    // void(error_code, std::size_t): at most one TLS record's plaintext, into the first
    // non-empty buffer. TLS 1.3 post-handshake messages (tickets, KeyUpdate) are handled inside.
    // The peer's close_notify completes it with asio::error::eof.
    template <typename MutableBuffers, typename Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        return start<void(error_code, std::size_t)>(ReadStep<MutableBuffers>{buffers},
                                                    std::forward<Token>(token));
    }

    // void(error_code, std::size_t). A sequence of several buffers (Beast hands over a frame
    // header and its payload separately) is gathered into one TLS record of up to kGatherMax
    // bytes, instead of one record and one send() per buffer.
    template <typename ConstBuffers, typename Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        return start<void(error_code, std::size_t)>(WriteStep<ConstBuffers>{buffers},
                                                    std::forward<Token>(token));
    }

    // void(error_code): sends close_notify and completes; it does not wait for the peer's
    // close_notify (the caller closes or tears down the TCP connection next).
    template <typename Token>
    auto async_shutdown(Token&& token) {
        return start<void(error_code)>(ShutdownStep{}, std::forward<Token>(token));
    }

    // Plaintext bytes of one record are gathered up to this size (one full TLS record).
    static constexpr std::size_t kGatherMax = 16 * 1024;

    // The outcome of one non-blocking SSL call: bytes moved, an error, or what the socket
    // must be ready for before the same call is tried again.
    enum class Want : std::uint8_t { kNothing, kRead, kWrite };
    struct Step {
        Want want = Want::kNothing;
        std::size_t n = 0;
        error_code ec;
    };

    // One non-blocking read attempt, for a reader that waits for readiness itself
    // (socket().async_wait) only when OpenSSL has nothing decrypted left: the pieces of a
    // frame already in OpenSSL's buffer are then read without an operation and a post each.
    // The same rules as async_read_some: on the strand, one reader at a time.
    Step read_now(void* data, std::size_t size) { return try_read(data, size); }

  private:
    // One non-blocking attempt each; Want says what to wait for before trying the same call
    // again. Defined in tls_stream.cpp, the only place that calls OpenSSL.
    Step try_handshake(handshake_type type);
    Step try_read(void* data, std::size_t size);
    Step try_write(const void* data, std::size_t size);
    Step try_shutdown();

    struct HandshakeStep {
        static constexpr bool kSized = false;
        handshake_type type;
        Step operator()(TlsStream& s) { return s.try_handshake(type); }
    };
    struct ShutdownStep {
        static constexpr bool kSized = false;
        Step operator()(TlsStream& s) { return s.try_shutdown(); }
    };
    template <typename MutableBuffers>
    struct ReadStep {
        static constexpr bool kSized = true;
        MutableBuffers buffers;
        Step operator()(TlsStream& s) {
            for (auto it = boost::asio::buffer_sequence_begin(buffers);
                 it != boost::asio::buffer_sequence_end(buffers); ++it) {
                boost::asio::mutable_buffer b(*it);
                if (b.size() != 0) return s.try_read(b.data(), b.size());
            }
            return {};  // nothing asked for: completes with 0 bytes, as Asio's streams do
        }
    };
    template <typename ConstBuffers>
    struct WriteStep {
        static constexpr bool kSized = true;
        ConstBuffers buffers;
        // Chosen on the first attempt and kept for every retry: OpenSSL requires a write that
        // returned WANT_WRITE to be repeated with the same bytes. The gather copy lives in the
        // operation (moving with it; SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER allows that).
        std::unique_ptr<std::uint8_t[]> gathered{};
        const void* data = nullptr;
        std::size_t size = 0;
        bool chosen = false;

        Step operator()(TlsStream& s) {
            if (!chosen) choose();
            if (size == 0) return {};
            return s.try_write(gathered ? gathered.get() : data, size);
        }
        void choose() {
            chosen = true;
            namespace asio = boost::asio;
            auto it = asio::buffer_sequence_begin(buffers);
            const auto end = asio::buffer_sequence_end(buffers);
            while (it != end && asio::const_buffer(*it).size() == 0) ++it;
            if (it == end) return;
            asio::const_buffer first(*it);
            auto next = it;
            ++next;
            while (next != end && asio::const_buffer(*next).size() == 0) ++next;
            // One buffer, or a first buffer that fills a record by itself: write it in place.
            if (next == end || first.size() >= kGatherMax) {
                data = first.data();
                size = first.size();
                return;
            }
            const std::size_t total = std::min(asio::buffer_size(buffers), kGatherMax);
            gathered.reset(new std::uint8_t[total]);
            size = asio::buffer_copy(asio::buffer(gathered.get(), total), buffers);
        }
    };

    // Drives one Step function to completion. Each attempt is one SSL call; on WANT_READ or
    // WANT_WRITE it waits for socket readiness and tries again. A result available on the first
    // attempt is posted, never delivered from inside the initiating call.
    template <typename StepFn>
    struct Op {
        TlsStream& stream;
        StepFn step;
        bool waited = false;
        bool posted = false;
        Step result{};

        template <typename Self>
        void operator()(Self& self, error_code wait_ec = {}) {
            if (!posted) {
                if (wait_ec) {
                    result = Step{Want::kNothing, 0, wait_ec};
                } else {
                    result = step(stream);
                    if (result.want != Want::kNothing) {
                        waited = true;
                        stream.socket_.async_wait(result.want == Want::kRead
                                                      ? boost::asio::socket_base::wait_read
                                                      : boost::asio::socket_base::wait_write,
                                                  std::move(self));
                        return;
                    }
                }
                if (!waited) {
                    posted = true;
                    boost::asio::post(std::move(self));
                    return;
                }
            }
            complete(self);
        }
        template <typename Self>
        void complete(Self& self) {
            if constexpr (StepFn::kSized) {
                self.complete(result.ec, result.n);
            } else {
                self.complete(result.ec);
            }
        }
    };

    template <typename Signature, typename StepFn, typename Token>
    auto start(StepFn step, Token&& token) {
        return boost::asio::async_compose<Token, Signature>(Op<StepFn>{*this, std::move(step)},
                                                            token, socket_);
    }

    friend struct TlsStreamBio;  // tls_stream.cpp: the BIO that reads and writes socket_
    Step finish(int ret, std::size_t n);

    boost::asio::ip::tcp::socket socket_;
    SSL* ssl_ = nullptr;
    int sys_errno_ = 0;  // errno of the BIO's last failed recv/send
    bool role_set_ = false;
};

namespace tls_stream_detail {
struct TeardownOp {
    TlsStream& stream;
    boost::beast::role_type role;
    int state = 0;
    boost::system::error_code first_ec{};

    template <typename Self>
    void operator()(Self& self, boost::system::error_code ec = {}) {
        switch (state) {
            case 0:
                state = 1;
                stream.async_shutdown(std::move(self));
                return;
            case 1: {
                state = 2;
                first_ec = ec;
                using boost::beast::websocket::async_teardown;
                async_teardown(role, stream.socket(), std::move(self));
                return;
            }
            default:
                self.complete(first_ec ? first_ec : ec);
        }
    }
};
}  // namespace tls_stream_detail

// Accepts any completion token, so the session's HTTP path can use it too.
template <typename Token>
auto async_teardown(boost::beast::role_type role, TlsStream& stream, Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code)>(
        tls_stream_detail::TeardownOp{stream, role}, token, stream.socket());
}

}  // namespace pp::net::detail

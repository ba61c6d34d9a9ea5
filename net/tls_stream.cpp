#include "net/tls_stream.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <boost/asio/ssl/error.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include <cerrno>
#include <climits>

namespace pp::net::detail {

namespace asio = boost::asio;
using boost::system::error_code;

// A source/sink BIO over the stream's socket. OpenSSL's own socket BIO would do the I/O too,
// but it write()s, which raises SIGPIPE on a connection the peer has reset, and it keeps the
// descriptor number after Asio closes the socket, so a late call could touch a reused
// descriptor. This one sends with MSG_NOSIGNAL and asks the socket for its descriptor on every
// call (-1 once closed: EBADF, never someone else's connection).
struct TlsStreamBio {
    static TlsStream& stream(BIO* b) { return *static_cast<TlsStream*>(BIO_get_data(b)); }

    static int write(BIO* b, const char* data, int len) {
        BIO_clear_retry_flags(b);
        auto& s = stream(b);
        for (;;) {
            const ssize_t r = ::send(s.socket_.native_handle(), data, static_cast<std::size_t>(len),
                                     MSG_NOSIGNAL);
            if (r >= 0) return static_cast<int>(r);
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                BIO_set_retry_write(b);
            } else {
                s.sys_errno_ = errno;
            }
            return -1;
        }
    }

    static int read(BIO* b, char* data, int len) {
        BIO_clear_retry_flags(b);
        auto& s = stream(b);
        for (;;) {
            const ssize_t r =
                ::recv(s.socket_.native_handle(), data, static_cast<std::size_t>(len), 0);
            if (r >= 0) return static_cast<int>(r);  // 0: the peer closed TCP
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                BIO_set_retry_read(b);
            } else {
                s.sys_errno_ = errno;
            }
            return -1;
        }
    }

    static long ctrl(BIO*, int cmd, long, void*) {
        // OpenSSL flushes after each flight of records; send() has no user-space buffer.
        return cmd == BIO_CTRL_FLUSH ? 1 : 0;
    }

    static int create(BIO* b) {
        BIO_set_init(b, 1);
        return 1;
    }

    static const BIO_METHOD* method() {
        static BIO_METHOD* const m = [] {
            BIO_METHOD* bm = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "pp socket");
            if (bm == nullptr) return bm;
            BIO_meth_set_write(bm, &write);
            BIO_meth_set_read(bm, &read);
            BIO_meth_set_ctrl(bm, &ctrl);
            BIO_meth_set_create(bm, &create);
            return bm;
        }();
        return m;
    }
};

TlsStream::TlsStream(asio::ip::tcp::socket socket, asio::ssl::context& ctx)
    : socket_(std::move(socket)) {
    error_code ignored;
    // The BIO's recv/send must return EAGAIN rather than block the io thread.
    socket_.non_blocking(true, ignored);
    const BIO_METHOD* m = TlsStreamBio::method();
    if (m == nullptr || ignored) return;
    SSL* ssl = SSL_new(ctx.native_handle());
    if (ssl == nullptr) {
        ERR_clear_error();
        return;
    }
    BIO* bio = BIO_new(m);
    if (bio == nullptr) {
        SSL_free(ssl);
        ERR_clear_error();
        return;
    }
    BIO_set_data(bio, this);
    SSL_set_bio(ssl, bio, bio);  // the SSL object owns the BIO now
    // Partial writes: SSL_write returns after each record, so write_some reports progress and a
    // WANT_WRITE retry concerns one record only. Moving buffer: the retried bytes are the same
    // but may sit at another address (the gather copy moves with its operation).
    SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // Read-ahead: one recv() fills OpenSSL's record buffer with whatever has arrived, instead of
    // one recv() for each record header and another for its body. The buffer is still released
    // (SSL_MODE_RELEASE_BUFFERS) once everything in it has been consumed. A WANT_READ still
    // means the socket must be read, so waiting for readiness after one stays correct.
    SSL_set_read_ahead(ssl, 1);
    ssl_ = ssl;
}

TlsStream::~TlsStream() {
    // SSL_free does no I/O: no close_notify here, that is async_shutdown's job.
    if (ssl_ != nullptr) SSL_free(ssl_);
}

void TlsStream::close() noexcept {
    error_code ignored;
    socket_.close(ignored);
}

TlsStream::Step TlsStream::finish(int ret, std::size_t n) {
    if (ret > 0) return Step{Want::kNothing, n, {}};
    const int err = SSL_get_error(ssl_, ret);
    Step st;
    switch (err) {
        case SSL_ERROR_WANT_READ:
            st.want = Want::kRead;
            break;
        case SSL_ERROR_WANT_WRITE:
            st.want = Want::kWrite;
            break;
        case SSL_ERROR_ZERO_RETURN:  // the peer's close_notify
            st.ec = asio::error::eof;
            break;
        case SSL_ERROR_SYSCALL:
            // A socket error from the BIO, or (OpenSSL 1.1 style) an EOF without close_notify.
            st.ec = sys_errno_ != 0 ? error_code(sys_errno_, boost::system::system_category())
                                    : error_code(asio::ssl::error::stream_truncated);
            break;
        case SSL_ERROR_SSL: {
            const unsigned long e = ERR_peek_last_error();
            if (ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
                st.ec = asio::ssl::error::stream_truncated;  // TCP closed without close_notify
            } else if (sys_errno_ != 0) {
                st.ec = error_code(sys_errno_, boost::system::system_category());
            } else {
                st.ec = error_code(static_cast<int>(e), asio::error::get_ssl_category());
            }
            if (!st.ec) st.ec = asio::error::fault;
            break;
        }
        default:
            st.ec = asio::error::fault;
    }
    // The error queue is per thread and our calls hop between io threads: leave nothing behind.
    ERR_clear_error();
    return st;
}

namespace {
// Guards every SSL call: no SSL object (allocation failed) or no socket (closed) ends the op.
error_code unusable(SSL* ssl, const asio::ip::tcp::socket& s) {
    if (ssl == nullptr) return asio::error::no_memory;
    if (!s.is_open()) return asio::error::bad_descriptor;
    return {};
}
}  // namespace

TlsStream::Step TlsStream::try_handshake(handshake_type type) {
    if (auto ec = unusable(ssl_, socket_)) return Step{Want::kNothing, 0, ec};
    ERR_clear_error();
    sys_errno_ = 0;
    if (!role_set_) {
        role_set_ = true;
        if (type == handshake_type::server) {
            SSL_set_accept_state(ssl_);
        } else {
            SSL_set_connect_state(ssl_);
        }
    }
    return finish(SSL_do_handshake(ssl_), 0);
}

TlsStream::Step TlsStream::try_read(void* data, std::size_t size) {
    if (auto ec = unusable(ssl_, socket_)) return Step{Want::kNothing, 0, ec};
    ERR_clear_error();
    sys_errno_ = 0;
    std::size_t n = 0;
    const int r = SSL_read_ex(ssl_, data, size, &n);
    return finish(r, n);
}

TlsStream::Step TlsStream::try_write(const void* data, std::size_t size) {
    if (auto ec = unusable(ssl_, socket_)) return Step{Want::kNothing, 0, ec};
    ERR_clear_error();
    sys_errno_ = 0;
    std::size_t n = 0;
    const int r = SSL_write_ex(ssl_, data, size, &n);
    return finish(r, n);
}

TlsStream::Step TlsStream::try_shutdown() {
    if (auto ec = unusable(ssl_, socket_)) return Step{Want::kNothing, 0, ec};
    ERR_clear_error();
    sys_errno_ = 0;
    // 1: both close_notify seen; 0: ours is sent, the peer's not yet read. Either way we are
    // done: waiting for the peer's is the TCP teardown's business, bounded by its deadline.
    const int r = SSL_shutdown(ssl_);
    if (r >= 0) {
        ERR_clear_error();
        return {};
    }
    return finish(r, 0);
}

}  // namespace pp::net::detail

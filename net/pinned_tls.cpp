#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/websocket/error.hpp>

#include "net/client_common.hpp"
#include "net/tls.hpp"

namespace pp::net::detail {

boost::asio::ssl::context pinned_client_context() {
    boost::asio::ssl::context ctx(boost::asio::ssl::context::tls_client);
    SSL_CTX* c = ctx.native_handle();
    SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
    SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
    ctx.set_verify_mode(boost::asio::ssl::verify_peer);
    return ctx;
}

bool verify_pinned(PinCheck& pin, bool /*preverified*/, boost::asio::ssl::verify_context& vc) {
    X509_STORE_CTX* store = vc.native_handle();
    // The pin replaces CA validation entirely: intermediates are not judged, and the leaf passes
    // only if it is exactly the pinned certificate. TLS 1.3's CertificateVerify then proves the
    // server holds that certificate's key.
    if (X509_STORE_CTX_get_error_depth(store) > 0) return true;
    X509* leaf = X509_STORE_CTX_get_current_cert(store);
    if (leaf == nullptr) return false;
    int len = i2d_X509(leaf, nullptr);
    if (len <= 0) return false;
    Bytes der(static_cast<std::size_t>(len));
    unsigned char* p = der.data();
    i2d_X509(leaf, &p);
    const bool ok = certificate_fingerprint_sha256(der) == pin.expected;
    if (!ok) pin.mismatch = true;
    return ok;
}

void set_sni(void* ssl_native_handle, const std::string& host) {
    boost::system::error_code ec;
    boost::asio::ip::make_address(host, ec);
    if (!ec) return;
    SSL_set_tlsext_host_name(static_cast<SSL*>(ssl_native_handle), host.c_str());
}

Error to_error(const boost::system::error_code& ec, const PinCheck* pin) {
    namespace ws = boost::beast::websocket;
    if (pin != nullptr && pin->mismatch) {
        return make_error(ErrorCode::kUntrustedIdentity, "server certificate does not match pin");
    }
    if (ec == boost::beast::error::timeout || ec == boost::asio::error::timed_out) {
        return make_error(ErrorCode::kLimitExceeded, "timed out");
    }
    if (ec == ws::error::message_too_big || ec == boost::beast::http::error::body_limit) {
        return make_error(ErrorCode::kLimitExceeded, "message too large");
    }
    // The peer went away: however the socket learnt it (a write into a connection the server
    // already closed fails with EPIPE, say, while a read sees the reset).
    if (ec == ws::error::closed || ec == boost::asio::error::eof ||
        ec == boost::asio::error::connection_reset || ec == boost::asio::error::broken_pipe ||
        ec == boost::asio::error::connection_aborted || ec == boost::asio::error::not_connected ||
        ec == boost::asio::error::shut_down || ec == boost::asio::ssl::error::stream_truncated) {
        return make_error(ErrorCode::kNoSession, "connection closed");
    }
    return make_error(ErrorCode::kInternal, "network error");
}

}  // namespace pp::net::detail

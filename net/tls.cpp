#include "net/tls.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "base/hex.hpp"
#include "net/openssl_ptr.hpp"
#include "net/tls_impl.hpp"

namespace pp::net {

TlsIdentity::TlsIdentity(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
const Bytes& TlsIdentity::certificate_der() const {
    return impl_->der;
}
const std::string& TlsIdentity::fingerprint_sha256() const {
    return impl_->fingerprint;
}

std::string certificate_fingerprint_sha256(ByteView cert_der) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(cert_der.data(), cert_der.size(), md, &len, EVP_sha256(), nullptr) != 1) {
        return {};
    }
    return to_hex(ByteView(md, len));
}

namespace {

Result<Bytes> der_of(X509* cert) {
    int len = i2d_X509(cert, nullptr);
    if (len <= 0) return make_error(ErrorCode::kMalformed, "certificate does not encode");
    Bytes der(static_cast<std::size_t>(len));
    unsigned char* p = der.data();
    if (i2d_X509(cert, &p) != len) return make_error(ErrorCode::kInternal, "i2d_X509 failed");
    return der;
}

// TLS 1.3 only: no legacy versions to downgrade to, no compression (CRIME), and 1.3 has no
// renegotiation at all; the option also covers a future change of the version floor.
void harden(SSL_CTX* ctx) {
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_options(
        ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    // Idle connections give their 16 KiB record buffers back to the allocator: most of our
    // connections are idle WebSockets, and per-connection memory bounds how many one host holds.
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
}

}  // namespace

Result<TlsIdentity> make_server_tls(const std::filesystem::path& cert_pem_path,
                                    const std::filesystem::path& key_pem_path) {
    std::shared_ptr<TlsIdentity::Impl> impl;
    try {
        impl = std::make_shared<TlsIdentity::Impl>();
    } catch (...) {
        return make_error(ErrorCode::kInternal, "SSL_CTX_new failed");
    }
    SSL_CTX* ctx = impl->ctx.native_handle();
    harden(ctx);
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_pem_path.c_str()) != 1) {
        ERR_clear_error();
        return make_error(ErrorCode::kMalformed, "cannot load certificate chain PEM");
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_pem_path.c_str(), SSL_FILETYPE_PEM) != 1) {
        ERR_clear_error();
        return make_error(ErrorCode::kInvalidKey, "cannot load private key PEM");
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        return make_error(ErrorCode::kInvalidKey, "private key does not match certificate");
    }
    X509* leaf = SSL_CTX_get0_certificate(ctx);
    if (leaf == nullptr) return make_error(ErrorCode::kMalformed, "no certificate");
    PP_TRY(der, der_of(leaf));
    impl->fingerprint = certificate_fingerprint_sha256(der);
    impl->der = std::move(der);
    return TlsIdentity(std::move(impl));
}

Result<std::string> certificate_fingerprint_sha256_pem(const std::filesystem::path& cert_pem_path) {
    ossl::Bio bio(BIO_new_file(cert_pem_path.c_str(), "r"));
    if (!bio) return make_error(ErrorCode::kInternal, "cannot open certificate file");
    ossl::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    ERR_clear_error();
    if (!cert) return make_error(ErrorCode::kMalformed, "no PEM certificate in file");
    PP_TRY(der, der_of(cert.get()));
    return certificate_fingerprint_sha256(der);
}

}  // namespace pp::net

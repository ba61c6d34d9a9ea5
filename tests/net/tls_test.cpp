// TLS identity: self-signed generation, reuse, file modes, pin format, TLS 1.3-only context.
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <fstream>

#include "net/tls.hpp"
#include "net/tls_impl.hpp"
#include "tests/net/test_server.hpp"

namespace pp::net {
namespace {

TEST(Tls, SelfSignedIsCreatedOnceAndReused) {
    test::TempDir dir;
    auto first = load_or_create_self_signed(dir.path());
    ASSERT_TRUE(first.ok());
    auto second = load_or_create_self_signed(dir.path());
    ASSERT_TRUE(second.ok());
    EXPECT_EQ(first->fingerprint_sha256(), second->fingerprint_sha256());
    EXPECT_EQ(first->certificate_der(), second->certificate_der());

    struct stat st {};
    ASSERT_EQ(::stat((dir.path() / "tls-key.pem").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "tls-key.pem.tmp"));

    auto from_pem = certificate_fingerprint_sha256_pem(dir.path() / "tls-cert.pem");
    ASSERT_TRUE(from_pem.ok());
    EXPECT_EQ(*from_pem, first->fingerprint_sha256());
}

TEST(Tls, FingerprintIsLowercaseHexSha256OfDer) {
    const auto& id = test::shared_identity();
    const auto& fp = id.fingerprint_sha256();
    ASSERT_EQ(fp.size(), 64u);
    for (char c : fp) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << fp;
    EXPECT_EQ(certificate_fingerprint_sha256(id.certificate_der()), fp);
}

TEST(Tls, CertificateHasExpectedSubjectSanAndLifetime) {
    const auto& der = test::shared_identity().certificate_der();
    const unsigned char* p = der.data();
    X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
    ASSERT_NE(cert, nullptr);
    char cn[64] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
    EXPECT_STREQ(cn, "paperplane");
    EXPECT_EQ(X509_check_host(cert, "localhost", 0, 0, nullptr), 1);
    EXPECT_EQ(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
    EXPECT_EQ(X509_check_ip_asc(cert, "::1", 0), 1);
    int days = 0, secs = 0;
    ASSERT_EQ(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert), X509_get0_notAfter(cert)), 1);
    EXPECT_GE(days, 3650);
    EVP_PKEY* key = X509_get0_pubkey(cert);
    ASSERT_NE(key, nullptr);
    EXPECT_TRUE(EVP_PKEY_is_a(key, "EC"));
    X509_free(cert);
}

TEST(Tls, ContextIsTls13Only) {
    SSL_CTX* ctx = test::shared_identity().impl().ctx.native_handle();
    EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx), TLS1_3_VERSION);
    EXPECT_EQ(SSL_CTX_get_max_proto_version(ctx), TLS1_3_VERSION);
    EXPECT_NE(SSL_CTX_get_options(ctx) & SSL_OP_NO_COMPRESSION, 0u);
    EXPECT_NE(SSL_CTX_get_options(ctx) & SSL_OP_NO_RENEGOTIATION, 0u);
}

TEST(Tls, CertificateWithoutKeyIsRefused) {
    test::TempDir dir;
    ASSERT_TRUE(load_or_create_self_signed(dir.path()).ok());
    std::filesystem::remove(dir.path() / "tls-key.pem");
    auto r = load_or_create_self_signed(dir.path());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidKey);
}

TEST(Tls, MismatchedKeyIsRefused) {
    test::TempDir a, b;
    ASSERT_TRUE(load_or_create_self_signed(a.path()).ok());
    ASSERT_TRUE(load_or_create_self_signed(b.path()).ok());
    auto r = make_server_tls(a.path() / "tls-cert.pem", b.path() / "tls-key.pem");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidKey);
    EXPECT_FALSE(make_server_tls(a.path() / "missing.pem", a.path() / "tls-key.pem").ok());
}

}  // namespace
}  // namespace pp::net

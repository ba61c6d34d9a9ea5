// First-run certificate generation for servers without an operator-supplied certificate.
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <system_error>

#include <boost/asio/ip/address.hpp>

#include "net/durable_file.hpp"
#include "net/openssl_ptr.hpp"
#include "net/tls.hpp"

namespace pp::net {

namespace {

constexpr const char* kFileStem = "tls";  // tls-cert.pem, tls-key.pem
constexpr long kTenYearsDays = 3653;
constexpr long kSnakeoilDays = 3650;

bool add_ext(X509* cert, int nid, const char* value) {
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, cert, cert, nullptr, nullptr, 0);
    ossl::Ext ext(X509V3_EXT_conf_nid(nullptr, &v3, nid, value));
    return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

// Our own servers' certificate, and the shape of Debian's snakeoil certificate
// (make-ssl-cert, i.e. `openssl req -x509 -days 3650` with basicConstraints CA:FALSE and the
// SAN) for services whose certificate should read like any host's.
enum class Shape : std::uint8_t { kPaperplane, kSnakeoil };

Result<ossl::X509Ptr> self_signed(EVP_PKEY* key, const std::string& common_name,
                                  const std::string& subject_alt_name, Shape shape) {
    const auto fail = make_error(ErrorCode::kInternal, "building the certificate failed");
    ossl::X509Ptr cert(X509_new());
    if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) return fail;

    const bool snakeoil = shape == Shape::kSnakeoil;
    // A random positive serial, unique enough that a regenerated certificate never collides
    // with an earlier one in a client's cache; 159 bits is what `openssl req -x509` draws.
    ossl::Bn serial(BN_new());
    if (!serial ||
        BN_rand(serial.get(), snakeoil ? 159 : 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
        BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
        return fail;
    }
    // Ours is backdated an hour so a client whose clock runs a little slow still accepts it;
    // snakeoil starts now and lasts 3650 days, as make-ssl-cert makes it.
    if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), snakeoil ? 0 : -3600) == nullptr ||
        X509_time_adj_ex(X509_getm_notAfter(cert.get()), snakeoil ? kSnakeoilDays : kTenYearsDays,
                         0, nullptr) == nullptr) {
        return fail;
    }
    X509_NAME* name = X509_get_subject_name(cert.get());
    const auto* cn = reinterpret_cast<const unsigned char*>(common_name.c_str());
    if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, cn, -1, -1, 0) != 1 ||
        X509_set_issuer_name(cert.get(), name) != 1 || X509_set_pubkey(cert.get(), key) != 1) {
        return fail;
    }
    if (snakeoil) {
        // make-ssl-cert's v3_req section, then the key identifiers OpenSSL 3's req adds.
        if (!add_ext(cert.get(), NID_basic_constraints, "CA:FALSE") ||
            !add_ext(cert.get(), NID_subject_alt_name, subject_alt_name.c_str()) ||
            !add_ext(cert.get(), NID_subject_key_identifier, "hash") ||
            !add_ext(cert.get(), NID_authority_key_identifier, "keyid")) {
            return fail;
        }
    } else if (!add_ext(cert.get(), NID_subject_alt_name, subject_alt_name.c_str()) ||
               !add_ext(cert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
               !add_ext(cert.get(), NID_key_usage, "critical,digitalSignature") ||
               !add_ext(cert.get(), NID_ext_key_usage, "serverAuth") ||
               !add_ext(cert.get(), NID_subject_key_identifier, "hash")) {
        return fail;
    }
    if (X509_sign(cert.get(), key, EVP_sha256()) <= 0) return fail;
    return cert;
}

Result<std::string> to_pem(const std::function<int(BIO*)>& write) {
    ossl::Bio mem(BIO_new(BIO_s_mem()));
    if (!mem || write(mem.get()) != 1)
        return make_error(ErrorCode::kInternal, "PEM encoding failed");
    char* data = nullptr;
    long len = BIO_get_mem_data(mem.get(), &data);
    return std::string(data, static_cast<std::size_t>(len));
}

Result<void> generate(const std::filesystem::path& cert_path, const std::filesystem::path& key_path,
                      const std::string& common_name, const std::string& subject_alt_name,
                      Shape shape) {
    ossl::Pkey key(shape == Shape::kSnakeoil
                       ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048})
                       : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    if (!key) return make_error(ErrorCode::kInternal, "key generation failed");
    PP_TRY(cert, self_signed(key.get(), common_name, subject_alt_name, shape));
    PP_TRY(key_pem, to_pem([&](BIO* b) {
               return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
           }));
    PP_TRY(cert_pem, to_pem([&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); }));
    // Key first: a key without a certificate is an interrupted first run (its pin was never
    // printed) and is safely regenerated; the certificate's arrival marks the pair complete.
    PP_TRY_VOID(write_file_durably(key_path, as_bytes(key_pem), 0600));
    return write_file_durably(cert_path, as_bytes(cert_pem), 0644);
}

// The pair lives in data_dir/<stem>-cert.pem and data_dir/<stem>-key.pem.
Result<TlsIdentity> load_or_create(const std::filesystem::path& data_dir, const std::string& stem,
                                   const std::string& common_name,
                                   const std::string& subject_alt_name, Shape shape) {
    std::error_code ec;
    std::filesystem::create_directories(data_dir, ec);
    if (ec) return make_error(ErrorCode::kInternal, "cannot create data dir");
    const auto cert_path = data_dir / (stem + "-cert.pem");
    const auto key_path = data_dir / (stem + "-key.pem");
    const bool have_cert = std::filesystem::exists(cert_path, ec);
    const bool have_key = std::filesystem::exists(key_path, ec);
    if (have_cert && !have_key) {
        // Never mint a new key under a certificate an operator may have published.
        return make_error(ErrorCode::kInvalidKey, "certificate present without its key");
    }
    if (!have_cert) {
        auto made = generate(cert_path, key_path, common_name, subject_alt_name, shape);
        ERR_clear_error();
        if (!made) return made.error();
    }
    return make_server_tls(cert_path, key_path);
}

}  // namespace

Result<TlsIdentity> load_or_create_self_signed(const std::filesystem::path& data_dir) {
    return load_or_create(data_dir, kFileStem, "paperplane", "DNS:localhost,IP:127.0.0.1,IP:::1",
                          Shape::kPaperplane);
}

Result<TlsIdentity> load_or_create_self_signed(const std::filesystem::path& data_dir,
                                               const SelfSignedSubject& subject) {
    // Host names and addresses only: the SAN is built as OpenSSL config text, where ',' or ':'
    // at the wrong place would add entries.
    const auto host_char = [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':';
    };
    if (subject.host.empty() || !std::all_of(subject.host.begin(), subject.host.end(), host_char) ||
        subject.file_stem.empty() || subject.file_stem.find('/') != std::string::npos) {
        return make_error(ErrorCode::kMalformed, "bad self-signed certificate subject");
    }
    boost::system::error_code ec;
    boost::asio::ip::make_address(subject.host, ec);
    const std::string san = (ec ? "DNS:" : "IP:") + subject.host;
    return load_or_create(data_dir, subject.file_stem, subject.host, san, Shape::kSnakeoil);
}

}  // namespace pp::net

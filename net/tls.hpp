#pragma once
// The server's TLS identity: a TLS 1.3-only OpenSSL context plus the certificate it presents.
// Clients pin the SHA-256 of that certificate (printed in every link), so a self-signed
// certificate is as trustworthy as a CA-issued one and needs no CA at all.
#include <filesystem>
#include <memory>
#include <string>

#include "base/bytes.hpp"
#include "base/result.hpp"

namespace pp::net {

class TlsIdentity {
  public:
    struct Impl;  // holds the boost::asio::ssl::context; see tls_impl.hpp (net/ internal)
    explicit TlsIdentity(std::shared_ptr<Impl> impl);

    // DER of the leaf certificate and its pin: lowercase hex SHA-256 over that DER.
    const Bytes& certificate_der() const;
    const std::string& fingerprint_sha256() const;

    Impl& impl() const { return *impl_; }

  private:
    // Shared: copies of an identity (and servers built from it) use one OpenSSL context.
    std::shared_ptr<Impl> impl_;
};

// Loads a PEM certificate chain and its PEM private key (the operator's own certificate).
Result<TlsIdentity> make_server_tls(const std::filesystem::path& cert_pem_path,
                                    const std::filesystem::path& key_pem_path);

// First run: generates an ECDSA P-256 key and a 10-year self-signed certificate (CN paperplane,
// SAN localhost, 127.0.0.1, ::1) into data_dir/tls-key.pem (mode 0600) and data_dir/tls-cert.pem.
// Later runs load the same files, so the pin stays stable.
Result<TlsIdentity> load_or_create_self_signed(const std::filesystem::path& data_dir);

// The same with a chosen subject, for services that should not name themselves (the relay's
// certificate reads like any host's): Debian's snakeoil shape (make-ssl-cert): RSA-2048,
// SHA-256, 3650 days from now, CN = host, SAN = DNS:host (or IP:host for an address),
// basicConstraints CA:FALSE, key identifiers; files data_dir/<file_stem>-cert.pem and
// data_dir/<file_stem>-key.pem.
struct SelfSignedSubject {
    std::string host;
    std::string file_stem;
};
Result<TlsIdentity> load_or_create_self_signed(const std::filesystem::path& data_dir,
                                               const SelfSignedSubject& subject);

// Lowercase hex SHA-256 of a DER-encoded certificate: the pin format used in links.
std::string certificate_fingerprint_sha256(ByteView cert_der);

// The same over a PEM file's first certificate; how a client tool reads a pin from disk.
Result<std::string> certificate_fingerprint_sha256_pem(const std::filesystem::path& cert_pem_path);

}  // namespace pp::net

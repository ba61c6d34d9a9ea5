#pragma once
// What a relay link names: the relay's TLS certificate (its pin goes into the link) and the
// 32-byte link secret clients prove they hold. Loaded from data_dir, created on first use; no
// socket is opened, so `paperplane-relay link` can print a link without running the daemon.
#include <string>

#include "base/result.hpp"
#include "net/tls.hpp"
#include "relay/config.hpp"
#include "wire/relay_auth.hpp"

namespace pp::relay {

// data_dir/relay-link-secret: 32 raw bytes, mode 0600.
inline constexpr const char* kLinkSecretFile = "relay-link-secret";
// Self-signed certificate (when the operator gives none): data_dir/relay-tls-{cert,key}.pem.
inline constexpr const char* kRelayTlsFileStem = "relay-tls";

struct RelayIdentity {
    net::TlsIdentity tls;
    wire::relay::LinkSecret secret;
};

// The operator's certificate if config.relay.tls_cert is set, else a self-signed one whose
// subject is the relay's public host (never a product name); plus the link secret.
Result<RelayIdentity> load_or_create_relay_identity(const Config& config);

// Just the secret: read data_dir/relay-link-secret, or create it (random, 0600) if absent.
Result<wire::relay::LinkSecret> load_or_create_link_secret(const std::string& data_dir);

// The host name the self-signed certificate carries: public_host, else the listen host unless
// it is a wildcard address, else "localhost".
std::string relay_certificate_host(const Config& config);

}  // namespace pp::relay

#pragma once
// paperplane-relay's settings, as the daemon hands them to each mode. Filled from defaults, then
// the TOML file, then command-line flags (apps/relay/config_file.*). Plain data, no I/O.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pp::relay {

// "host:port" or "[v6]:port" as written by the operator; parsed where it is used.
using HostPort = std::string;

// SOCKS5 mode (RFC 1928 + RFC 1929) for any application.
struct Socks5Config {
    bool enabled = false;
    HostPort listen = "0.0.0.0:1080";
    // "user:password" per line, '#' comments; reloaded on SIGHUP. Empty: data_dir/socks5-users.
    std::string users_file;
    // No-auth (method 0x00) is offered only when the operator asks for it.
    bool allow_no_auth = false;
    // Destination policy. Entries are CIDRs ("10.0.0.0/8", "::1/128"), single addresses, or
    // host names (matched exactly, case-insensitively, before resolution). Loopback, private,
    // link-local, unspecified, multicast and the relay's own addresses are denied unless an
    // allow entry covers them; deny entries always win.
    std::vector<std::string> allow;
    std::vector<std::string> deny;
    // Applies to users who authenticate; no-auth clients are bounded by the global cap only.
    unsigned max_connections_per_user = 512;
    std::chrono::seconds handshake_timeout{10};
    std::chrono::seconds idle_timeout{300};
    bool udp_associate = true;
    // Resolving and connecting to a CONNECT destination; past it the client gets reply 0x06.
    std::chrono::seconds connect_timeout{10};
};

// Relay mode: authenticated TLS relay to home servers, decoy website for everyone else.
struct RelayModeConfig {
    bool enabled = false;
    HostPort listen = "0.0.0.0:443";
    // Operator's PEM certificate chain and key; empty: a self-signed one kept in data_dir.
    std::string tls_cert, tls_key;
    // Home servers the relay connects to ("host:port"); nothing else is reachable through it.
    std::vector<HostPort> upstreams;
    // Decoy website for anything that does not authenticate: a plain-HTTP upstream such as a
    // local nginx ("127.0.0.1:8080"); empty: the built-in static site.
    HostPort decoy;
    // Optional directory of static files the built-in site serves instead of its own page.
    std::string decoy_root;
    // How far a client's clock may be from ours.
    std::chrono::seconds clock_window{120};
    // As nginx's client_header_timeout: TCP accept to the end of the TLS handshake, and to the
    // first record; also bounds the upstream connect and the first request at the decoy.
    std::chrono::seconds handshake_timeout{60};
    std::chrono::seconds idle_timeout{600};
    // As nginx's keepalive_timeout: the built-in decoy closes a connection idle this long
    // between requests.
    std::chrono::seconds decoy_keepalive_timeout{75};
    // Authenticators remembered at once (replay cache); each is live for two clock windows.
    // Far above any honest load, and bounds the cache at a few MiB. When it is full, a client
    // with a valid authenticator is told "busy".
    std::size_t replay_cache_entries = 65536;
};

struct Config {
    std::string data_dir = "./paperplane-relay-data";
    // Host name or address that share links carry; default: the listen host.
    std::string public_host;
    // Separate admin listener for /metrics and /healthz; empty: none.
    HostPort admin_listen = "127.0.0.1:9180";
    // Both modes together hold at most this many client connections.
    unsigned max_connections = 20000;
    // io threads; 0: one per core.
    unsigned threads = 0;
    Socks5Config socks5;
    RelayModeConfig relay;
};

}  // namespace pp::relay

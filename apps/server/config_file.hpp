#pragma once
// paperplane-server's settings: defaults, then the TOML file, then command-line flags.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net/server.hpp"
#include "server/config.hpp"

namespace pp::apps {

struct Settings {
    std::string data_dir = "./paperplane-data";
    std::string tls_cert, tls_key;  // empty: a self-signed certificate kept in data_dir
    std::string public_host;        // what links carry; defaults to the listen host
    net::ServerOptions net;
    server::Config service;
    // [endpoints]: where else clients may reach this server, and the relays the operator
    // vouches for; --endpoint and --vouch-relay add to them. Signed at start.
    std::vector<std::string> endpoint_addresses;
    std::vector<std::string> vouched_relays;
    // Serve the addresses (never the relays) to anyone at GET /v1/endpoints. Off by default:
    // a censor's crawler that finds one address would learn every other one at once.
    bool public_endpoints = false;
    // [storage] max_database_mib, in bytes; 0: only the disk bounds the database file.
    std::uint64_t max_database_bytes = 0;
};

// 16 TiB: SQLite (3.40.1 checked) takes a max_page_count of up to 2^32 - 2 pages, 16 TiB of
// its default 4 KiB pages.
inline constexpr std::int64_t kMaxDatabaseMib = std::int64_t{16} << 20;

// `io_threads` in the file: the network threads (TLS, frames, the store's reads). The default
// suits a 2-core machine; one per core is the rule past that.
inline constexpr std::int64_t kMaxIoThreads = 64;

// Reads a TOML file into `s`; returns an error message on failure.
std::optional<std::string> load_toml(const std::string& path, Settings& s);
// "host:port" or "[v6]:port".
std::optional<std::string> parse_listen(const std::string& value, Settings& s);
std::optional<std::string> parse_policy(const std::string& value, Settings& s);
// Appends one --endpoint / --vouch-relay value after checking it (the message never repeats a
// relay link: it carries the relay's secret).
std::optional<std::string> add_endpoint(const std::string& value, Settings& s);
std::optional<std::string> add_vouched_relay(const std::string& value, Settings& s);
// The whole list's bounds (wire/endpoint_list.hpp), once the file and the flags are in.
std::optional<std::string> check_endpoint_counts(const Settings& s);

}  // namespace pp::apps

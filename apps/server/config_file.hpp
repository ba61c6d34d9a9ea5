#pragma once
// paperplane-server's settings: defaults, then the TOML file, then command-line flags.
#include <cstdint>
#include <optional>
#include <string>

#include "net/server.hpp"
#include "server/config.hpp"

namespace pp::apps {

struct Settings {
    std::string data_dir = "./paperplane-data";
    std::string tls_cert, tls_key;  // empty: a self-signed certificate kept in data_dir
    std::string public_host;        // what links carry; defaults to the listen host
    net::ServerOptions net;
    server::Config service;
};

// Reads a TOML file into `s`; returns an error message on failure.
std::optional<std::string> load_toml(const std::string& path, Settings& s);
// "host:port" or "[v6]:port".
std::optional<std::string> parse_listen(const std::string& value, Settings& s);
std::optional<std::string> parse_policy(const std::string& value, Settings& s);

}  // namespace pp::apps

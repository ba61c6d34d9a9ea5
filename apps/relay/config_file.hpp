#pragma once
// paperplane-relay's settings: defaults (relay/config.hpp), then the TOML file, then flags.
#include <optional>
#include <string>

#include "relay/config.hpp"

namespace pp::apps {

// Reads a TOML file into `c`; returns an error message on failure. A [socks5] or [relay] table
// turns its mode on unless it says `enabled = false`.
std::optional<std::string> load_relay_toml(const std::string& path, relay::Config& c);

// "host:port" or "[v6]:port" with a port in 0..65535; an error message when it is not.
std::optional<std::string> check_host_port(const std::string& value);

// The host part of "host:port" / "[v6]:port" (brackets removed) and its port.
struct SplitHostPort {
    std::string host;
    std::uint16_t port = 0;
};
std::optional<SplitHostPort> split_host_port(const std::string& value);

}  // namespace pp::apps

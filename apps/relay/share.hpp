#pragma once
// What paperplane-relay prints so its operator can share it: the paperplane://relay link for
// Paperplane clients, socks5:// and Telegram's tg://socks links per SOCKS5 user, each also as a
// QR code in the terminal and, on request, as PNG files.
#include <cstdint>
#include <optional>
#include <string>

#include "base/bytes.hpp"
#include "relay/config.hpp"

namespace pp::apps {

struct ShareOptions {
    std::string png_dir;  // empty: no PNGs
    bool no_qr = false;   // no terminal QR codes
    // The daemon prints links only to a terminal; `run --print-links` prints them anyway.
    bool force_links = false;
};

// The ports actually bound (listen port 0 picks one) and the relay's identity.
struct RunningPorts {
    std::optional<std::uint16_t> socks5, relay, admin;
    std::string relay_pin;
    SecretArray<32> relay_secret;
};

// Creates the data directory if needed, readable by its owner only (it holds the relay's TLS
// key, link secret and users file).
void prepare_data_dir(const std::string& dir);

// SOCKS5 with passwords needs a users file: the first start creates one (mode 0600) with one
// user and a random password, so a fresh relay is usable and shareable at once.
std::optional<std::string> prepare_users_file(relay::Config& config);

// The start-up banner: what listens where, and the share links with their QR codes.
void print_banner(const relay::Config& config, const RunningPorts& ports,
                  const ShareOptions& share);

// `paperplane-relay link`: the same links without running the daemon (reads the data directory).
int print_links_command(relay::Config config, const ShareOptions& share);

// `paperplane-relay user add NAME`: appends a user and prints its links.
int add_user_command(relay::Config config, const std::string& name, std::string password,
                     const ShareOptions& share);

}  // namespace pp::apps

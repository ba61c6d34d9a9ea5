#include "apps/relay/share.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "apps/relay/config_file.hpp"
#include "qr/png.hpp"
#include "qr/terminal.hpp"
#include "relay/relay_identity.hpp"
#include "relay/users.hpp"
#include "wire/share_links.hpp"

namespace fs = std::filesystem;

namespace pp::apps {
namespace {

constexpr const char* kDefaultUsersFile = "socks5-users";

std::string users_path(const relay::Config& config) {
    return config.socks5.users_file.empty()
               ? (fs::path(config.data_dir) / kDefaultUsersFile).string()
               : config.socks5.users_file;
}

// A password friends type rarely and paste often: 18 random bytes, base64url (24 characters).
std::string random_password() {
    unsigned char raw[18];
    randombytes_buf(raw, sizeof raw);
    char out[sodium_base64_ENCODED_LEN(sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sodium_bin2base64(out, sizeof out, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    std::string password(out);
    sodium_memzero(out, sizeof out);
    return password;
}

// Appends one line to the users file, creating it with mode 0600 if it does not exist. A file
// whose last line has no newline gets one first, or the new user would extend that line.
std::optional<std::string> append_user(const std::string& path, const std::string& line) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return "cannot open " + path + " for writing";
    std::string text = line + "\n";
    const off_t size = ::lseek(fd, 0, SEEK_END);
    char last = '\n';
    if (size > 0 && ::pread(fd, &last, 1, size - 1) == 1 && last != '\n') text.insert(0, "\n");
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                    ::fsync(fd) == 0;
    sodium_memzero(text.data(), text.size());
    ::close(fd);
    if (!ok) return "cannot write " + path;
    return std::nullopt;
}

// The address friends use: the operator's public host, else the listen host unless it is a
// wildcard, else this machine's loopback (with a hint printed by the caller).
std::string share_host(const relay::Config& config, const std::string& listen) {
    if (!config.public_host.empty()) return config.public_host;
    auto hp = split_host_port(listen);
    if (hp && hp->host != "0.0.0.0" && hp->host != "::") return hp->host;
    return "127.0.0.1";
}

bool is_wildcard(const std::string& listen) {
    auto hp = split_host_port(listen);
    return hp && (hp->host == "0.0.0.0" || hp->host == "::");
}

bool needs_public_host(const relay::Config& config) {
    return config.public_host.empty() &&
           ((config.socks5.enabled && is_wildcard(config.socks5.listen)) ||
            (config.relay.enabled && is_wildcard(config.relay.listen)));
}

// File names for PNGs: user names are the operator's, so keep only safe characters.
std::string file_stem(std::string_view name) {
    std::string out;
    for (char c : name)
        out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
    return out.substr(0, 64);
}

void show(const char* label, const std::string& link, const ShareOptions& share,
          const std::string& png_stem) {
    std::printf("  %s\n    %s\n", label, link.c_str());
    if (!share.no_qr) {
        if (auto qr = qr::qr_for_terminal(link)) std::printf("%s", qr->c_str());
    }
    if (!share.png_dir.empty()) {
        // The PNGs hold the same secrets as the links.
        prepare_data_dir(share.png_dir);
        const auto file = fs::path(share.png_dir) / (png_stem + ".png");
        if (auto r = qr::write_qr_png(link, file, 8, 4); r)
            std::printf("    QR code: %s\n", file.c_str());
        else
            std::printf("    (no PNG: %s)\n", std::string(r.error().detail).c_str());
    }
}

void print_relay_link(const relay::Config& config, std::uint16_t port, const std::string& pin,
                      const SecretArray<32>& secret, const ShareOptions& share) {
    wire::RelayLink link;
    link.host = share_host(config, config.relay.listen);
    link.port = port;
    link.pin = pin;
    link.secret = secret;
    show("For Paperplane (paperplane route add <link>):", wire::format_relay_link(link), share,
         "relay");
}

void print_socks5_links(const relay::Config& config, std::uint16_t port,
                        const std::vector<relay::UserEntry>& users, const ShareOptions& share) {
    wire::Socks5Link base;
    base.host = share_host(config, config.socks5.listen);
    base.port = port;
    std::vector<wire::Socks5Link> links;
    if (config.socks5.allow_no_auth) links.push_back(base);
    for (const auto& u : users) {
        wire::Socks5Link l = base;
        l.user = u.name;
        l.password = u.password;
        links.push_back(l);
    }
    for (const auto& l : links) {
        const std::string who = l.user.empty() ? "anyone" : l.user;
        const std::string stem = l.user.empty() ? "open" : file_stem(l.user);
        show(("SOCKS5 for " + who + " (browsers, curl, any SOCKS5 app):").c_str(),
             wire::format_socks5_link(l), share, "socks5-" + stem);
        show(("Telegram proxy for " + who + " (open on the phone):").c_str(),
             wire::format_telegram_socks_link(l), share, "telegram-" + stem);
    }
}

Result<std::vector<relay::UserEntry>> read_users(const relay::Config& config) {
    if (config.socks5.allow_no_auth && config.socks5.users_file.empty() &&
        !fs::exists(users_path(config)))
        return std::vector<relay::UserEntry>{};
    return relay::read_users_file(users_path(config));
}

void print_share_section(const relay::Config& config, const RunningPorts& ports,
                         const std::vector<relay::UserEntry>& users, const ShareOptions& share) {
    std::printf("Share links (send them to the people who should use this relay):\n");
    if (ports.relay)
        print_relay_link(config, *ports.relay, ports.relay_pin, ports.relay_secret, share);
    if (ports.socks5) print_socks5_links(config, *ports.socks5, users, share);
    if (needs_public_host(config))
        std::printf(
            "  note: these links name 127.0.0.1; give --public-host with the address or name "
            "your friends reach this machine at.\n");
}

}  // namespace

void prepare_data_dir(const std::string& dir) {
    std::error_code ec;
    if (fs::exists(dir, ec)) return;  // an existing directory keeps the owner's choice
    fs::create_directories(dir, ec);
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
}

std::optional<std::string> prepare_users_file(relay::Config& config) {
    const std::string path = users_path(config);
    config.socks5.users_file = path;
    if (config.socks5.allow_no_auth || fs::exists(path)) return std::nullopt;
    // First start: one user with a random password, so the relay can be shared at once.
    return append_user(path, "friend:" + random_password());
}

void print_banner(const relay::Config& config, const RunningPorts& ports,
                  const ShareOptions& share) {
    std::printf("paperplane-relay running (data directory %s)\n",
                fs::absolute(config.data_dir).c_str());
    if (ports.socks5) {
        auto hp = split_host_port(config.socks5.listen);
        std::printf(
            "  SOCKS5 listening on %s:%u (%s)\n", hp ? hp->host.c_str() : "?", *ports.socks5,
            config.socks5.allow_no_auth
                ? "no password needed"
                : ("users in " + config.socks5.users_file + ", reloaded on SIGHUP").c_str());
    }
    if (ports.relay) {
        auto hp = split_host_port(config.relay.listen);
        std::string upstreams;
        for (const auto& u : config.relay.upstreams)
            upstreams += (upstreams.empty() ? "" : ", ") + u;
        std::printf(
            "  relay listening on %s:%u (TLS, pin sha256:%s) to %s; everyone else sees %s\n",
            hp ? hp->host.c_str() : "?", *ports.relay, ports.relay_pin.c_str(), upstreams.c_str(),
            config.relay.decoy.empty() ? "the built-in website"
                                       : ("the website at " + config.relay.decoy).c_str());
    }
    if (ports.admin) {
        auto hp = split_host_port(config.admin_listen);
        std::printf("  admin listening on %s:%u (/metrics, /healthz)\n",
                    hp ? hp->host.c_str() : "?", *ports.admin);
    }
    // The links carry the relay's secret and the users' passwords: shown to the operator at a
    // terminal, never written into a log (systemd's journal, a container's output).
    if (!share.force_links && !isatty(STDOUT_FILENO)) {
        std::printf(
            "Share links: run `paperplane-relay link` with the same flags (not printed "
            "here: they carry secrets and this output is not a terminal).\n");
        return;
    }
    std::vector<relay::UserEntry> users;
    if (ports.socks5)
        if (auto u = read_users(config)) users = std::move(*u);
    print_share_section(config, ports, users, share);
    std::printf(
        "Stop with Ctrl-C or SIGTERM; add SOCKS5 users with `paperplane-relay user add`.\n");
}

int print_links_command(relay::Config config, const ShareOptions& share) {
    if (!config.socks5.enabled && !config.relay.enabled) {
        std::fprintf(stderr,
                     "error: name the modes to share as the daemon runs them (--socks5 "
                     "HOST:PORT, --relay HOST:PORT) or give its --config\n");
        return 2;
    }
    RunningPorts ports;
    std::vector<relay::UserEntry> users;
    prepare_data_dir(config.data_dir);
    if (config.socks5.enabled) {
        ports.socks5 = split_host_port(config.socks5.listen)->port;
        // Before the first `run`, this sets up what `run` would: a user to share.
        if (auto err = prepare_users_file(config)) {
            std::fprintf(stderr, "error: %s\n", err->c_str());
            return 1;
        }
        auto u = read_users(config);
        if (!u) {
            std::fprintf(stderr, "error: cannot read the users file %s: %s\n",
                         users_path(config).c_str(), std::string(u.error().detail).c_str());
            return 1;
        }
        users = std::move(*u);
    }
    if (config.relay.enabled) {
        auto id = relay::load_or_create_relay_identity(config);
        if (!id) {
            std::fprintf(stderr, "error: relay identity in %s: %s\n", config.data_dir.c_str(),
                         std::string(id.error().detail).c_str());
            return 1;
        }
        ports.relay = split_host_port(config.relay.listen)->port;
        ports.relay_pin = id->tls.fingerprint_sha256();
        ports.relay_secret = id->secret;
    }
    print_share_section(config, ports, users, share);
    return 0;
}

int add_user_command(relay::Config config, const std::string& name, std::string password,
                     const ShareOptions& share) {
    if (name.empty() || name.size() > 255 || name.find_first_of(":\n\r#") != std::string::npos ||
        name.find_first_of(" \t") != std::string::npos) {
        std::fprintf(stderr, "error: a user name is 1-255 bytes without ':', '#' or spaces\n");
        return 2;
    }
    if (password.empty()) password = random_password();
    if (password.size() > 255 || password.find_first_of("\n\r") != std::string::npos) {
        std::fprintf(stderr, "error: a password is 1-255 bytes on one line\n");
        return 2;
    }
    prepare_data_dir(config.data_dir);
    config.socks5.users_file = users_path(config);
    auto existing = relay::read_users_file(config.socks5.users_file);
    if (!existing && fs::exists(config.socks5.users_file)) {
        // Appending to a file the relay cannot read would not add anyone; say so instead.
        std::fprintf(stderr, "error: %s does not parse (%s); fix it first\n",
                     config.socks5.users_file.c_str(),
                     std::string(existing.error().detail).c_str());
        return 1;
    }
    if (existing)
        for (const auto& u : *existing)
            if (u.name == name) {
                std::fprintf(stderr, "error: %s is already in %s\n", name.c_str(),
                             config.socks5.users_file.c_str());
                return 1;
            }
    if (auto err = append_user(config.socks5.users_file, name + ":" + password)) {
        std::fprintf(stderr, "error: %s\n", err->c_str());
        return 1;
    }
    std::printf(
        "added %s to %s; a running relay picks it up on SIGHUP "
        "(kill -HUP $(pidof paperplane-relay))\n",
        name.c_str(), config.socks5.users_file.c_str());
    relay::UserEntry entry;
    entry.name = name;
    entry.password = password;
    sodium_memzero(password.data(), password.size());
    config.socks5.enabled = true;
    config.socks5.allow_no_auth = false;
    print_socks5_links(config, split_host_port(config.socks5.listen)->port, {entry}, share);
    return 0;
}

}  // namespace pp::apps

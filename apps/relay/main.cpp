// paperplane-relay: a relay anyone can run and share. Wiring only: settings, the two modes
// (SOCKS5 for any application, the probe-resistant relay for Paperplane clients), the admin
// listener, signals, and the share links it prints.
#include <CLI/CLI.hpp>

#include <sys/resource.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "apps/relay/config_file.hpp"
#include "apps/relay/share.hpp"
#include "relay/admin_http.hpp"
#include "relay/metrics.hpp"
#include "relay/relay_server.hpp"
#include "relay/socks5_server.hpp"

namespace fs = std::filesystem;
using namespace pp;

namespace {

// Each proxied connection holds two descriptors (and a pipe pair while bytes are in flight);
// the default soft limit of 1024 would cap a relay at a few hundred users.
void raise_descriptor_limit() {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
    }
}

int run(relay::Config config, const apps::ShareOptions& share) {
    // Stop and reload signals are taken by the main thread with sigwait; block them everywhere.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    // A peer that vanishes mid-write must cost its connection, not the process (splice(2) has
    // no MSG_NOSIGNAL).
    std::signal(SIGPIPE, SIG_IGN);
    raise_descriptor_limit();
    apps::prepare_data_dir(config.data_dir);

    if (!config.socks5.enabled && !config.relay.enabled) {
        std::fprintf(stderr,
                     "error: nothing to run: enable SOCKS5 (--socks5 HOST:PORT) and/or the relay "
                     "(--relay HOST:PORT --upstream HOME:PORT)\n");
        return 2;
    }
    if (config.socks5.enabled)
        if (auto err = apps::prepare_users_file(config)) {
            std::fprintf(stderr, "error: %s\n", err->c_str());
            return 1;
        }

    // Connections still alive when the io_context is destroyed update the metrics as they go:
    // the metrics must outlive it.
    relay::Metrics metrics;
    boost::asio::io_context io;
    std::optional<relay::Socks5Server> socks5;
    std::optional<relay::RelayServer> relay_mode;
    std::optional<relay::AdminHttp> admin;
    apps::RunningPorts ports;
    if (config.socks5.enabled) {
        socks5.emplace(io, config, metrics);
        if (auto r = socks5->start(); !r) {
            std::fprintf(stderr, "error: SOCKS5 on %s (users file %s): %s\n",
                         config.socks5.listen.c_str(), socks5->users_file().c_str(),
                         std::string(r.error().detail).c_str());
            return 1;
        }
        ports.socks5 = socks5->port();
    }
    if (config.relay.enabled) {
        relay_mode.emplace(io, config, metrics);
        if (auto r = relay_mode->start(); !r) {
            std::fprintf(stderr, "error: relay on %s: %s\n", config.relay.listen.c_str(),
                         std::string(r.error().detail).c_str());
            return 1;
        }
        ports.relay = relay_mode->port();
        ports.relay_pin = relay_mode->certificate_pin();
        ports.relay_secret = SecretArray<32>(relay_mode->link_secret());
    }
    if (!config.admin_listen.empty()) {
        admin.emplace(io, config, metrics);
        if (auto r = admin->start(); !r) {
            std::fprintf(stderr, "error: admin listener on %s: %s\n", config.admin_listen.c_str(),
                         std::string(r.error().detail).c_str());
            return 1;
        }
        ports.admin = admin->port();
    }

    apps::print_banner(config, ports, share);
    std::fflush(stdout);

    const unsigned threads =
        config.threads ? config.threads : std::max(1u, std::thread::hardware_concurrency());
    std::vector<std::thread> pool;
    for (unsigned i = 0; i < threads; ++i) pool.emplace_back([&io] { io.run(); });

    for (;;) {
        int sig = 0;
        sigwait(&signals, &sig);
        if (sig != SIGHUP) break;
        if (socks5) {
            if (auto r = socks5->reload_users(); !r)
                std::fprintf(stderr, "users file %s not reloaded (old users kept): %s\n",
                             socks5->users_file().c_str(), std::string(r.error().detail).c_str());
            else
                std::fprintf(stderr, "users file reloaded\n");
        }
    }
    std::fprintf(stderr, "stopping\n");
    // Listeners first, so nothing new arrives; SOCKS5 closes its tunnels, relay mode lets its
    // connections run out. Give them a moment to finish closing on the io threads, then cut
    // whatever is left: a relay holds no state worth draining, and clients reconnect.
    if (admin) admin->stop();
    if (relay_mode) relay_mode->stop();
    if (socks5) socks5->stop();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (metrics.connections_open.load() > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    io.stop();
    for (auto& t : pool) t.join();
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"paperplane-relay: a SOCKS5 server and a probe-resistant relay to share"};
    app.require_subcommand(1);
    relay::Config config;
    std::string config_path;
    apps::ShareOptions share;

    // Settings every subcommand reads the same way (the link command needs the same data
    // directory and addresses as the daemon it describes).
    std::optional<std::string> socks5_listen, relay_listen;
    std::optional<std::string> admin_listen;
    std::vector<std::string> upstreams, allow, deny;
    bool no_auth = false;
    // Flags are kept apart and applied after the TOML file, so that they override it.
    struct {
        std::optional<std::string> data_dir, public_host, users_file, decoy, decoy_root, tls_cert,
            tls_key;
        std::optional<unsigned> max_connections, threads;
    } flag;
    auto add_common = [&](CLI::App* sub) {
        sub->add_option("--config", config_path, "TOML configuration file")
            ->check(CLI::ExistingFile);
        sub->add_option("--data-dir", flag.data_dir,
                        "directory for the TLS key, link secret and users file");
        sub->add_option("--public-host", flag.public_host,
                        "host name or address friends reach this relay at (goes into links)");
        sub->add_option("--socks5", socks5_listen, "run SOCKS5 mode on HOST:PORT");
        sub->add_flag("--socks5-no-auth", no_auth,
                      "let anyone use the SOCKS5 mode without a password");
        sub->add_option(
            "--socks5-allow", allow,
            "destinations to allow although policy denies them (CIDR, address or host)");
        sub->add_option("--socks5-deny", deny, "destinations to refuse (CIDR, address or host)");
        sub->add_option(
            "--users-file", flag.users_file,
            "SOCKS5 users, one user:password per line (default: in the data directory)");
        sub->add_option("--relay", relay_listen, "run relay mode (TLS) on HOST:PORT");
        sub->add_option("--upstream", upstreams,
                        "home server the relay may reach, HOST:PORT (repeatable)");
        sub->add_option("--decoy", flag.decoy,
                        "plain-HTTP website shown to everyone else, HOST:PORT (default: built in)");
        sub->add_option("--decoy-root", flag.decoy_root,
                        "directory of static files for the built-in decoy site");
        sub->add_option("--tls-cert", flag.tls_cert, "PEM certificate for relay mode");
        sub->add_option("--tls-key", flag.tls_key, "PEM key for --tls-cert");
        sub->add_option("--admin", admin_listen,
                        "admin listener for /metrics and /healthz, HOST:PORT ('' for none)");
        sub->add_option("--max-connections", flag.max_connections,
                        "client connections both modes hold at most")
            ->check(CLI::Range(1u, 1'000'000u));
        sub->add_option("--threads", flag.threads, "io threads (default: one per core)")
            ->check(CLI::Range(0u, 256u));
        sub->add_option("--png-dir", share.png_dir, "also write each link as a PNG QR code here");
        sub->add_flag("--no-qr", share.no_qr, "do not draw QR codes in the terminal");
    };
    auto* run_cmd = app.add_subcommand("run", "start the relay (SOCKS5 and/or relay mode)");
    add_common(run_cmd);
    run_cmd->add_flag("--print-links", share.force_links,
                      "print the share links even when the output is not a terminal");
    auto* link_cmd = app.add_subcommand(
        "link", "print the share links (and QR codes) of the relay configured by the same flags");
    add_common(link_cmd);
    auto* user_cmd = app.add_subcommand("user", "manage SOCKS5 users");
    user_cmd->require_subcommand(1);
    std::string user_name, user_password;
    auto* user_add = user_cmd->add_subcommand("add", "add a user (random password unless given)");
    user_add->add_option("name", user_name, "user name (1-255 bytes, no ':')")->required();
    user_add->add_option("--password", user_password, "password (default: generated)");
    add_common(user_add);
    CLI11_PARSE(app, argc, argv);

    if (!config_path.empty())
        if (auto err = apps::load_relay_toml(config_path, config)) {
            std::fprintf(stderr, "error: %s\n", err->c_str());
            return 2;
        }
    // Flags override the file.
    if (socks5_listen) {
        config.socks5.enabled = true;
        config.socks5.listen = *socks5_listen;
    }
    if (relay_listen) {
        config.relay.enabled = true;
        config.relay.listen = *relay_listen;
    }
    if (no_auth) config.socks5.allow_no_auth = true;
    if (!allow.empty()) config.socks5.allow = allow;
    if (!deny.empty()) config.socks5.deny = deny;
    if (!upstreams.empty()) config.relay.upstreams = upstreams;
    if (admin_listen) config.admin_listen = *admin_listen;
    if (flag.data_dir) config.data_dir = *flag.data_dir;
    if (flag.public_host) config.public_host = *flag.public_host;
    if (flag.users_file) config.socks5.users_file = *flag.users_file;
    if (flag.decoy) config.relay.decoy = *flag.decoy;
    if (flag.decoy_root) config.relay.decoy_root = *flag.decoy_root;
    if (flag.tls_cert) config.relay.tls_cert = *flag.tls_cert;
    if (flag.tls_key) config.relay.tls_key = *flag.tls_key;
    if (flag.max_connections) config.max_connections = *flag.max_connections;
    if (flag.threads) config.threads = *flag.threads;

    for (const auto* hp : {&config.socks5.listen, &config.relay.listen})
        if (auto err = apps::check_host_port(*hp)) {
            std::fprintf(stderr, "error: %s\n", err->c_str());
            return 2;
        }
    for (const auto& u : config.relay.upstreams)
        if (auto err = apps::check_host_port(u)) {
            std::fprintf(stderr, "error: --upstream: %s\n", err->c_str());
            return 2;
        }
    if (!config.relay.decoy.empty())
        if (auto err = apps::check_host_port(config.relay.decoy)) {
            std::fprintf(stderr, "error: --decoy: %s\n", err->c_str());
            return 2;
        }
    if (!config.admin_listen.empty())
        if (auto err = apps::check_host_port(config.admin_listen)) {
            std::fprintf(stderr, "error: --admin: %s\n", err->c_str());
            return 2;
        }
    if (config.relay.tls_cert.empty() != config.relay.tls_key.empty()) {
        std::fprintf(stderr, "error: --tls-cert and --tls-key go together\n");
        return 2;
    }
    if (config.relay.enabled && config.relay.upstreams.empty()) {
        std::fprintf(stderr,
                     "error: relay mode needs at least one home server: --upstream HOST:PORT\n");
        return 2;
    }

    if (run_cmd->parsed()) return run(config, share);
    if (link_cmd->parsed()) return apps::print_links_command(config, share);
    if (user_add->parsed()) return apps::add_user_command(config, user_name, user_password, share);
    return 2;
}

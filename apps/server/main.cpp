// paperplane-server: the self-hosted home server. Wiring only: settings, storage, TLS, the
// service, its HTTP endpoints and housekeeping, and the network edge, plus `admin`
// subcommands for the operator.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "apps/server/config_file.hpp"
#include "base/hex.hpp"
#include "crypto/random.hpp"
#include "net/server.hpp"
#include "server/housekeeper.hpp"
#include "server/http_endpoints.hpp"
#include "server/service.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace fs = std::filesystem;
using namespace pp;

namespace {

Result<std::unique_ptr<store::SqliteStore>> open_store(const apps::Settings& s) {
    std::error_code ec;
    fs::create_directories(s.data_dir, ec);
    fs::permissions(s.data_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
    store::StoreLimits limits;
    limits.max_queue_messages = s.service.max_queue_messages;
    return store::SqliteStore::open(fs::path(s.data_dir) / "paperplane.db", limits);
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

int run_admin_invite(const apps::Settings& s, int count) {
    auto store = open_store(s);
    if (!store) {
        std::fprintf(stderr, "error: cannot open the store in %s: %s\n", s.data_dir.c_str(),
                     std::string(store.error().detail).c_str());
        return 1;
    }
    for (int i = 0; i < count; ++i) {
        std::array<std::uint8_t, 12> raw{};
        crypto::random_bytes(raw);
        std::string code = to_hex(raw);
        if (!(*store)->add_invite(code, now_ms())) {
            std::fprintf(stderr, "error: could not store the invite\n");
            return 1;
        }
        std::printf("%s\n", code.c_str());
    }
    return 0;
}

int run_admin_stats(const apps::Settings& s) {
    auto store = open_store(s);
    if (!store) {
        std::fprintf(stderr, "error: cannot open the store in %s\n", s.data_dir.c_str());
        return 1;
    }
    auto st = (*store)->stats();
    if (!st) return 1;
    std::printf(
        "accounts        %llu\ndevices         %llu\nqueued messages %llu\nstored contents "
        "%llu\nopen invites    %llu\n",
        static_cast<unsigned long long>(st->accounts), static_cast<unsigned long long>(st->devices),
        static_cast<unsigned long long>(st->queued_messages),
        static_cast<unsigned long long>(st->stored_contents),
        static_cast<unsigned long long>(st->invites_open));
    return 0;
}

int run_server(apps::Settings s) {
    // Block the stop signals in every thread; the main thread waits for them below.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    auto store = open_store(s);
    if (!store) {
        spdlog::error("cannot open the store in {}: {}", s.data_dir, store.error().detail);
        return 1;
    }
    auto tls = s.tls_cert.empty() ? net::load_or_create_self_signed(s.data_dir)
                                  : net::make_server_tls(s.tls_cert, s.tls_key);
    if (!tls) {
        spdlog::error("TLS setup failed: {}", tls.error().detail);
        return 1;
    }
    const std::string fingerprint = tls->fingerprint_sha256();

    server::Metrics metrics;
    server::StoreGauges gauges;
    // Held so it can be destroyed before `server`: connections closed during shutdown leave
    // work queued in the service's pool that owns those connections, and it must be released
    // while the network's io_context still exists (else the process crashes on exit).
    std::optional<server::Service> service_slot;
    server::Service& service = service_slot.emplace(**store, s.service, metrics);
    server::HttpEndpoints endpoints(metrics, gauges);
    net::Server server(s.net, *tls, service,
                       [&endpoints](std::string_view target) { return endpoints(target); });
    endpoints.attach(&server);
    if (auto started = server.start(); !started) {
        spdlog::error("cannot listen on {}:{}: {}", s.net.host, s.net.port, started.error().detail);
        return 1;
    }
    const std::string host = s.public_host.empty() ? s.net.host : s.public_host;
    std::printf("paperplane-server listening on %s:%u\n", s.net.host.c_str(), server.port());
    std::printf("  data directory:   %s\n", fs::absolute(s.data_dir).c_str());
    std::printf("  certificate pin:  sha256:%s\n", fingerprint.c_str());
    std::printf("  server link:      paperplane://server?host=%s&port=%u&pin=%s\n", host.c_str(),
                server.port(), fingerprint.c_str());
    std::printf("  health:           https://%s:%u/healthz (metrics at /metrics)\n", host.c_str(),
                server.port());
    std::printf(
        "Connect a client (build/release/apps/cli/paperplane, or `paperplane` if installed):\n"
        "  paperplane init\n"
        "  paperplane register 'paperplane://server?host=%s&port=%u&pin=%s'\n"
        "  paperplane invite       # your contact link and QR code, to share\n"
        "Stop with Ctrl-C or SIGTERM.\n",
        host.c_str(), server.port(), fingerprint.c_str());
    std::fflush(stdout);

    server::Housekeeper housekeeper(**store, metrics, gauges, {},
                                    [&service] { service.sweep_rate_limiters(); });

    int sig = 0;
    sigwait(&stop_signals, &sig);
    spdlog::info("signal {}: stopping: no new connections, finishing in-flight commits", sig);
    server.stop_accepting();
    service.shutdown();  // answers and commits everything already received
    server.shutdown();
    housekeeper.stop();
    service_slot.reset();
    spdlog::info("stopped cleanly");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"paperplane-server: self-hosted, end-to-end encrypted home server"};
    apps::Settings settings;
    std::string config_path, listen, policy;
    app.add_option("--config", config_path, "TOML configuration file")->check(CLI::ExistingFile);
    app.add_option("--listen", listen, "address to listen on, host:port (default 127.0.0.1:8443)");
    app.add_option("--data-dir", settings.data_dir, "directory for the database and TLS key");
    app.add_option("--tls-cert", settings.tls_cert,
                   "PEM certificate (default: self-signed in data dir)");
    app.add_option("--tls-key", settings.tls_key, "PEM private key for --tls-cert");
    app.add_option("--public-host", settings.public_host, "host name or address to put in links");
    app.add_option("--registration", policy, "open, invite or pow");
    unsigned pow_difficulty = 0;
    auto* pow_option =
        app.add_option("--pow-difficulty", pow_difficulty,
                       "leading zero bits a proof-of-work registration needs (default 20)")
            ->check(CLI::Range(0, 32));
    auto* admin = app.add_subcommand("admin", "operator commands on the data directory");
    admin->require_subcommand(1);
    int invite_count = 1;
    auto* invite = admin->add_subcommand("invite", "create invite codes (policy \"invite\")");
    invite->add_option("--count", invite_count, "how many codes")->check(CLI::Range(1, 1000));
    auto* stats = admin->add_subcommand("stats", "print account and queue counts");
    // `admin stats --data-dir DIR` as well as `--data-dir DIR admin stats`.
    admin->fallthrough();
    invite->fallthrough();
    stats->fallthrough();
    settings.net.port = 8443;
    CLI11_PARSE(app, argc, argv);

    if (!config_path.empty()) {
        if (auto err = apps::load_toml(config_path, settings)) {
            std::fprintf(stderr, "error: %s\n", err->c_str());
            return 2;
        }
    }
    if (!listen.empty())
        if (auto err = apps::parse_listen(listen, settings)) {
            std::fprintf(stderr, "error: --listen: %s\n", err->c_str());
            return 2;
        }
    if (!policy.empty())
        if (auto err = apps::parse_policy(policy, settings)) {
            std::fprintf(stderr, "error: --registration: %s\n", err->c_str());
            return 2;
        }
    if (pow_option->count() > 0) settings.service.pow_difficulty = pow_difficulty;
    if (settings.tls_cert.empty() != settings.tls_key.empty()) {
        std::fprintf(stderr, "error: --tls-cert and --tls-key go together\n");
        return 2;
    }
    if (invite->parsed()) return run_admin_invite(settings, invite_count);
    if (stats->parsed()) return run_admin_stats(settings);
    return run_server(settings);
}

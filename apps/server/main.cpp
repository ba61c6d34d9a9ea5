// paperplane-server: the self-hosted home server. Wiring only: settings, storage, TLS, the
// service, its HTTP endpoints and housekeeping, and the network edge, plus `admin`
// subcommands for the operator.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "apps/server/config_file.hpp"
#include "base/hex.hpp"
#include "base/unix_time.hpp"
#include "crypto/random.hpp"
#include "net/durable_file.hpp"
#include "net/server.hpp"
#include "net/tls_buffer_cache.hpp"
#include "qr/terminal.hpp"
#include "server/endpoint_key.hpp"
#include "server/housekeeper.hpp"
#include "server/http_endpoints.hpp"
#include "server/service.hpp"
#include "server/signed_endpoints.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "wire/endpoint_list.hpp"

namespace fs = std::filesystem;
using namespace pp;

namespace {

// `readers`: the admin commands read on one thread; the server passes its own count.
Result<std::unique_ptr<store::SqliteStore>> open_store(const apps::Settings& s,
                                                       unsigned readers = 1) {
    std::error_code ec;
    fs::create_directories(s.data_dir, ec);
    fs::permissions(s.data_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
    store::StoreLimits limits;
    limits.max_queue_messages = s.service.max_queue_messages;
    limits.max_database_bytes = s.max_database_bytes;
    return store::SqliteStore::open(fs::path(s.data_dir) / "paperplane.db", limits, readers);
}

// What the operator configured, stamped now. Every entry was checked when it was read.
wire::EndpointList configured_endpoints(const apps::Settings& s) {
    wire::EndpointList list;
    list.issued_at = unix_seconds_now();
    list.endpoints = s.endpoint_addresses;
    list.relays = s.vouched_relays;
    return list;
}

// `admin endpoints`: the full list (relays included) as a link to carry out of band, signed
// with the data directory's key. Creates nothing: a server that never started has no key that
// clients could have pinned.
int run_admin_endpoints(const apps::Settings& s, const std::string& out_file, bool no_qr) {
    const auto key_path = fs::path(s.data_dir) / server::kEndpointKeyFile;
    auto key = server::load_endpoint_key(s.data_dir);
    if (!key) {
        if (key.error().code == ErrorCode::kNoSession)
            std::fprintf(stderr,
                         "error: no endpoint key in %s (start the server once to create it)\n",
                         s.data_dir.c_str());
        else
            std::fprintf(stderr, "error: %s: %s\n", key_path.c_str(),
                         std::string(key.error().detail).c_str());
        return 1;
    }
    const auto list = configured_endpoints(s);
    if (list.endpoints.empty() && list.relays.empty()) {
        // An empty list would replace the relays of every client that imports it.
        std::fprintf(stderr,
                     "error: nothing to sign: give the server's [endpoints] (--config) or "
                     "--endpoint/--vouch-relay, as the running server has them\n");
        return 1;
    }
    const Bytes signed_list = wire::sign_endpoint_list(list, *key);
    const std::string link = wire::format_endpoints_link(signed_list);
    if (!out_file.empty()) {
        // The link carries the vouched relays' secrets: 0600, like the keys.
        if (auto w = net::write_file_durably(out_file, as_bytes(link + "\n"), 0600); !w) {
            std::fprintf(stderr, "error: cannot write %s\n", out_file.c_str());
            return 1;
        }
    }
    std::printf("endpoint key: %s\n", to_hex(key->verify_key().view()).c_str());
    std::printf("%s\n", link.c_str());
    if (!no_qr) {
        if (auto qr = qr::qr_for_terminal(link))
            std::printf("%s", qr->c_str());
        else
            std::printf("(no QR code: the list is too long for one; use --out FILE)\n");
    }
    return 0;
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
        if (!(*store)->add_invite(code, unix_ms_now())) {
            std::fprintf(stderr, "error: could not store the invite\n");
            return 1;
        }
        std::printf("%s\n", code.c_str());
    }
    return 0;
}

std::uint64_t database_used_bytes(const store::Stats& st) {
    return st.database_bytes - std::min(st.database_free_bytes, st.database_bytes);
}

// "12.3 MiB used, 0.4 MiB free", then " of 1024 MiB (max_database_mib)" when bounded.
std::string database_size(const store::Stats& st) {
    constexpr double kMib = 1 << 20;
    char buf[160];
    const int len = std::snprintf(buf, sizeof buf, "%.1f MiB used, %.1f MiB free",
                                  static_cast<double>(database_used_bytes(st)) / kMib,
                                  static_cast<double>(st.database_free_bytes) / kMib);
    if (st.database_max_bytes > 0 && len > 0 && static_cast<std::size_t>(len) < sizeof buf) {
        std::snprintf(buf + len, sizeof buf - static_cast<std::size_t>(len),
                      " of %llu MiB (max_database_mib)",
                      static_cast<unsigned long long>(st.database_max_bytes >> 20));
    }
    return buf;
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
        "%llu\nopen invites    %llu\ndatabase        %s\n",
        static_cast<unsigned long long>(st->accounts), static_cast<unsigned long long>(st->devices),
        static_cast<unsigned long long>(st->queued_messages),
        static_cast<unsigned long long>(st->stored_contents),
        static_cast<unsigned long long>(st->invites_open), database_size(*st).c_str());
    return 0;
}

int run_server(apps::Settings s) {
    // Block the stop signals in every thread; the main thread waits for them below.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    // spdlog builds its registry on first use; build it here, before any thread logs, so its
    // one-time set-up happens on one thread (ThreadSanitizer cannot see the guard inside the
    // prebuilt library and otherwise reports the first log line of the main thread).
    spdlog::set_level(spdlog::level::info);

    // Reads run on the network threads (see Service::slow), one at a time each, and the
    // housekeeper's counts take one more: with a reader each, none waits for another.
    auto store = open_store(s, net::io_threads(s.net) + 1);
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
    // A server that has accounts but no key file either ran a version without endpoint lists
    // (its clients pinned nothing and will pin the new key on first sight), or lost the file
    // (its clients keep their cached list until they register again). Both start; the second
    // must not go unnoticed.
    std::error_code key_ec;
    const auto key_path = fs::path(s.data_dir) / server::kEndpointKeyFile;
    if (!fs::exists(key_path, key_ec)) {
        if (auto st = (*store)->stats(); st && st->accounts > 0)
            spdlog::warn(
                "event=endpoint_key_created path={} accounts={}: if this server had a key "
                "before, restore it from a backup instead; clients that pinned it ignore lists "
                "signed with a new one",
                key_path.string(), st->accounts);
    }
    // Said at start, so an operator who restarts a server that refuses sends learns why.
    // (A bound below the file's size stays at the file's size: SQLite never shrinks it.)
    if (s.max_database_bytes > 0) {
        if (auto st = (*store)->stats(); !st) {
            spdlog::warn("event=store_error op=stats detail=\"{}\"", st.error().detail);
        } else if (database_used_bytes(*st) >= st->database_max_bytes / 10 * 9) {
            spdlog::warn(
                "event=database_near_bound max_database_mib={} used_kib={}: sends that need "
                "more room than is left are refused (clients retry them) until "
                "acknowledgements and expiry free some; raise [storage] max_database_mib to "
                "take more",
                st->database_max_bytes >> 20, database_used_bytes(*st) >> 10);
        }
    }
    auto endpoint_key = server::load_or_create_endpoint_key(s.data_dir);
    if (!endpoint_key) {
        // Never replaced silently: clients pinned this key at registration.
        spdlog::error(
            "endpoint key {}: {}; restore it from a backup (a new key would not be trusted by "
            "clients that pinned the old one)",
            (fs::path(s.data_dir) / server::kEndpointKeyFile).string(),
            endpoint_key.error().detail);
        return 1;
    }
    s.service.endpoints = server::sign_endpoints(configured_endpoints(s), *endpoint_key);
    const std::string endpoint_key_hex = to_hex(s.service.endpoints.key.view());

    server::Metrics metrics;
    server::StoreGauges gauges;
    // Held so it can be destroyed before `server`: connections closed during shutdown may
    // leave work queued in the service's worker pool that owns those connections, and it must
    // be released while the network's io_context still exists (else the process crashes on
    // exit). Work the service posted to connection strands is destroyed with the io_context,
    // unrun: server.shutdown() has joined the io threads by then.
    std::optional<server::Service> service_slot;
    server::Service& service = service_slot.emplace(**store, s.service, metrics);
    // Only when the operator opts in ([endpoints] public, --public-endpoints).
    const auto& public_list = s.service.endpoints.addresses_only;
    server::HttpEndpoints endpoints(
        metrics, gauges,
        s.public_endpoints ? std::string(public_list.begin(), public_list.end()) : std::string());
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
    std::printf("  endpoint key:     %s\n", endpoint_key_hex.c_str());
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

    server::Housekeeper housekeeper(**store, metrics, gauges, {}, [&service] {
        service.sweep_rate_limiters();
        service.retry_stalled_drains();
    });

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
    // Before anything allocates through OpenSSL (net/tls_buffer_cache.hpp says why).
    const bool tls_buffer_cache = pp::net::install_tls_buffer_cache();
    CLI::App app{"paperplane-server: self-hosted, end-to-end encrypted home server"};
    apps::Settings settings;
    std::string config_path, listen, policy;
    // Flags land in their own variables and are applied after the TOML file: flags win.
    std::optional<std::string> data_dir, tls_cert, tls_key, public_host;
    app.add_option("--config", config_path, "TOML configuration file")->check(CLI::ExistingFile);
    app.add_option("--listen", listen, "address to listen on, host:port (default 127.0.0.1:8443)");
    app.add_option("--data-dir", data_dir, "directory for the database and TLS key");
    app.add_option("--tls-cert", tls_cert, "PEM certificate (default: self-signed in data dir)");
    app.add_option("--tls-key", tls_key, "PEM private key for --tls-cert");
    app.add_option("--public-host", public_host, "host name or address to put in links");
    app.add_option("--registration", policy, "open, invite or pow");
    std::vector<std::string> endpoint_flags, relay_flags;
    app.add_option("--endpoint", endpoint_flags,
                   "another address clients may use, host:port (repeatable; adds to [endpoints])")
        ->allow_extra_args(false);
    app.add_option("--vouch-relay", relay_flags,
                   "a paperplane://relay link to vouch for (repeatable; adds to [endpoints])")
        ->allow_extra_args(false);
    bool public_endpoints = false;
    app.add_flag("--public-endpoints", public_endpoints,
                 "serve the addresses (never the relays) at GET /v1/endpoints to anyone");
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
    std::string endpoints_out;
    bool endpoints_no_qr = false;
    auto* endpoints = admin->add_subcommand(
        "endpoints", "print the signed endpoint list as a paperplane://endpoints link");
    endpoints->add_option("--out", endpoints_out, "also write the link to this file (0600)");
    endpoints->add_flag("--no-qr", endpoints_no_qr, "no QR code");
    // `admin stats --data-dir DIR` as well as `--data-dir DIR admin stats`.
    admin->fallthrough();
    invite->fallthrough();
    stats->fallthrough();
    endpoints->fallthrough();
    settings.net.port = 8443;
    CLI11_PARSE(app, argc, argv);

    if (!config_path.empty()) {
        if (auto err = apps::load_toml(config_path, settings)) {
            std::fprintf(stderr, "error: %s\n", err->c_str());
            return 2;
        }
    }
    if (data_dir) settings.data_dir = *data_dir;
    if (tls_cert) settings.tls_cert = *tls_cert;
    if (tls_key) settings.tls_key = *tls_key;
    if (public_host) settings.public_host = *public_host;
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
    if (public_endpoints) settings.public_endpoints = true;
    for (const auto& e : endpoint_flags)
        if (auto err = apps::add_endpoint(e, settings)) {
            std::fprintf(stderr, "error: --endpoint: %s\n", err->c_str());
            return 2;
        }
    for (const auto& r : relay_flags)
        if (auto err = apps::add_vouched_relay(r, settings)) {
            std::fprintf(stderr, "error: --vouch-relay: %s\n", err->c_str());
            return 2;
        }
    if (auto err = apps::check_endpoint_counts(settings)) {
        std::fprintf(stderr, "error: [endpoints]: %s\n", err->c_str());
        return 2;
    }
    if (settings.tls_cert.empty() != settings.tls_key.empty()) {
        std::fprintf(stderr, "error: --tls-cert and --tls-key go together\n");
        return 2;
    }
    if (invite->parsed()) return run_admin_invite(settings, invite_count);
    if (stats->parsed()) return run_admin_stats(settings);
    if (endpoints->parsed()) return run_admin_endpoints(settings, endpoints_out, endpoints_no_qr);
    if (!tls_buffer_cache)
        spdlog::warn(
            "TLS buffer cache off: OpenSSL had allocated before main() (slower, not wrong)");
    return run_server(settings);
}

// The operator's side of the real server: registration policies, health and metrics over
// pinned HTTPS, pinning itself, frame limits, graceful stop and restart.
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>

#include "tests/integration/fixture.hpp"

namespace pp::test {
namespace {

std::string flip_pin(std::string pin) {
    pin[0] = pin[0] == '0' ? '1' : '0';
    return pin;
}

TEST(Operations, InviteCodeWorksOnce) {
    ServerProcess server(ServerProcessOptions::with_args({"--registration", "invite"}));
    must(server.start(), "start server");
    // The operator makes codes while the server runs.
    auto made = server.admin({"admin", "invite", "--count", "2"});
    ASSERT_EQ(made.exit_code, 0) << made.output;
    std::vector<std::string> codes;
    std::regex code_re("^[0-9a-f]{24}$");
    std::istringstream lines(made.output);
    for (std::string line; std::getline(lines, line);)
        if (std::regex_match(line, code_re)) codes.push_back(line);
    ASSERT_EQ(codes.size(), 2u) << made.output;

    auto c = connect_to(server);
    auto none = must(c.register_account(), "no code");
    EXPECT_EQ(none.response.status(), v1::FORBIDDEN);
    auto wrong = must(c.register_account(RegisterOptions::with_invite("not-a-code")), "wrong code");
    EXPECT_EQ(wrong.response.status(), v1::FORBIDDEN);
    auto first = must(c.register_account(RegisterOptions::with_invite(codes[0])), "code");
    EXPECT_EQ(first.response.status(), v1::OK) << first.response.detail();
    auto reused = must(c.register_account(RegisterOptions::with_invite(codes[0])), "reused code");
    EXPECT_EQ(reused.response.status(), v1::FORBIDDEN);
    auto second = must(c.register_account(RegisterOptions::with_invite(codes[1])), "second code");
    EXPECT_EQ(second.response.status(), v1::OK) << second.response.detail();
    // The account works like any other.
    auto a = login(server, {first.account_id, first.keys});
    EXPECT_TRUE(must(a.next_push(5s), "backlog").has_queue_empty());

    must(server.stop(), "SIGTERM");
    auto stats = server.admin({"admin", "stats"});
    EXPECT_NE(stats.output.find("accounts        2\n"), std::string::npos) << stats.output;
    EXPECT_NE(stats.output.find("open invites    0\n"), std::string::npos) << stats.output;
}

void check_pow(ServerProcess& server, unsigned expected_difficulty) {
    must(server.start(), "start server");
    auto c = connect_to(server);
    auto ch = must_ok(c.challenge(), "challenge");
    EXPECT_EQ(ch.challenge().pow_difficulty(), expected_difficulty);

    EXPECT_EQ(must(c.register_account(), "no work").response.status(), v1::FORBIDDEN);
    auto solved = must(c.register_account(RegisterOptions::with_pow()), "solved");
    EXPECT_EQ(solved.response.status(), v1::OK) << solved.response.detail();

    // A wrong solution, and a solution for an older challenge, are refused.
    auto keys = DeviceKeys::generate(1);
    auto fresh = must_ok(c.challenge(), "challenge");
    const std::string nonce = fresh.challenge().nonce();
    std::string good = solve_pow(nonce, expected_difficulty);
    std::string bad;
    for (unsigned i = 0; bad.empty(); ++i)
        if (!pow_ok(nonce, "x" + std::to_string(i), expected_difficulty))
            bad = "x" + std::to_string(i);
    v1::Request req;
    auto* r = req.mutable_register_();
    r->set_identity_key(public_bytes(keys.identity().public_key));
    r->set_registration_id(keys.registration_id());
    *r->mutable_signed_prekey() = to_wire(keys.current_signed_prekey());
    r->set_pow_challenge(nonce);
    r->set_pow_nonce(bad);
    EXPECT_EQ(must(c.request(req), "wrong solution").status(), v1::FORBIDDEN);
    r->set_pow_nonce(good);
    auto stale = must_ok(c.challenge(), "newer challenge");  // replaces `nonce`
    EXPECT_EQ(must(c.request(req), "old challenge").status(), v1::FORBIDDEN);
    r->set_pow_challenge(stale.challenge().nonce());
    r->set_pow_nonce(solve_pow(stale.challenge().nonce(), expected_difficulty));
    EXPECT_EQ(must(c.request(req), "current challenge").status(), v1::OK);
    // One registration per solved challenge.
    EXPECT_EQ(must(c.request(req), "reuse").status(), v1::FORBIDDEN);
}

// Open registration is still bounded per client address: a burst, then a slow trickle.
TEST(Operations, RegistrationsPerAddressAreLimited) {
    ServerProcess server(ServerProcessOptions::with_config(
        "[limits]\nregistrations_per_address_per_second = 0.01\nregistration_burst = 3\n"));
    must(server.start(), "start server");
    auto c = connect_to(server);
    for (int i = 0; i < 3; ++i)
        EXPECT_TRUE(must(c.register_account(), "within the burst").ok()) << i;
    auto refused = must(c.register_account(), "past the burst");
    EXPECT_EQ(refused.response.status(), v1::RATE_LIMITED);
    // Other requests from the same address are unaffected.
    EXPECT_EQ(must(c.challenge(), "challenge").status(), v1::OK);
}

// Client addresses stay out of the event logs unless the operator turns them on.
TEST(Operations, ClientAddressesInLogsOnlyWhenEnabled) {
    ServerProcess server(ServerProcessOptions::with_config("[logging]\nclient_addresses = true\n"));
    must(server.start(), "start server");
    User u = register_user(server);
    auto c = login(server, u);
    c.close();
    must(server.stop(), "SIGTERM");
    EXPECT_NE(server.output().find("event=conn_open conn="), std::string::npos);
    EXPECT_NE(server.output().find(" addr=" + server.host()), std::string::npos) << server.output();
}

TEST(Operations, ProofOfWorkFromConfigFile) {
    ServerProcess server(ServerProcessOptions::with_config(
        "[registration]\npolicy = \"pow\"\npow_difficulty = 10\n"));
    check_pow(server, 10);
}

TEST(Operations, ProofOfWorkFromFlag) {
    ServerProcess server(
        ServerProcessOptions::with_args({"--registration", "pow", "--pow-difficulty", "6"}));
    check_pow(server, 6);
}

// The README promises that flags override the file: --data-dir (always given by the harness)
// and --public-host win over the same settings in the TOML file.
TEST(Operations, FlagsOverrideTheConfigFile) {
    auto options = ServerProcessOptions::with_config(
        "data_dir = \"/proc/not-a-place-for-data\"\npublic_host = \"from-file.example\"\n");
    options.args = {"--public-host", "from-flag.example"};
    ServerProcess server(options);
    must(server.start(), "start server with flags over the file");
    EXPECT_NE(server.output().find("host=from-flag.example"), std::string::npos) << server.output();
    EXPECT_EQ(server.output().find("from-file.example"), std::string::npos) << server.output();
}

// Threads of the running server named `name` (/proc/PID/task/*/comm).
std::size_t threads_named(const ServerProcess& server, const std::string& name) {
    std::size_t n = 0;
    const auto tasks = std::filesystem::path("/proc") / std::to_string(server.pid()) / "task";
    for (const auto& task : std::filesystem::directory_iterator(tasks)) {
        std::ifstream comm(task.path() / "comm");
        std::string line;
        if (std::getline(comm, line) && line == name) ++n;
    }
    return n;
}

TEST(Operations, IoThreadsFromConfigFile) {
    {
        ServerProcess server;
        must(server.start(), "start server with the default");
        EXPECT_EQ(threads_named(server, "pp-net-io"), 2u);
    }
    {
        ServerProcess server(ServerProcessOptions::with_config("io_threads = 3\n"));
        must(server.start(), "start server with io_threads = 3");
        EXPECT_EQ(threads_named(server, "pp-net-io"), 3u);
        // Still serving: a client registers and signs in over them.
        User u = register_user(server);
        auto c = login(server, u);
    }
    for (const std::string bad :
         {"io_threads = 0\n", "io_threads = 65\n", "io_threads = \"4\"\n", "io_threads = 2.5\n",
          "io_threads = 3.0\n", "io_threads = true\n"}) {
        ServerProcess server(ServerProcessOptions::with_config(bad));
        auto s = server.start();
        ASSERT_FALSE(s.ok) << bad;
        EXPECT_NE(s.error.find("io_threads must be a whole number from 1 to 64"), std::string::npos)
            << s.error;
    }
}

// A setting out of its range stops the server with a message naming it, instead of a zero
// TTL that expires every message at once or a negative cap cast to a huge one.
TEST(Operations, OutOfRangeSettingsAreRefused) {
    const std::pair<std::string, std::string> cases[] = {
        {"[queues]\nttl_hours = 0\n", "[queues] ttl_hours must be a whole number from 1 to 87600"},
        {"[queues]\nttl_hours = 100000000000\n", "[queues] ttl_hours must be a whole number"},
        {"[queues]\nmax_messages = -1\n", "[queues] max_messages must be a whole number from 1"},
        {"[limits]\nmax_frame_bytes = \"big\"\n", "[limits] max_frame_bytes must be a whole"},
        {"[limits]\nidle_timeout_ms = 1.5\n", "[limits] idle_timeout_ms must be a whole number"},
        {"[limits]\nrequests_per_second = -5\n", "[limits] requests_per_second must be a positive"},
        {"[limits]\nregistration_burst = 0.5\n",
         "[limits] registration_burst must be a number of at least 1"},
        {"[limits]\nmax_frame_bytes = 262145\n",
         "[limits] max_frame_bytes must be a whole number from 1024 to 262144"},
        {"[limits]\nmax_pending_sends = 0\n", "[limits] max_pending_sends must be a whole number"},
        {"[queues]\nmax_messages = 5.0\n", "[queues] max_messages must be a whole number"},
        {"[limits]\nmax_connections = true\n", "[limits] max_connections must be a whole number"},
        {"[limits]\nrequest_burst = \"10\"\n",
         "[limits] request_burst must be a number of at least 1"},
        {"[registration]\npow_difficulty = 99\n",
         "[registration] pow_difficulty must be a whole number from 0 to 32"},
        {"[storage]\nmax_database_mib = -1\n",
         "[storage] max_database_mib must be a whole number from 0 to 16777216"},
        {"[storage]\nmax_database_mib = 16777217\n", "[storage] max_database_mib must be"},
        {"[storage]\nmax_database_mib = 0.5\n", "[storage] max_database_mib must be a whole"},
    };
    for (const auto& [toml, message] : cases) {
        ServerProcess server(ServerProcessOptions::with_config(toml));
        auto s = server.start();
        ASSERT_FALSE(s.ok) << toml;
        EXPECT_NE(s.error.find(message), std::string::npos) << toml << s.error;
    }
    // In range, including a whole number where a rate is expected, it starts.
    ServerProcess fine(ServerProcessOptions::with_config(
        "[queues]\nttl_hours = 1\nmax_messages = 5\n[limits]\nrequests_per_second = 50\n"));
    must(fine.start(), "start with settings in range");
}

// [storage] max_database_mib bounds the database file as a full disk would: a send that needs
// room past it is refused with INTERNAL and nothing of it is stored; everything acknowledged
// before is delivered, after a restart too; once the recipient's acks free pages, the refused
// send goes through on a retry with the same id. The bound shows in /metrics, `admin stats`
// and a warning at start.
TEST(Operations, DatabaseBoundFromConfigRefusesSendsAndRecovers) {
    ServerProcess server(ServerProcessOptions::with_config("[storage]\nmax_database_mib = 1\n"));
    must(server.start(), "start server with a 1 MiB database");
    User alice = register_user(server);
    User bob = register_user(server);
    auto a = login(server, alice);
    const std::string content(32 * 1024, 'c');  // not compressible by SQLite: it does not try
    std::vector<std::string> stored;
    std::string refused_id;
    for (int i = 0; i < 64 && refused_id.empty(); ++i) {
        const std::string id = random_id();
        auto r = must(a.send(id, bob.account, {{1, 2, content}}), "send");
        if (r.status() == v1::OK) {
            stored.push_back(id);
        } else {
            ASSERT_EQ(r.status(), v1::INTERNAL) << "a full database is the server's fault";
            refused_id = id;
        }
    }
    ASSERT_FALSE(refused_id.empty()) << "64 sends of 32 KiB fit in a 1 MiB database";
    ASSERT_GE(stored.size(), 10u) << "the bound is 1 MiB, not less";

    // The housekeeper reads the gauges on its first tick, just after the server listens.
    std::string metrics;
    for (int i = 0; i < 50; ++i) {
        metrics =
            must(net::https_get(server.host(), server.port(), server.pin(), "/metrics"), "metrics")
                .body;
        if (metric(metrics, "paperplane_database_max_bytes") == 1 << 20) break;
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(metric(metrics, "paperplane_database_max_bytes"), 1 << 20);
    EXPECT_GE(metric(metrics, "paperplane_store_errors_total"), 1);
    a.close();
    must(server.stop(), "SIGTERM");
    EXPECT_NE(server.output().find("database or disk is full"), std::string::npos)
        << server.output();
    const std::vector<std::string> stats_command = {"admin", "stats", "--config",
                                                    (server.root() / "server.toml").string()};
    const auto full = server.admin(stats_command);
    EXPECT_NE(full.output.find(" of 1 MiB (max_database_mib)\n"), std::string::npos) << full.output;

    // Full: a restart says so at once, and still serves.
    must(server.start(), "restart at the bound");
    EXPECT_NE(server.output().find("event=database_near_bound max_database_mib=1"),
              std::string::npos)
        << server.output();
    // Every acknowledged send is there, in order; the refused one is not.
    {
        auto b = login(server, bob);
        auto got = drain_until_empty(b, false);
        ASSERT_EQ(got.size(), stored.size());
        for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].message_id(), stored[i]);
        must_ok(b.ack(stored), "ack, answered once the rows are gone");
    }
    // The acks freed pages: the retry of the refused send is stored and delivered once.
    auto again = login(server, alice);
    auto retry = must(again.send(refused_id, bob.account, {{1, 2, content}}), "retry");
    ASSERT_EQ(retry.status(), v1::OK);
    EXPECT_FALSE(retry.send().duplicate());
    {
        auto b = login(server, bob);
        auto got = drain_until_empty(b, false);
        ASSERT_EQ(got.size(), 1u);
        EXPECT_EQ(got[0].message_id(), refused_id);
        must_ok(b.ack({refused_id}), "ack");
    }
    again.close();
    must(server.stop(), "SIGTERM");
    // The file keeps its size; the room the acks freed is counted apart.
    const auto freed = server.admin(stats_command);
    EXPECT_NE(freed.output.find(" MiB free of 1 MiB"), std::string::npos) << freed.output;
    EXPECT_EQ(freed.output.find(" 0.0 MiB free"), std::string::npos) << freed.output;
}

TEST(Operations, HealthAndMetricsOverPinnedHttps) {
    ServerProcess server;
    must(server.start(), "start server");
    auto health =
        must(net::https_get(server.host(), server.port(), server.pin(), "/healthz"), "healthz");
    EXPECT_EQ(health.status, 200);
    EXPECT_EQ(health.body, "ok\n");

    User u = register_user(server);
    auto c = login(server, u);
    auto metrics =
        must(net::https_get(server.host(), server.port(), server.pin(), "/metrics"), "metrics");
    EXPECT_EQ(metrics.status, 200);
    EXPECT_NE(metrics.content_type.find("text/plain"), std::string::npos);
    EXPECT_EQ(metric(metrics.body, "paperplane_registrations_total"), 1);
    EXPECT_GE(metric(metrics.body, "paperplane_connections_total"), 2);
    EXPECT_EQ(metric(metrics.body, "paperplane_connections_authenticated"), 1);
    EXPECT_NE(metrics.body.find("# TYPE paperplane_send_commit_seconds histogram"),
              std::string::npos);
    EXPECT_NE(metrics.body.find("paperplane_tls_handshake_failures_total"), std::string::npos);
    // Store gauges are refreshed in the background, so a scrape never waits on the database.
    EXPECT_NE(metrics.body.find("# TYPE paperplane_queued_messages gauge"), std::string::npos);
    EXPECT_GE(metric(metrics.body, "paperplane_queued_messages"), 0);
    EXPECT_NE(metrics.body.find("# TYPE paperplane_database_bytes gauge"), std::string::npos);
    EXPECT_NE(metrics.body.find("# TYPE paperplane_database_free_bytes gauge"), std::string::npos);
    EXPECT_NE(metrics.body.find("# TYPE paperplane_database_max_bytes gauge"), std::string::npos);

    auto missing = must(net::https_get(server.host(), server.port(), server.pin(), "/nope"), "404");
    EXPECT_EQ(missing.status, 404);
}

TEST(Operations, WrongPinIsRefusedByTheClient) {
    ServerProcess server;
    must(server.start(), "start server");
    const std::string wrong = flip_pin(server.pin());
    auto get = net::https_get(server.host(), server.port(), wrong, "/healthz");
    ASSERT_FALSE(get);
    EXPECT_EQ(get.error().code, ErrorCode::kUntrustedIdentity);
    auto ws = ServerClient::connect(server.host(), server.port(), wrong);
    ASSERT_FALSE(ws);
    EXPECT_EQ(ws.error().code, ErrorCode::kUntrustedIdentity);
    // The right pin still works.
    EXPECT_TRUE(ServerClient::connect(server.host(), server.port(), server.pin()));
}

TEST(Operations, OversizeFrameClosesTheConnection) {
    ServerProcess server;
    must(server.start(), "start server");
    auto c = connect_to(server);
    User alice = register_user(c), bob = register_user(c);
    must_ok(c.authenticate(alice.account, alice.keys.identity()), "auth");

    // Near the limit is fine, and is delivered whole.
    const std::string big(200 * 1024, 'c');
    must_ok(c.send(random_id(), bob.account, {{1, 2, big}}), "200 KiB send");

    // Over 256 KiB: the server closes the connection.
    Bytes over(256 * 1024 + 1, 0x41);
    auto sent = c.send_bytes(over);
    auto r = c.pump(10s);
    EXPECT_FALSE(sent && r) << "the connection survived an oversize frame";
    if (!r) {
        EXPECT_EQ(r.error().code, ErrorCode::kNoSession);
    }
    if (auto code = c.ws().close_code()) {
        EXPECT_EQ(*code, 1009) << "close code";
    }

    // Other connections and the process carry on.
    EXPECT_TRUE(server.alive());
    auto b = login(server, bob);
    auto got = drain_until_empty(b, true);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].content(), big);
}

TEST(Operations, GracefulStopAndRestartKeepEverything) {
    ServerProcess server;
    must(server.start(), "start server");
    auto c = connect_to(server);
    User alice = register_user(c), bob = register_user(c);
    must_ok(c.authenticate(alice.account, alice.keys.identity()), "auth");
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) {
        ids.push_back(random_id());
        must_ok(c.send(ids.back(), bob.account, {{1, 2, "kept " + std::to_string(i)}}), "send");
    }
    const std::string pin = server.pin();
    const auto port = server.port();
    must(server.stop(), "SIGTERM");
    EXPECT_NE(server.output().find("stopped cleanly"), std::string::npos) << server.output();
    // The client notices.
    EXPECT_FALSE(c.pump(5s) && c.prekey_count());

    must(server.start(), "restart");
    EXPECT_EQ(server.pin(), pin) << "the self-signed certificate is kept in the data dir";
    EXPECT_EQ(server.port(), port);
    auto b = login(server, bob);
    auto got = drain_until_empty(b, true);
    ASSERT_EQ(got.size(), ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(got[i].message_id(), ids[i]);
}

}  // namespace
}  // namespace pp::test

// Registration, authentication and prekeys against the real server process.
#include <chrono>
#include <set>
#include <thread>

#include "base/unix_time.hpp"
#include "tests/integration/fixture.hpp"

namespace pp::test {
namespace {

// These tests hand out many one-time prekeys to one requester on purpose, so the prekey
// limits are raised here; PrekeyFetchesAreLimited checks the limits themselves.
constexpr const char* kGenerousPrekeyLimits =
    "[limits]\nprekey_fetch_burst_per_target = 1000\nprekey_fetch_burst = 1000\n";

class AccountsTest : public ::testing::Test {
  protected:
    void SetUp() override { must(server.start(), "start server"); }
    ServerProcess server{ServerProcessOptions::with_config(kGenerousPrekeyLimits)};
};

TEST_F(AccountsTest, RegisterThenAuthenticate) {
    auto c = connect_to(server);
    auto reg = must(c.register_account(), "register");
    ASSERT_TRUE(reg.ok()) << reg.response.detail();
    EXPECT_EQ(reg.account_id.size(), 16u);
    EXPECT_EQ(reg.response.register_().device_id(), 1u);

    auto again = must(c.register_account(), "register a second account");
    ASSERT_TRUE(again.ok());
    EXPECT_NE(again.account_id, reg.account_id);

    const auto before = unix_ms_now();
    auto auth = must(c.authenticate(reg.account_id, reg.keys.identity()), "authenticate");
    const auto after = unix_ms_now();
    EXPECT_EQ(auth.status(), v1::OK) << auth.detail();
    // The server's clock, for the client's message ids (docs/protocol.md); it shares this
    // machine's clock.
    const auto server_ms = static_cast<std::int64_t>(auth.authenticate().server_time_ms());
    EXPECT_GE(server_ms, before);
    EXPECT_LE(server_ms, after);
    // Nothing queued yet: the backlog is just QueueEmpty.
    auto p = must(c.next_push(5s), "backlog");
    EXPECT_TRUE(p.has_queue_empty());
    EXPECT_EQ(must(c.prekey_count(), "count").status(), v1::OK);
}

TEST_F(AccountsTest, RegistrationRefusesBadKeys) {
    auto c = connect_to(server);
    auto keys = DeviceKeys::generate(1);
    auto other = DeviceKeys::generate(0);
    // A signed prekey signed by some other identity.
    v1::Request req;
    auto* r = req.mutable_register_();
    r->set_identity_key(public_bytes(keys.identity().public_key));
    r->set_registration_id(keys.registration_id());
    *r->mutable_signed_prekey() = to_wire(other.current_signed_prekey());
    EXPECT_EQ(must(c.request(req), "register").status(), v1::BAD_REQUEST);
    // No identity key at all.
    r->clear_identity_key();
    EXPECT_EQ(must(c.request(req), "register").status(), v1::BAD_REQUEST);
}

TEST_F(AccountsTest, AuthenticationFailuresAreForbidden) {
    auto c = connect_to(server);
    User alice = register_user(c);
    User mallory = register_user(c);

    // Wrong signature: signed with another identity key.
    {
        auto ch = must_ok(c.challenge(), "challenge");
        const auto& nonce = ch.challenge().nonce();
        EXPECT_EQ(nonce.size(), 32u);
        auto r =
            must(c.authenticate_raw(alice.account, 1, nonce,
                                    sign_auth(mallory.keys.identity(), nonce, alice.account, 1)),
                 "auth");
        EXPECT_EQ(r.status(), v1::FORBIDDEN);
    }
    // Unknown account, correctly signed by "its" key: the same answer.
    {
        const std::string unknown = random_id();
        auto ch = must_ok(c.challenge(), "challenge");
        const auto& nonce = ch.challenge().nonce();
        auto r = must(c.authenticate_raw(unknown, 1, nonce,
                                         sign_auth(alice.keys.identity(), nonce, unknown, 1)),
                      "auth");
        EXPECT_EQ(r.status(), v1::FORBIDDEN);
    }
    // Right key, wrong device id.
    {
        auto ch = must_ok(c.challenge(), "challenge");
        const auto& nonce = ch.challenge().nonce();
        auto r = must(c.authenticate_raw(alice.account, 2, nonce,
                                         sign_auth(alice.keys.identity(), nonce, alice.account, 2)),
                      "auth");
        EXPECT_EQ(r.status(), v1::FORBIDDEN);
    }
    // No challenge on this connection since the last attempt: the old nonce is gone.
    {
        auto ch = must_ok(c.challenge(), "challenge");
        const std::string nonce = ch.challenge().nonce();
        const std::string sig = sign_auth(mallory.keys.identity(), nonce, alice.account, 1);
        EXPECT_EQ(must(c.authenticate_raw(alice.account, 1, nonce, sig), "auth").status(),
                  v1::FORBIDDEN);
        const std::string good = sign_auth(alice.keys.identity(), nonce, alice.account, 1);
        EXPECT_EQ(must(c.authenticate_raw(alice.account, 1, nonce, good), "auth").status(),
                  v1::FORBIDDEN)
            << "a nonce used by a failed attempt must not be accepted again";
    }
    // Nonce reuse: a nonce that authenticated once is not valid again, on this connection or
    // another one.
    auto ch = must_ok(c.challenge(), "challenge");
    const std::string nonce = ch.challenge().nonce();
    const std::string sig = sign_auth(alice.keys.identity(), nonce, alice.account, 1);
    EXPECT_EQ(must(c.authenticate_raw(alice.account, 1, nonce, sig), "auth").status(), v1::OK);
    EXPECT_EQ(must(c.authenticate_raw(alice.account, 1, nonce, sig), "replay").status(),
              v1::FORBIDDEN);

    auto other = connect_to(server);
    EXPECT_EQ(
        must(other.authenticate_raw(alice.account, 1, nonce, sig), "replay elsewhere").status(),
        v1::FORBIDDEN);
    (void)must_ok(other.challenge(), "fresh challenge");
    EXPECT_EQ(must(other.authenticate_raw(alice.account, 1, nonce, sig), "old nonce").status(),
              v1::FORBIDDEN);
    // Still nothing but UNAUTHENTICATED for that connection.
    EXPECT_EQ(must(other.prekey_count(), "count").status(), v1::UNAUTHENTICATED);
}

TEST_F(AccountsTest, RequestsBeforeAuthenticationAreRefused) {
    auto c = connect_to(server);
    User bob = register_user(c);
    EXPECT_EQ(must(c.prekey_count(), "count").status(), v1::UNAUTHENTICATED);
    EXPECT_EQ(must(c.fetch_bundles(bob.account), "fetch").status(), v1::UNAUTHENTICATED);
    EXPECT_EQ(must(c.upload_prekeys(std::nullopt, bob.keys.add_prekeys(100, 1)), "upload").status(),
              v1::UNAUTHENTICATED);
    EXPECT_EQ(must(c.send(random_id(), bob.account, {{1, 3, "x"}}), "send").status(),
              v1::UNAUTHENTICATED);
    EXPECT_EQ(must(c.ack({random_id()}), "ack").status(), v1::UNAUTHENTICATED);
    EXPECT_EQ(must(c.drain(), "drain").status(), v1::UNAUTHENTICATED);
    EXPECT_EQ(c.queued_pushes(), 0u);
    // Nothing of that reached Bob's queue.
    auto b = login(server, bob);
    EXPECT_TRUE(must(b.next_push(5s), "backlog").has_queue_empty());
}

TEST_F(AccountsTest, PrekeysUploadCountFetch) {
    auto bc = connect_to(server);
    User bob = register_user(bc, 5);
    must_ok(bc.authenticate(bob.account, bob.keys.identity()), "auth bob");
    EXPECT_EQ(must_ok(bc.prekey_count(), "count").prekey_count().count(), 5u);
    must_ok(bc.upload_prekeys(std::nullopt, bob.keys.add_prekeys(100, 3)), "upload");
    EXPECT_EQ(must_ok(bc.prekey_count(), "count").prekey_count().count(), 8u);
    // Signed prekey rotation; one signed by the wrong key is refused.
    auto spk = bob.keys.rotate_signed_prekey(2);
    must_ok(bc.upload_prekeys(spk, {}), "rotate");
    auto forged = DeviceKeys::generate(0).current_signed_prekey();
    EXPECT_EQ(must(bc.upload_prekeys(forged, {}), "forged").status(), v1::BAD_REQUEST);
    EXPECT_EQ(
        must(bc.upload_prekeys(std::nullopt, bob.keys.add_prekeys(1000, 201)), "too many").status(),
        v1::TOO_LARGE);

    auto ac = connect_to(server);
    User alice = register_user(ac);
    must_ok(ac.authenticate(alice.account, alice.keys.identity()), "auth alice");
    std::set<std::uint32_t> handed_out;
    for (int i = 0; i < 8; ++i) {
        auto r = must_ok(ac.fetch_bundles(bob.account), "fetch");
        ASSERT_EQ(r.fetch_bundles().bundles_size(), 1);
        const auto& b = r.fetch_bundles().bundles(0);
        EXPECT_EQ(b.device_id(), 1u);
        EXPECT_EQ(b.registration_id(), bob.keys.registration_id());
        auto pb = to_protocol_bundle(b);
        ASSERT_TRUE(pb);
        EXPECT_EQ(pb->identity_key, bob.keys.identity().public_key);
        EXPECT_EQ(b.signed_prekey().id(), 2u) << "the rotated signed prekey is served";
        EXPECT_EQ(pb->signed_prekey, spk.key_pair.public_key);
        EXPECT_TRUE(protocol::verify_signed_prekey(pb->identity_key, pb->signed_prekey,
                                                   pb->signed_prekey_signature));
        ASSERT_TRUE(b.has_prekey());
        const auto* mine = bob.keys.prekey(b.prekey().id());
        ASSERT_NE(mine, nullptr);
        EXPECT_EQ(*pb->prekey, mine->key_pair.public_key);
        EXPECT_TRUE(handed_out.insert(b.prekey().id()).second) << "handed out twice";
    }
    EXPECT_EQ(must_ok(bc.prekey_count(), "count").prekey_count().count(), 0u);
    // Exhausted: bundles keep coming, without a one-time prekey.
    auto r = must_ok(ac.fetch_bundles(bob.account), "fetch");
    ASSERT_EQ(r.fetch_bundles().bundles_size(), 1);
    EXPECT_FALSE(r.fetch_bundles().bundles(0).has_prekey());
    EXPECT_EQ(must(ac.fetch_bundles(random_id()), "unknown").status(), v1::NOT_FOUND);
    EXPECT_EQ(must(ac.fetch_bundles("short"), "bad id").status(), v1::BAD_REQUEST);
}

// Uploads and fetches run on the server's workers, counts and challenges where the frame
// arrived: pipelined on one connection, they must still take effect and be answered in the
// order they were sent.
TEST_F(AccountsTest, PipelinedRequestsAreAnsweredAndTakeEffectInOrder) {
    auto c = connect_to(server);
    User bob = register_user(c, 2);
    must_ok(c.authenticate(bob.account, bob.keys.identity()), "auth bob");
    must(c.next_push(5s), "queue empty");
    std::vector<std::uint64_t> ids;
    std::vector<std::uint64_t> expected_counts;
    std::uint32_t next_prekey = 100;
    std::uint64_t count = 2;
    for (int round = 0; round < 20; ++round) {
        v1::Request upload;
        for (const auto& pk : bob.keys.add_prekeys(next_prekey, 3)) {
            auto* w = upload.mutable_upload_prekeys()->add_prekeys();
            w->set_id(pk.id);
            w->set_public_key(public_bytes(pk.key_pair.public_key));
        }
        next_prekey += 3;
        count += 3;
        ids.push_back(must(c.submit(upload), "submit upload"));
        expected_counts.push_back(0);  // not a count
        v1::Request n;
        n.mutable_prekey_count();
        ids.push_back(must(c.submit(n), "submit count"));
        expected_counts.push_back(count);
    }
    // Raw frames, so the order they arrive in is seen, not just their contents.
    std::vector<std::uint64_t> answered;
    while (answered.size() < ids.size()) {
        auto raw = must(c.ws().receive(10s), "receive");
        auto frame = must(wire::decode_frame(raw), "decode");
        ASSERT_TRUE(frame.has_response());
        const auto& r = frame.response();
        ASSERT_EQ(r.status(), v1::OK) << r.detail();
        const std::size_t i = answered.size();
        answered.push_back(r.id());
        if (expected_counts[i] != 0) {
            EXPECT_EQ(r.prekey_count().count(), expected_counts[i]) << "answer " << i;
        }
    }
    EXPECT_EQ(answered, ids);
    // The last answer was to a count, queued after the last worker's request had left the
    // worker gauge and after every waiting frame had left the queue: both gauges read 0.
    auto metrics =
        must(net::https_get(server.host(), server.port(), server.pin(), "/metrics"), "metrics");
    EXPECT_EQ(metric(metrics.body, "paperplane_requests_on_workers"), 0);
    EXPECT_EQ(metric(metrics.body, "paperplane_frames_waiting"), 0);
    EXPECT_GE(metric(metrics.body, "paperplane_request_seconds_count"), 40);
}

TEST_F(AccountsTest, ConcurrentFetchesNeverShareAPrekey) {
    constexpr int kThreads = 6;
    constexpr int kFetchesEach = 10;
    constexpr std::uint32_t kPrekeys = 40;  // fewer than fetches: some go without
    User bob = register_user(server, kPrekeys);
    std::vector<User> fetchers;
    {
        auto c = connect_to(server);
        for (int i = 0; i < kThreads; ++i) fetchers.push_back(register_user(c, 0));
    }
    std::vector<std::vector<std::uint32_t>> got(kThreads);
    std::vector<std::string> errors(kThreads);
    std::vector<ServerClient> clients;
    for (const auto& f : fetchers) clients.push_back(login(server, f));
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            try {
                // Pipelined, so the fetches of all threads really overlap at the server.
                std::vector<std::uint64_t> ids;
                for (int i = 0; i < kFetchesEach; ++i) {
                    v1::Request req;
                    req.mutable_fetch_bundles()->set_account_id(bob.account);
                    ids.push_back(must(clients[t].submit(req), "submit"));
                }
                for (auto id : ids) {
                    auto r = must_ok(clients[t].await(id, 20s), "fetch");
                    if (r.fetch_bundles().bundles_size() != 1) throw std::runtime_error("bundles");
                    const auto& b = r.fetch_bundles().bundles(0);
                    if (b.has_prekey()) got[t].push_back(b.prekey().id());
                }
            } catch (const std::exception& e) {
                errors[t] = e.what();
            }
        });
    }
    for (auto& t : threads) t.join();
    std::multiset<std::uint32_t> all;
    for (int t = 0; t < kThreads; ++t) {
        EXPECT_EQ(errors[t], "") << "thread " << t;
        all.insert(got[t].begin(), got[t].end());
    }
    std::set<std::uint32_t> distinct(all.begin(), all.end());
    EXPECT_EQ(distinct.size(), all.size()) << "a one-time prekey was handed out twice";
    EXPECT_EQ(all.size(), kPrekeys) << "every prekey is handed out exactly once";
    for (auto id : distinct) EXPECT_NE(bob.keys.prekey(id), nullptr);
}

// One-time prekeys are finite: one account fetching another's bundles over and over must not
// drain them. Past the limits bundles still come, without one-time prekeys.
TEST(PrekeyLimits, OneRequesterCannotDrainAnotherAccountsPrekeys) {
    ServerProcess server(ServerProcessOptions::with_config(
        "[limits]\nprekey_fetches_per_target_per_hour = 1\nprekey_fetch_burst_per_target = 3\n"
        "prekey_fetches_per_hour = 1\nprekey_fetch_burst = 5\n"));
    must(server.start(), "start server");
    User bob = register_user(server, 20);
    User mallory = register_user(server, 0);
    User carol = register_user(server, 0);

    auto m = login(server, mallory);
    int with_prekey = 0;
    for (int i = 0; i < 15; ++i) {
        auto r = must_ok(m.fetch_bundles(bob.account), "fetch");
        ASSERT_EQ(r.fetch_bundles().bundles_size(), 1);
        const auto& b = r.fetch_bundles().bundles(0);
        EXPECT_TRUE(b.has_signed_prekey()) << "the bundle itself is still served";
        if (b.has_prekey()) ++with_prekey;
    }
    EXPECT_EQ(with_prekey, 3) << "no more than the per-target burst";
    auto bc = login(server, bob);
    EXPECT_EQ(must_ok(bc.prekey_count(), "count").prekey_count().count(), 17u);

    // Another requester is unaffected.
    auto c = login(server, carol);
    auto r = must_ok(c.fetch_bundles(bob.account), "carol's fetch");
    ASSERT_EQ(r.fetch_bundles().bundles_size(), 1);
    EXPECT_TRUE(r.fetch_bundles().bundles(0).has_prekey());
    EXPECT_EQ(must_ok(bc.prekey_count(), "count").prekey_count().count(), 16u);

    // Across targets the requester has its own budget (5, of which 3 went to Bob).
    int across = 0;
    for (int i = 0; i < 4; ++i) {
        User target = register_user(server, 5);
        auto t = must_ok(m.fetch_bundles(target.account), "fetch another target");
        ASSERT_EQ(t.fetch_bundles().bundles_size(), 1);
        if (t.fetch_bundles().bundles(0).has_prekey()) ++across;
    }
    EXPECT_EQ(across, 2);
    auto metrics =
        must(net::https_get(server.host(), server.port(), server.pin(), "/metrics"), "metrics");
    EXPECT_GE(metric(metrics.body, "paperplane_prekey_fetches_limited_total"), 14);
}

}  // namespace
}  // namespace pp::test

// Durability: an OK to a send means the message survives kill -9. Eight senders burst at one
// recipient; the server is SIGKILLed mid-burst; after a restart on the same data directory the
// recipient must receive every acknowledged message exactly once, and nothing again once it
// acknowledged it.
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "tests/integration/fixture.hpp"

namespace pp::test {
namespace {

constexpr int kSenders = 8;
constexpr int kMessagesEach = 300;
constexpr int kWindow = 32;                // requests in flight per sender
constexpr std::size_t kKillAfterOk = 600;  // acknowledged sends before the kill

TEST(Crash, AcknowledgedSendsSurviveKill9) {
    ServerProcess server;
    must(server.start(), "start server");
    User bob;
    std::vector<User> senders;
    {
        auto c = connect_to(server);
        bob = register_user(c);
        for (int i = 0; i < kSenders; ++i) senders.push_back(register_user(c, 0));
    }
    std::vector<ServerClient> clients;
    for (const auto& s : senders) clients.push_back(login(server, s));

    std::mutex mu;
    std::condition_variable cv;
    std::set<std::string> acknowledged;  // (sender account || message id)
    std::set<std::string> attempted;
    std::vector<std::string> errors(kSenders);
    std::atomic<bool> killed{false};

    std::vector<std::thread> threads;
    for (int t = 0; t < kSenders; ++t) {
        threads.emplace_back([&, t] {
            auto& c = clients[t];
            std::map<std::uint64_t, std::string> in_flight;  // request id -> message id
            int next = 0;
            try {
                while (next < kMessagesEach || !in_flight.empty()) {
                    while (next < kMessagesEach && in_flight.size() < kWindow) {
                        const std::string id = random_id();
                        {
                            std::lock_guard lock(mu);
                            attempted.insert(senders[t].account + id);
                        }
                        auto rid = c.submit(ServerClient::make_send(
                            id, bob.account,
                            {{1, 2, "burst " + std::to_string(t) + "/" + std::to_string(next)}}));
                        ++next;
                        if (!rid) throw std::runtime_error("connection lost");
                        in_flight[*rid] = id;
                    }
                    auto rid = in_flight.begin()->first;
                    auto r = c.await(rid, 20s);
                    if (!r) throw std::runtime_error("connection lost");
                    if (r->status() != v1::OK) {
                        throw std::runtime_error("send refused: " + v1::Status_Name(r->status()));
                    }
                    {
                        std::lock_guard lock(mu);
                        acknowledged.insert(senders[t].account + in_flight.begin()->second);
                        cv.notify_all();
                    }
                    in_flight.erase(in_flight.begin());
                }
            } catch (const std::exception& e) {
                // Expected once the server is killed; before that it is a failure.
                if (!killed.load()) errors[t] = e.what();
            }
        });
    }

    {
        std::unique_lock lock(mu);
        ASSERT_TRUE(cv.wait_for(lock, 60s, [&] { return acknowledged.size() >= kKillAfterOk; }))
            << "only " << acknowledged.size() << " sends acknowledged";
    }
    killed = true;
    must(server.kill(), "kill -9");
    for (auto& t : threads) t.join();
    for (int t = 0; t < kSenders; ++t) EXPECT_EQ(errors[t], "") << "sender " << t;

    std::set<std::string> acked_before_kill;
    {
        std::lock_guard lock(mu);
        acked_before_kill = acknowledged;
    }
    EXPECT_GE(acked_before_kill.size(), kKillAfterOk);
    EXPECT_LT(acked_before_kill.size(), static_cast<std::size_t>(kSenders * kMessagesEach))
        << "the burst finished before the kill: the test proves less than it should";

    must(server.start(), "restart on the same data dir");
    std::map<std::string, int> seen;
    {
        auto b = login(server, bob);
        for (const auto& e : drain_until_empty(b, true, 60s)) {
            ++seen[e.sender_account() + e.message_id()];
        }
        must(b.pump(500ms), "acks answered");
        b.close();
    }
    std::size_t missing = 0, twice = 0, unknown = 0;
    for (const auto& k : acked_before_kill) {
        auto it = seen.find(k);
        if (it == seen.end()) ++missing;
    }
    for (const auto& [k, n] : seen) {
        if (n != 1) ++twice;
        if (!attempted.count(k)) ++unknown;
    }
    EXPECT_EQ(missing, 0u) << "acknowledged sends lost by kill -9";
    EXPECT_EQ(twice, 0u) << "messages delivered twice in one drain";
    EXPECT_EQ(unknown, 0u) << "messages nobody sent";
    std::cout << "[ crash    ] " << acked_before_kill.size() << " acknowledged before kill, "
              << seen.size() << " delivered after restart\n";

    // Everything was acknowledged by the recipient: nothing comes again.
    auto b = login(server, bob);
    EXPECT_TRUE(drain_until_empty(b, true).empty());
    must(server.stop(), "SIGTERM");
}

}  // namespace
}  // namespace pp::test

// Durability: an OK to a send means the message survives the server's end, sudden or orderly.
// Eight senders burst at one recipient; the server is stopped mid-burst, by kill -9 or by
// SIGTERM; after a restart on the same data directory the recipient must receive every
// acknowledged message exactly once, and nothing again once it acknowledged it. After SIGTERM
// the server must also exit cleanly, every send it stored must have had its OK, and a send it
// refused while stopping must not be delivered: a refusal means nothing was stored.
#include <atomic>
#include <condition_variable>
#include <functional>
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
constexpr std::size_t kStopAfterOk = 600;  // acknowledged sends before the stop

// What the senders saw of their sends, each keyed by sender account || message id.
struct Burst {
    std::set<std::string> attempted;
    std::set<std::string> acknowledged;  // answered OK
    std::set<std::string> refused;       // answered with any other status while stopping
    std::vector<std::string> errors;     // per sender: what went wrong before the stop
};

// Registers a recipient and kSenders senders, has every sender send kMessagesEach messages to
// the recipient with kWindow in flight, and once kStopAfterOk are acknowledged calls `stop`
// (which ends the server). Returns when every sender has seen its connection end.
Burst burst_until_stopped(ServerProcess& server, User& bob, const std::function<void()>& stop) {
    std::vector<User> senders;
    {
        auto c = connect_to(server);
        bob = register_user(c);
        for (int i = 0; i < kSenders; ++i) senders.push_back(register_user(c, 0));
    }
    std::vector<ServerClient> clients;
    for (const auto& s : senders) clients.push_back(login(server, s));

    Burst burst;
    burst.errors.resize(kSenders);
    std::mutex mu;
    std::condition_variable cv;
    std::atomic<bool> stopped{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < kSenders; ++t) {
        threads.emplace_back([&, t] {
            auto& c = clients[t];
            std::map<std::uint64_t, std::string> in_flight;  // request id -> message id
            int next = 0;
            try {
                while (next < kMessagesEach || !in_flight.empty()) {
                    // Once the stop is under way only the answers still owed are collected:
                    // new sends would only add to what the server must read while closing.
                    while (!stopped.load() && next < kMessagesEach && in_flight.size() < kWindow) {
                        const std::string id = random_id();
                        {
                            std::lock_guard lock(mu);
                            burst.attempted.insert(senders[t].account + id);
                        }
                        auto rid = c.submit(ServerClient::make_send(
                            id, bob.account,
                            {{1, 2, "burst " + std::to_string(t) + "/" + std::to_string(next)}}));
                        ++next;
                        if (!rid) {
                            if (!stopped.load()) throw std::runtime_error("connection lost");
                            // Closing: answers already received can still be read.
                            next = kMessagesEach;
                            break;
                        }
                        in_flight[*rid] = id;
                    }
                    if (in_flight.empty()) break;
                    auto rid = in_flight.begin()->first;
                    auto r = c.await(rid, 20s);
                    if (!r) throw std::runtime_error("connection lost");
                    const std::string key = senders[t].account + in_flight.begin()->second;
                    in_flight.erase(in_flight.begin());
                    if (r->status() != v1::OK) {
                        if (!stopped.load())
                            throw std::runtime_error("send refused: " +
                                                     v1::Status_Name(r->status()));
                        std::lock_guard lock(mu);
                        burst.refused.insert(key);
                        continue;
                    }
                    std::lock_guard lock(mu);
                    burst.acknowledged.insert(key);
                    cv.notify_all();
                }
            } catch (const std::exception& e) {
                // Expected once the server is stopped; before that it is a failure.
                if (!stopped.load()) burst.errors[t] = e.what();
            }
        });
    }

    bool reached = false;
    {
        std::unique_lock lock(mu);
        reached = cv.wait_for(lock, 60s, [&] { return burst.acknowledged.size() >= kStopAfterOk; });
    }
    EXPECT_TRUE(reached) << "only " << burst.acknowledged.size() << " sends acknowledged";
    stopped = true;
    stop();
    for (auto& th : threads) th.join();
    return burst;
}

// After a restart: every message the recipient is pushed, counted by sender || message id.
// It acknowledges them all, and checks that nothing comes again.
std::map<std::string, int> delivered_after_restart(ServerProcess& server, const User& bob) {
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
    auto b = login(server, bob);
    EXPECT_TRUE(drain_until_empty(b, true).empty()) << "acknowledged messages came again";
    return seen;
}

void expect_every_acknowledged_send_once(const Burst& burst,
                                         const std::map<std::string, int>& seen) {
    for (int t = 0; t < kSenders; ++t) EXPECT_EQ(burst.errors[t], "") << "sender " << t;
    EXPECT_GE(burst.acknowledged.size(), kStopAfterOk);
    EXPECT_LT(burst.acknowledged.size(), static_cast<std::size_t>(kSenders * kMessagesEach))
        << "the burst finished before the stop: the test proves less than it should";
    std::size_t missing = 0, twice = 0, unknown = 0;
    for (const auto& k : burst.acknowledged)
        if (!seen.contains(k)) ++missing;
    for (const auto& [k, n] : seen) {
        if (n != 1) ++twice;
        if (!burst.attempted.contains(k)) ++unknown;
    }
    EXPECT_EQ(missing, 0u) << "acknowledged sends lost";
    EXPECT_EQ(twice, 0u) << "messages delivered twice in one drain";
    EXPECT_EQ(unknown, 0u) << "messages nobody sent";
}

TEST(Crash, AcknowledgedSendsSurviveKill9) {
    ServerProcess server;
    must(server.start(), "start server");
    User bob;
    const Burst burst = burst_until_stopped(server, bob, [&] { must(server.kill(), "kill -9"); });
    const auto seen = delivered_after_restart(server, bob);
    expect_every_acknowledged_send_once(burst, seen);
    std::cout << "[ crash    ] " << burst.acknowledged.size() << " acknowledged before kill, "
              << seen.size() << " delivered after restart\n";
    must(server.stop(), "SIGTERM");
}

// SIGTERM mid-burst: the server stops accepting, commits and answers the sends it already
// took, and exits 0. So what it stored is exactly what it answered OK; what it refused on the
// way is not stored.
TEST(Crash, AcknowledgedSendsSurviveSigtermMidBurst) {
    ServerProcess server;
    must(server.start(), "start server");
    User bob;
    const Burst burst =
        burst_until_stopped(server, bob, [&] { must(server.stop(), "SIGTERM, clean exit"); });
    EXPECT_NE(server.output().find("stopped cleanly"), std::string::npos) << server.output();
    const auto seen = delivered_after_restart(server, bob);
    expect_every_acknowledged_send_once(burst, seen);
    std::size_t refused_but_delivered = 0;
    for (const auto& k : burst.refused)
        if (seen.contains(k)) ++refused_but_delivered;
    EXPECT_EQ(refused_but_delivered, 0u) << "a send refused while stopping was stored";
    // Orderly: every send it stored had its OK out before the connection closed.
    EXPECT_EQ(seen.size(), burst.acknowledged.size()) << "a send stored while stopping had no OK";
    std::cout << "[ sigterm  ] " << burst.acknowledged.size() << " acknowledged, "
              << burst.refused.size() << " refused while stopping, " << seen.size()
              << " delivered after restart\n";
    must(server.stop(), "SIGTERM");
}

}  // namespace
}  // namespace pp::test

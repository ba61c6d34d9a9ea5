#pragma once
// Client library tests against the real paperplane-server binary: every user is a real
// profile directory with its own encrypted database, talking over pinned TLS on loopback.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "client/client.hpp"
#include "tests/support/server_process.hpp"

namespace pp::test {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using client::Client;

// One user: a profile, its Client, and every event it reported.
struct User {
    std::string name;
    fs::path dir;
    std::unique_ptr<Client> client;
    std::vector<client::Event> events;

    client::AccountId account() const { return client->account()->account; }
    // Received messages (events), in arrival order.
    std::vector<client::Message> received() const {
        std::vector<client::Message> out;
        for (const auto& e : events)
            if (e.kind == client::Event::Kind::kMessage) out.push_back(*e.message);
        return out;
    }
    std::vector<std::string> received_texts() const {
        std::vector<std::string> out;
        for (const auto& m : received()) out.push_back(m.text);
        return out;
    }
    std::size_t count(client::Event::Kind k) const {
        std::size_t n = 0;
        for (const auto& e : events) n += e.kind == k;
        return n;
    }
};

// `a` adds `b` from b's link, under b's name.
inline void introduce(User& a, User& b) {
    auto link = b.client->contact_link();
    ASSERT_TRUE(link) << link.error().detail;
    auto added = a.client->add_contact(*link, b.name);
    ASSERT_TRUE(added) << added.error().detail;
}

// Each in the other's contacts.
inline void befriend(User& a, User& b) {
    introduce(a, b);
    introduce(b, a);
}

class ClientTest : public ::testing::Test {
  protected:
    void SetUp() override {
        auto s = server.start();
        ASSERT_TRUE(s) << s.error;
        root = server.root() / "clients";
        fs::create_directories(root);
    }

    client::ServerAddress address() const { return {server.host(), server.port(), server.pin()}; }

    // Creates a profile, registers it and records its events.
    User& make_user(const std::string& name) {
        auto& u = users[name];
        u.name = name;
        u.dir = root / name;
        auto c = Client::create({u.dir, std::nullopt});
        EXPECT_TRUE(c) << (c ? "" : c.error().detail);
        u.client = std::move(*c);
        watch(u);
        client::RegisterOptions o;
        o.username = name;
        auto a = u.client->register_account(address(), o);
        EXPECT_TRUE(a) << (a ? "" : a.error().detail);
        return u;
    }

    void watch(User& u) {
        u.client->set_event_handler([&u](const client::Event& e) { u.events.push_back(e); });
    }

    // Closes and reopens the profile (a client restart).
    void restart(User& u) {
        u.client.reset();
        auto c = Client::open({u.dir, std::nullopt});
        ASSERT_TRUE(c) << c.error().detail;
        u.client = std::move(*c);
        watch(u);
    }

    client::ConversationId to(User& from, const std::string& name) {
        auto c = from.client->resolve(name);
        EXPECT_TRUE(c) << (c ? "" : c.error().detail);
        return c ? *c : client::ConversationId{};
    }

    void send(User& from, const std::string& to_name, const std::string& text) {
        auto m = from.client->send_text(to(from, to_name), text);
        ASSERT_TRUE(m) << m.error().detail;
        ASSERT_EQ(m->status, client::MessageStatus::kSent) << "not accepted by the server";
    }

    void sync(User& u) {
        auto r = u.client->sync(20s);
        ASSERT_TRUE(r) << u.name << ": " << r.error().detail;
    }

    ServerProcess server;
    fs::path root;
    std::map<std::string, User> users;
};

}  // namespace pp::test

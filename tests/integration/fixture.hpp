#pragma once
// Shared pieces of the integration tests: a server per test, users, logged-in clients.
// Helpers throw on failures that make the rest of a test meaningless; gtest reports the
// exception (with its message) as the test's failure.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "base/hex.hpp"
#include "tests/support/server_client.hpp"
#include "tests/support/server_process.hpp"

namespace pp::test {

using namespace std::chrono_literals;

template <typename T>
T must(Result<T> r, const std::string& what) {
    if (!r) {
        throw std::runtime_error(what + ": " + std::string(to_string(r.error().code)) + " (" +
                                 std::string(r.error().detail) + ")");
    }
    return std::move(r).value();
}

inline void must(Result<void> r, const std::string& what) {
    if (!r) {
        throw std::runtime_error(what + ": " + std::string(to_string(r.error().code)) + " (" +
                                 std::string(r.error().detail) + ")");
    }
}

inline v1::Response must_ok(Result<v1::Response> r, const std::string& what) {
    auto resp = must(std::move(r), what);
    if (resp.status() != v1::OK) {
        throw std::runtime_error(what + ": status " + v1::Status_Name(resp.status()) + " (" +
                                 resp.detail() + ")");
    }
    return resp;
}

inline void must(const Status& s, const std::string& what) {
    if (!s) throw std::runtime_error(what + ": " + s.error);
}

struct User {
    std::string account;
    DeviceKeys keys;
};

inline ServerClient connect_to(const ServerProcess& server) {
    return must(ServerClient::connect(server.host(), server.port(), server.pin()), "connect");
}

inline User register_user(ServerClient& c, std::uint32_t prekeys = 10) {
    RegisterOptions o;
    o.prekeys = prekeys;
    auto reg = must(c.register_account(o), "register");
    if (!reg.ok()) {
        throw std::runtime_error("register: status " + v1::Status_Name(reg.response.status()));
    }
    return {reg.account_id, std::move(reg.keys)};
}

inline User register_user(const ServerProcess& server, std::uint32_t prekeys = 10) {
    auto c = connect_to(server);
    auto u = register_user(c, prekeys);
    c.close();
    return u;
}

// Connected and authenticated; the backlog is still to be read with next_push().
inline ServerClient login(const ServerProcess& server, const User& u) {
    auto c = connect_to(server);
    must_ok(c.authenticate(u.account, u.keys.identity()), "authenticate");
    return c;
}

// Reads pushes up to QueueEmpty. Acks as it goes when `ack` (in batches, so the push window
// never stalls); otherwise the caller must keep below the server's window (256).
inline std::vector<v1::Envelope> drain_until_empty(ServerClient& c, bool ack,
                                                   std::chrono::milliseconds timeout = 20s) {
    std::vector<v1::Envelope> got;
    std::vector<std::string> pending_acks;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto flush = [&] {
        if (pending_acks.empty()) return;
        // Pipelined: the response is collected later by whoever awaits it (or never).
        v1::Request req;
        for (auto& id : pending_acks) req.mutable_ack()->add_message_ids(id);
        must(c.submit(std::move(req)), "ack");
        pending_acks.clear();
    };
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) throw std::runtime_error("no QueueEmpty in time");
        // Acks are batched, but never held while waiting: the server's push window (in
        // messages and bytes) only reopens when they arrive.
        const bool holding = !pending_acks.empty();
        auto next = c.next_push(holding ? std::min(left, std::chrono::milliseconds(200)) : left);
        if (!next && holding && next.error().code == ErrorCode::kLimitExceeded) {
            flush();
            continue;
        }
        auto p = must(std::move(next), "waiting for the backlog");
        if (p.has_queue_empty()) break;
        if (!p.has_envelope()) continue;
        got.push_back(p.envelope());
        if (ack) {
            pending_acks.push_back(p.envelope().message_id());
            if (pending_acks.size() >= 64) flush();
        }
    }
    flush();
    return got;
}

inline std::string text_of(const Bytes& b) {
    return std::string(b.begin(), b.end());
}

// A value from the Prometheus text, or -1.
inline double metric(const std::string& text, const std::string& name) {
    std::size_t pos = 0;
    while ((pos = text.find(name + " ", pos)) != std::string::npos) {
        if (pos == 0 || text[pos - 1] == '\n') return std::stod(text.substr(pos + name.size() + 1));
        pos += name.size();
    }
    return -1;
}

}  // namespace pp::test

#include "net/detached_lookup.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstring>
#include <thread>

namespace pp::net::detail {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

void LookupGate::close() {
    std::lock_guard lock(mutex_);
    open_ = false;
}

bool LookupGate::post(std::function<void()> f) {
    std::lock_guard lock(mutex_);
    if (!open_) return false;
    asio::post(ex_, std::move(f));
    return true;
}

PendingLookup::PendingLookup(const asio::any_io_executor& ex) : wake_(ex) {
    wake_.expires_at(asio::steady_timer::time_point::max());
}

void PendingLookup::cancel() {
    wake_.cancel();
}

namespace {

std::pair<error_code, std::vector<tcp::endpoint>> blocking_lookup(const std::string& host,
                                                                  std::uint16_t port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string service = std::to_string(port);
    if (::getaddrinfo(host.c_str(), service.c_str(), &hints, &found) != 0 || found == nullptr)
        return {asio::error::host_not_found, {}};
    std::vector<tcp::endpoint> out;
    for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
        if (a->ai_family != AF_INET && a->ai_family != AF_INET6) continue;
        tcp::endpoint ep;
        if (a->ai_addrlen > ep.capacity()) continue;
        std::memcpy(ep.data(), a->ai_addr, a->ai_addrlen);
        ep.resize(a->ai_addrlen);
        out.push_back(ep);
    }
    ::freeaddrinfo(found);
    if (out.empty()) return {asio::error::host_not_found, {}};
    return {error_code{}, std::move(out)};
}

}  // namespace

asio::awaitable<std::pair<error_code, std::vector<tcp::endpoint>>> lookup(
    std::shared_ptr<LookupGate> gate, std::shared_ptr<PendingLookup> pending, std::string host,
    std::uint16_t port) {
    error_code literal_ec;
    const auto address = asio::ip::make_address(host, literal_ec);
    if (!literal_ec) co_return std::pair{error_code{}, std::vector{tcp::endpoint(address, port)}};

    // The thread holds no asio object: only the gate and a weak reference, resolved on the
    // io_context's thread when the answer arrives.
    std::weak_ptr<PendingLookup> weak = pending;
    try {
        std::thread([gate, weak, host, port] {
            auto answer = blocking_lookup(host, port);
            gate->post([weak, answer = std::move(answer)]() mutable {
                if (auto p = weak.lock()) {
                    p->answered_ = true;
                    p->error_ = answer.first;
                    p->endpoints_ = std::move(answer.second);
                    p->wake_.cancel();
                }
            });
        }).detach();
    } catch (...) {
        co_return std::pair{error_code(asio::error::no_memory), std::vector<tcp::endpoint>{}};
    }
    co_await pending->wake_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!pending->answered_)
        co_return std::pair{error_code(asio::error::operation_aborted),
                            std::vector<tcp::endpoint>{}};
    co_return std::pair{pending->error_, std::move(pending->endpoints_)};
}

}  // namespace pp::net::detail

#include "relay/socks5/lookup_service.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

namespace pp::relay::socks5 {

namespace asio = boost::asio;

namespace {
// Lives on the waiting coroutine's strand: the worker posts the answer there. Holds no timer, so
// a result dropped on a worker thread (after shutdown) touches nothing of the io_context.
struct Waiter {
    std::optional<std::vector<asio::ip::address>> result;
    asio::steady_timer* timer = nullptr;  // null once the coroutine stopped waiting
};

struct Job {
    std::string host;
    const void* user;
    asio::any_io_executor ex;
    std::shared_ptr<Waiter> waiter;
};
}  // namespace

struct LookupService::Core {
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<Job> queue;
    std::map<const void*, unsigned> in_flight;  // per user, queued or running
    std::size_t max_queued = 0;
    unsigned max_per_user = 0;
    bool stopped = false;
    Resolve resolve = &LookupService::system_resolve;

    void run() {
        for (;;) {
            Job job;
            Resolve fn;
            {
                std::unique_lock lock(mutex);
                wake.wait(lock, [&] { return stopped || !queue.empty(); });
                if (stopped) return;
                job = std::move(queue.front());
                queue.pop_front();
                fn = resolve;
            }
            auto addresses = fn(job.host);
            std::lock_guard lock(mutex);
            if (auto it = in_flight.find(job.user); it != in_flight.end() && --it->second == 0)
                in_flight.erase(it);
            // Posted under the lock: shutdown() cannot slip in between the check and the post.
            if (stopped) return;
            asio::post(job.ex, [w = std::move(job.waiter), a = std::move(addresses)]() mutable {
                w->result = std::move(a);
                if (w->timer) w->timer->cancel();
            });
        }
    }
};

LookupService::LookupService(unsigned threads, std::size_t max_queued, unsigned max_per_user)
    : core_(std::make_shared<Core>()) {
    core_->max_queued = max_queued;
    core_->max_per_user = max_per_user;
    // Detached: a worker stuck in a lookup that never answers must not hold up shutdown. Each
    // keeps the core alive and leaves as soon as it sees `stopped`.
    for (unsigned i = 0; i < threads; ++i) std::thread([c = core_] { c->run(); }).detach();
}

LookupService::~LookupService() {
    shutdown();
}

void LookupService::set_resolve(Resolve r) {
    std::lock_guard lock(core_->mutex);
    core_->resolve = std::move(r);
}

void LookupService::shutdown() {
    {
        std::lock_guard lock(core_->mutex);
        core_->stopped = true;
        core_->queue.clear();
    }
    core_->wake.notify_all();
}

asio::awaitable<LookupService::Answer> LookupService::lookup(
    std::string host, const void* user, std::chrono::steady_clock::duration timeout,
    asio::steady_timer** waiting) {
    auto ex = co_await asio::this_coro::executor;
    auto waiter = std::make_shared<Waiter>();
    {
        std::lock_guard lock(core_->mutex);
        auto& mine = core_->in_flight[user];
        if (core_->stopped || core_->queue.size() >= core_->max_queued ||
            mine >= core_->max_per_user) {
            if (mine == 0) core_->in_flight.erase(user);
            co_return Answer{};
        }
        ++mine;
        core_->queue.push_back(Job{std::move(host), user, ex, waiter});
    }
    core_->wake.notify_one();
    asio::steady_timer timer(ex);
    timer.expires_after(timeout);
    waiter->timer = &timer;
    if (waiting) *waiting = &timer;
    // Cancelled by the answer's arrival; otherwise it expires at the deadline.
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    (void)ec;
    waiter->timer = nullptr;
    if (waiting) *waiting = nullptr;
    Answer out;
    if (waiter->result) {
        out.outcome = Outcome::kDone;
        out.addresses = std::move(*waiter->result);
    } else {
        out.outcome = Outcome::kTimedOut;
    }
    co_return out;
}

std::vector<asio::ip::address> LookupService::system_resolve(const std::string& host) {
    std::vector<asio::ip::address> out;
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    addrinfo* res = nullptr;
    if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0) return out;
    for (auto* r = res; r; r = r->ai_next) {
        if (r->ai_family == AF_INET) {
            asio::ip::address_v4::bytes_type b;
            std::memcpy(b.data(), &reinterpret_cast<const sockaddr_in*>(r->ai_addr)->sin_addr, 4);
            out.emplace_back(asio::ip::address_v4(b));
        } else if (r->ai_family == AF_INET6) {
            asio::ip::address_v6::bytes_type b;
            std::memcpy(b.data(), &reinterpret_cast<const sockaddr_in6*>(r->ai_addr)->sin6_addr,
                        16);
            out.emplace_back(asio::ip::address_v6(b));
        }
    }
    ::freeaddrinfo(res);
    return out;
}

}  // namespace pp::relay::socks5

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
#include <atomic>
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
    // Set when the caller gave up (deadline, session closed): a queued lookup nobody waits for
    // is skipped instead of taking a worker.
    std::atomic<bool> abandoned{false};
};

struct Job {
    std::string host;
    std::uint64_t key = 0;
    asio::any_io_executor ex;
    std::shared_ptr<Waiter> waiter;
};
}  // namespace

struct LookupService::Core {
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<Job> queue;
    std::map<std::uint64_t, unsigned> in_flight;  // per key, queued or running
    // The executor (a session's strand) of each worker's current job. It lives here, not on
    // the worker's stack, because destroying the last copy of a strand touches its io_context:
    // a worker may only do that while the service runs (under the lock), and shutdown() takes
    // the executors of lookups still running and destroys them on its own thread, while the
    // io_context is certainly alive. A worker returning later finds its slot empty.
    std::vector<std::optional<asio::any_io_executor>> running;
    std::size_t max_queued = 0;
    unsigned max_per_key = 0;
    bool stopped = false;
    Resolve resolve = &LookupService::system_resolve;

    void done_with(std::uint64_t key) {
        if (auto it = in_flight.find(key); it != in_flight.end() && --it->second == 0)
            in_flight.erase(it);
    }

    void run(std::size_t slot) {
        for (;;) {
            std::string host;
            std::uint64_t key = 0;
            std::shared_ptr<Waiter> waiter;
            Resolve fn;
            {
                std::unique_lock lock(mutex);
                wake.wait(lock, [&] { return stopped || !queue.empty(); });
                if (stopped) return;
                Job job = std::move(queue.front());
                queue.pop_front();
                if (job.waiter->abandoned.load()) {
                    done_with(job.key);
                    continue;  // job (and its executor) destroyed under the lock, service live
                }
                host = std::move(job.host);
                key = job.key;
                waiter = std::move(job.waiter);
                running[slot] = std::move(job.ex);
                fn = resolve;
            }
            auto addresses = fn(host);
            std::lock_guard lock(mutex);
            done_with(key);
            if (stopped) return;  // shutdown() took (and destroyed) running[slot]
            // Posted under the lock: shutdown() cannot slip in between the check and the post.
            asio::post(*running[slot], [w = std::move(waiter), a = std::move(addresses)]() mutable {
                w->result = std::move(a);
                if (w->timer) w->timer->cancel();
            });
            running[slot].reset();
        }
    }
};

LookupService::LookupService(unsigned threads, std::size_t max_queued, unsigned max_per_key)
    : core_(std::make_shared<Core>()) {
    core_->max_queued = max_queued;
    core_->max_per_key = max_per_key;
    core_->running.resize(threads);
    // Detached: a worker stuck in a lookup that never answers must not hold up shutdown. Each
    // keeps the core alive and leaves as soon as it sees `stopped`.
    for (unsigned i = 0; i < threads; ++i) std::thread([c = core_, i] { c->run(i); }).detach();
}

LookupService::~LookupService() {
    shutdown();
}

void LookupService::set_resolve(Resolve r) {
    std::lock_guard lock(core_->mutex);
    core_->resolve = std::move(r);
}

void LookupService::shutdown() {
    // Executors (strands) are destroyed here, on the caller's thread, before the io_context
    // goes away: the queued jobs' and those of lookups still running on a worker.
    std::deque<Job> queued;
    std::vector<std::optional<asio::any_io_executor>> running;
    {
        std::lock_guard lock(core_->mutex);
        core_->stopped = true;
        queued.swap(core_->queue);
        for (auto& slot : core_->running) {
            running.push_back(std::move(slot));
            slot.reset();
        }
    }
    core_->wake.notify_all();
}

asio::awaitable<LookupService::Answer> LookupService::lookup(
    std::string host, std::uint64_t key, std::chrono::steady_clock::duration timeout,
    asio::steady_timer** waiting) {
    auto ex = co_await asio::this_coro::executor;
    auto waiter = std::make_shared<Waiter>();
    {
        std::lock_guard lock(core_->mutex);
        auto& mine = core_->in_flight[key];
        if (core_->stopped || core_->queue.size() >= core_->max_queued ||
            mine >= core_->max_per_key) {
            if (mine == 0) core_->in_flight.erase(key);
            co_return Answer{};
        }
        ++mine;
        core_->queue.push_back(Job{std::move(host), key, ex, waiter});
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
        waiter->abandoned.store(true);
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

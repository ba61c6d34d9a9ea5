#include "net/server.hpp"

#include <pthread.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <future>
#include <optional>
#include <thread>

#include "net/session.hpp"

namespace pp::net {

Connection::~Connection() = default;

unsigned io_threads(const ServerOptions& o) {
    return std::max(1u, o.threads);
}

Handler::~Handler() = default;

namespace detail {

void ServerCore::add(std::uint64_t id, const std::shared_ptr<Session>& s) {
    std::lock_guard lock(mu_);
    live_.emplace(id, s);
}

void ServerCore::remove(std::uint64_t id) {
    std::lock_guard lock(mu_);
    live_.erase(id);
    if (live_.empty()) cv_.notify_all();
}

std::vector<std::shared_ptr<Session>> ServerCore::snapshot() {
    std::lock_guard lock(mu_);
    std::vector<std::shared_ptr<Session>> out;
    out.reserve(live_.size());
    for (auto& [id, weak] : live_) {
        if (auto s = weak.lock()) out.push_back(std::move(s));
    }
    return out;
}

bool ServerCore::wait_all_closed(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return live_.empty(); });
}

}  // namespace detail

namespace {
namespace asio = boost::asio;
using asio::ip::tcp;
constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
// Each shutdown step waits at most this long; together they bound shutdown() well under a
// supervisor's stop timeout.
constexpr std::chrono::milliseconds kShutdownGrace{500};
}  // namespace

struct Server::Impl {
    Impl(ServerOptions o, TlsIdentity t, Handler& h, HttpRoute r)
        : core(std::make_shared<detail::ServerCore>(std::move(o), std::move(t), h, std::move(r))),
          ioc(static_cast<int>(io_threads(core->opts))),
          acceptor(asio::make_strand(ioc)) {}

    asio::awaitable<void> accept_loop();
    asio::awaitable<void> idle_sweep();
    void run_thread();

    std::shared_ptr<detail::ServerCore> core;
    asio::io_context ioc;
    tcp::acceptor acceptor;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
    std::vector<std::thread> threads;
    std::atomic<std::uint64_t> next_id{1};
    std::uint16_t bound_port = 0;
    bool started = false;
    bool stopped = false;
};

asio::awaitable<void> Server::Impl::accept_loop() {
    auto& counters = core->counters;
    for (;;) {
        // Each socket gets its own strand: its session's handlers never run concurrently, yet
        // sessions spread over all io threads.
        auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(ioc), kTok);
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        if (ec) {
            // Out of descriptors or memory: back off instead of spinning on the error.
            asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(50));
            co_await pause.async_wait(kTok);
            continue;
        }
        if (counters.connections_open.load() >= core->opts.max_connections) {
            counters.rejected_over_limit.fetch_add(1);
            boost::system::error_code ignored;
            socket.close(ignored);
            continue;
        }
        // Frames are small and each is written as soon as it is ready: with Nagle's algorithm a
        // frame sent while the previous one is unacknowledged waits for the peer's delayed ACK
        // (up to 40 ms on Linux), which set the tail of push latency.
        boost::system::error_code no_delay_ec;
        socket.set_option(tcp::no_delay(true), no_delay_ec);
        const auto id = next_id.fetch_add(1);
        bool counted = false;
        try {
            auto session = std::make_shared<detail::Session>(core, std::move(socket), id);
            counters.connections_open.fetch_add(1);
            counted = true;
            counters.connections_total.fetch_add(1);
            core->add(id, session);
            detail::Session::launch(session);
        } catch (...) {
            // Allocation failure for one connection must not end the accept loop. A session
            // whose coroutine never started cannot end itself: left counted and listed, it
            // would hold a place under max_connections for good and make shutdown wait out
            // its whole timeout.
            if (counted) {
                counters.connections_open.fetch_sub(1);
                core->remove(id);
            }
        }
    }
}

// Keep-alive for every open WebSocket (Session::check_idle), at an eighth of the idle timeout
// (a quarter of the handshake timeout if less; 50 ms to 1 s): a silent peer is pinged within a
// tick after half the idle timeout and dropped within a tick after all of it, and a close that
// has not finished within the handshake timeout is cut off. One timer for the server instead of
// one per connection re-armed at every read.
asio::awaitable<void> Server::Impl::idle_sweep() {
    using namespace std::chrono_literals;
    const auto& opts = core->opts;
    // A zero idle timeout is none: it sets no tick. (start() refuses a zero handshake timeout.)
    std::chrono::steady_clock::duration tick = 1s;
    if (opts.idle_timeout.count() > 0) tick = std::min<decltype(tick)>(tick, opts.idle_timeout / 8);
    if (opts.handshake_timeout.count() > 0)
        tick = std::min<decltype(tick)>(tick, opts.handshake_timeout / 4);
    // Not below 50 ms: each tick walks every session (20,000 of them, say).
    tick = std::max<decltype(tick)>(tick, 50ms);
    asio::steady_timer timer(co_await asio::this_coro::executor);
    std::vector<std::shared_ptr<detail::Session>> due;
    for (;;) {
        timer.expires_after(tick);
        auto [ec] = co_await timer.async_wait(kTok);
        if (ec) co_return;
        const auto now = std::chrono::steady_clock::now();
        // The sessions due are collected under the live map's lock and posted to after it is
        // released, so accepting and ending sessions never wait behind the posts. `due` keeps
        // its capacity from tick to tick.
        try {
            core->for_each_live([&](detail::Session& s) {
                if (s.idle_check_due(now)) due.push_back(s.shared_from_this());
            });
        } catch (...) {
            // Out of memory growing `due`: those collected are still checked; the rest next tick.
        }
        for (auto& s : due) s->check_idle(now);
        due.clear();
    }
}

void Server::Impl::run_thread() {
    for (;;) {
        try {
            ioc.run();
            return;
        } catch (...) {
            // Coroutines catch their own exceptions; this only guards the thread itself.
        }
    }
}

Server::Server(ServerOptions options, TlsIdentity tls, Handler& handler, HttpRoute route)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(tls), handler, std::move(route))) {
}

Server::~Server() {
    shutdown();
}

Result<void> Server::start() {
    auto& im = *impl_;
    if (im.started) return make_error(ErrorCode::kInternal, "server already started");
    // Zero would close every connection as it is accepted (the deadline expires at once); the
    // config file refuses it, and so does the library.
    if (im.core->opts.handshake_timeout.count() <= 0) {
        return make_error(ErrorCode::kMalformed, "handshake_timeout must be positive");
    }
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(im.core->opts.host, ec);
    if (ec) return make_error(ErrorCode::kMalformed, "host is not an IP address");
    tcp::endpoint ep(addr, im.core->opts.port);
    im.acceptor.open(ep.protocol(), ec);
    if (!ec) im.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) im.acceptor.bind(ep, ec);
    if (!ec) im.acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        boost::system::error_code ignored;
        im.acceptor.close(ignored);
        return make_error(ErrorCode::kInternal, "cannot listen on host:port");
    }
    im.bound_port = im.acceptor.local_endpoint(ec).port();
    im.started = true;
    asio::co_spawn(im.acceptor.get_executor(), im.accept_loop(), [](const std::exception_ptr&) {});
    asio::co_spawn(asio::make_strand(im.ioc), im.idle_sweep(), [](const std::exception_ptr&) {});
    im.work.emplace(im.ioc.get_executor());
    const unsigned n = io_threads(im.core->opts);
    for (unsigned i = 0; i < n; ++i) {
        im.threads.emplace_back([&im] { im.run_thread(); });
        // Named so `top -H` and /proc/PID/task/*/comm tell the io threads from the store's;
        // named here rather than by the thread itself, so all are named once start() returns.
        pthread_setname_np(im.threads.back().native_handle(), "pp-net-io");
    }
    return {};
}

std::uint16_t Server::port() const {
    return impl_->bound_port;
}

void Server::stop_accepting() {
    auto& im = *impl_;
    if (!im.started) return;
    // The acceptor lives on its strand; closing it there cancels the pending accept.
    auto done = std::make_shared<std::promise<void>>();
    auto fut = done->get_future();
    asio::post(im.acceptor.get_executor(), [&im, done] {
        boost::system::error_code ignored;
        im.acceptor.close(ignored);
        done->set_value();
    });
    fut.wait_for(kShutdownGrace);
}

void Server::shutdown() {
    auto& im = *impl_;
    if (!im.started || im.stopped) return;
    im.stopped = true;
    stop_accepting();
    // Politely first (close 1001 going away), then drop whatever has not finished.
    for (auto& s : im.core->snapshot()) s->close_with(WsCloseCode::kGoingAway);
    if (!im.core->wait_all_closed(kShutdownGrace)) {
        for (auto& s : im.core->snapshot()) s->abort();
        im.core->wait_all_closed(kShutdownGrace);
    }
    im.work.reset();
    im.ioc.stop();
    for (auto& t : im.threads) t.join();
    im.threads.clear();
}

Server::Counters Server::counters() const {
    const auto& c = impl_->core->counters;
    Counters out;
    out.connections_open = c.connections_open.load();
    out.connections_total = c.connections_total.load();
    out.handshake_failures = c.handshake_failures.load();
    out.frames_in = c.frames_in.load();
    out.frames_out = c.frames_out.load();
    out.bytes_in = c.bytes_in.load();
    out.bytes_out = c.bytes_out.load();
    out.rejected_over_limit = c.rejected_over_limit.load();
    return out;
}

}  // namespace pp::net

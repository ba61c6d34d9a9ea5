#include "relay/socks5/session.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <cerrno>
#include <cstring>

#include "relay/socks5/asio_addresses.hpp"
#include "relay/socks5/reply_codes.hpp"
#include "relay/socks5/udp_association.hpp"

namespace pp::relay::socks5 {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
// Big enough for the largest message of the negotiation (513 bytes of RFC 1929 credentials)
// plus a request pipelined behind it.
constexpr std::size_t kHandshakeBuffer = 1024;
// The least time one address of several gets to answer a connect.
constexpr std::chrono::seconds kMinAttempt{2};
// Bytes one direction may move per wakeup before it yields the io thread.
constexpr std::size_t kPumpBudget = 4 << 20;

template <typename Endpoint>
Address to_address(const Endpoint& ep) {
    const auto a = ep.address();
    if (a.is_v4()) return Address::ipv4(a.to_v4().to_bytes(), ep.port());
    return Address::ipv6(a.to_v6().to_bytes(), ep.port());
}

// Reads until `parse` says done or malformed; parsed bytes are dropped from the front of `buf`.
template <typename Parse>
asio::awaitable<decltype(std::declval<Parse>()(ByteView{}))> read_message(
    tcp::socket& s, std::array<std::uint8_t, kHandshakeBuffer>& buf, std::size_t& len,
    Parse parse) {
    for (;;) {
        auto p = parse(ByteView(buf.data(), len));
        if (p.status == Status::kDone) {
            std::memmove(buf.data(), buf.data() + p.consumed, len - p.consumed);
            len -= p.consumed;
        }
        if (p.status != Status::kNeedMore) co_return p;
        if (len == buf.size()) {
            p.status = Status::kMalformed;
            p.error = "handshake message too long";
            co_return p;
        }
        auto [ec, n] =
            co_await s.async_read_some(asio::buffer(buf.data() + len, buf.size() - len), kUseTuple);
        if (ec) {
            p.status = Status::kMalformed;
            p.error = "connection closed during the handshake";
            co_return p;
        }
        len += n;
    }
}

}  // namespace

Session::Session(std::shared_ptr<ServerState> state, Socket client)
    : state_(std::move(state)),
      client_(std::move(client)),
      upstream_(client_.get_executor()),
      timer_(client_.get_executor()) {}

Session::~Session() {
    PipePool::discard(up_.pipe);
    PipePool::discard(down_.pipe);
    state_->metrics.connections_open.fetch_sub(1, std::memory_order_relaxed);
    if (user_) user_->connections_open.fetch_sub(1, std::memory_order_relaxed);
    if (registered_) {
        std::lock_guard lock(state_->sessions_mutex);
        state_->sessions.erase(registry_pos_);
    }
}

void Session::start() {
    {
        std::lock_guard lock(state_->sessions_mutex);
        if (state_->stopping) return;
        registry_pos_ = state_->sessions.insert(state_->sessions.end(), weak_from_this());
        registered_ = true;
    }
    asio::co_spawn(client_.get_executor(), negotiate(),
                   [self = shared_from_this()](std::exception_ptr e) {
                       // Nothing in negotiate() throws by design (every operation reports an
                       // error code); if something does, the connection ends, not the daemon.
                       if (e) self->close();
                   });
}

void Session::close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    client_.close(ignored);
    upstream_.close(ignored);
    timer_.cancel();
    if (lookup_wait_) lookup_wait_->cancel();
    if (udp_) udp_->close();
}

// One timer serves as the handshake deadline, the connect deadline and the idle watchdog; the
// generation number makes a stale expiry (already queued when the timer was re-armed) harmless.
void Session::arm_deadline(Clock::duration d, bool close_client) {
    // A timer armed after close() would keep the io_context busy for its whole duration.
    if (closed_) return;
    const unsigned gen = ++timer_generation_;
    deadline_hit_ = false;
    timer_.expires_after(d);
    timer_.async_wait([self = shared_from_this(), gen, close_client](boost::system::error_code ec) {
        if (ec || gen != self->timer_generation_ || self->closed_) return;
        self->deadline_hit_ = true;
        boost::system::error_code ignored;
        if (close_client)
            self->close();
        else
            self->upstream_.close(ignored);  // fails the pending connect; the client gets 0x06
    });
}

std::int64_t Session::adopt_user(std::shared_ptr<Metrics::UserCounters> user) {
    user_ = std::move(user);
    user_->connections_total.fetch_add(1, std::memory_order_relaxed);
    return user_->connections_open.fetch_add(1, std::memory_order_relaxed);
}

// GCC 12 destroys some temporaries of a co_await expression twice, so callers pass named
// objects only (or nothing: an all-zero IPv4 address, as RFC 1928 failure replies carry).
asio::awaitable<bool> Session::send_reply(ReplyCode code, const Address* bound) {
    Buffer out;
    out.reserve(22);
    (void)encode_reply(out, Reply{code, bound ? *bound : Address{}});
    auto [ec, n] = co_await asio::async_write(client_, asio::buffer(out), kUseTuple);
    (void)n;
    co_return !ec;
}

asio::awaitable<void> Session::negotiate() {
    auto& cfg = state_->config.socks5;
    auto& metrics = state_->metrics;
    arm_deadline(cfg.handshake_timeout, true);
    std::array<std::uint8_t, kHandshakeBuffer> buf;
    std::size_t len = 0;

    auto greeting = co_await read_message(client_, buf, len, parse_greeting);
    if (greeting.status != Status::kDone) {
        metrics.socks5_handshake_failures.fetch_add(1, std::memory_order_relaxed);
        close();
        co_return;
    }
    Method method = Method::kNoAcceptable;
    if (greeting.value.offers(Method::kUserPass) && state_->users.size() > 0)
        method = Method::kUserPass;
    else if (cfg.allow_no_auth && greeting.value.offers(Method::kNoAuth))
        method = Method::kNoAuth;
    {
        Buffer out;
        encode_method_selection(out, method);
        auto [ec, n] = co_await asio::async_write(client_, asio::buffer(out), kUseTuple);
        (void)n;
        if (ec || method == Method::kNoAcceptable) {
            metrics.socks5_handshake_failures.fetch_add(1, std::memory_order_relaxed);
            close();
            co_return;
        }
    }

    std::int64_t open_before = 0;
    if (method == Method::kUserPass) {
        auto creds = co_await read_message(client_, buf, len, parse_credentials);
        bool ok = creds.status == Status::kDone &&
                  state_->users.authenticate(creds.value.user, creds.value.password);
        sodium_memzero(creds.value.password.data(), creds.value.password.size());
        // What follows the credentials was moved to the front; wipe the rest, where they were.
        sodium_memzero(buf.data() + len, buf.size() - len);
        // The user is counted in the moment it is attached: ~Session gives back exactly what
        // was taken, whichever way the session ends from here (even if the reply cannot be sent).
        if (ok) {
            open_before = adopt_user(metrics.user(creds.value.user));
            lookup_key_ = reinterpret_cast<std::uintptr_t>(user_.get());
        }
        Buffer out;
        encode_auth_reply(out, ok);
        auto [ec, n] = co_await asio::async_write(client_, asio::buffer(out), kUseTuple);
        (void)n;
        if (!ok) {
            (creds.status == Status::kDone ? metrics.socks5_auth_failures
                                           : metrics.socks5_handshake_failures)
                .fetch_add(1, std::memory_order_relaxed);
            close();
            co_return;
        }
        if (ec) {
            close();
            co_return;
        }
    } else {
        open_before = adopt_user(metrics.user("anonymous"));
        // No user to hold to a share of the name lookups: each client address gets its own.
        boost::system::error_code ec;
        const auto peer = client_.remote_endpoint(ec);
        lookup_key_ = (std::uint64_t{1} << 63) |
                      std::hash<std::string>{}(ec ? std::string() : peer.address().to_string());
    }

    auto request = co_await read_message(client_, buf, len, parse_request);
    if (request.status == Status::kAddressTypeNotSupported) {
        metrics.socks5_handshake_failures.fetch_add(1, std::memory_order_relaxed);
        co_await send_reply(ReplyCode::kAddressTypeNotSupported);
        close();
        co_return;
    }
    if (request.status != Status::kDone) {
        metrics.socks5_handshake_failures.fetch_add(1, std::memory_order_relaxed);
        close();
        co_return;
    }
    // The per-user limit keeps one user's share of a relay fair. Without authentication there
    // is no user to be fair to: an open relay is bounded by the global cap alone.
    if (method == Method::kUserPass &&
        open_before >= static_cast<std::int64_t>(cfg.max_connections_per_user)) {
        metrics.socks5_denied.fetch_add(1, std::memory_order_relaxed);
        co_await send_reply(ReplyCode::kNotAllowed);
        close();
        co_return;
    }
    const auto cmd = request.value.command;
    if (cmd == static_cast<std::uint8_t>(Command::kConnect)) {
        co_await connect(request.value.destination, ByteView(buf.data(), len));
        co_return;
    }
    if (cmd == static_cast<std::uint8_t>(Command::kUdpAssociate) && cfg.udp_associate) {
        boost::system::error_code ec;
        const auto local = client_.local_endpoint(ec);
        const auto peer = client_.remote_endpoint(ec);
        if (ec) {
            close();
            co_return;
        }
        udp_ = std::make_unique<UdpAssociation>(state_, client_.get_executor(), user_, lookup_key_);
        auto bound = udp_->open(local.address(), peer.address(), request.value.destination);
        if (!bound) {
            co_await send_reply(ReplyCode::kGeneralFailure);
            close();
            co_return;
        }
        const Address bound_address = to_address(*bound);
        if (!co_await send_reply(ReplyCode::kSucceeded, &bound_address)) {
            close();
            co_return;
        }
        if (closed_) co_return;
        timer_generation_++;  // the handshake deadline is over
        timer_.cancel();
        udp_->start([weak = weak_from_this()] {
            if (auto self = weak.lock()) self->close();
        });
        // The association lives as long as the control connection: wait for its EOF or error
        // (anything the client sends on it is read and ignored).
        for (;;) {
            auto [rec, n] = co_await client_.async_read_some(asio::buffer(buf), kUseTuple);
            (void)n;
            if (rec) break;
        }
        close();
        co_return;
    }
    // BIND is not offered: reply 0x07 like for any other command we do not carry.
    co_await send_reply(ReplyCode::kCommandNotSupported);
    close();
}

asio::awaitable<void> Session::connect(const Address& dst, ByteView early) {
    auto& cfg = state_->config.socks5;
    auto& metrics = state_->metrics;
    const auto& policy = state_->policy;
    // The client's negotiation is over; what is left is our resolve + connect budget.
    arm_deadline(cfg.connect_timeout, false);

    std::vector<tcp::endpoint> candidates;
    bool denied = false;
    ReplyCode failure = ReplyCode::kGeneralFailure;
    if (dst.type == AddressType::kDomain) {
        if (!DestinationPolicy::host_name_valid(dst.domain)) {
            failure = ReplyCode::kHostUnreachable;
        } else if (!policy.host_allowed(dst.domain)) {
            denied = true;
        } else {
            // Bounded by the connect deadline: a name whose DNS never answers costs this
            // client its budget, not everyone else their lookups.
            std::string host = dst.domain;
            auto answer = co_await state_->lookups.lookup(std::move(host), lookup_key_,
                                                          cfg.connect_timeout, &lookup_wait_);
            if (closed_) co_return;
            if (answer.outcome == LookupService::Outcome::kTimedOut) {
                deadline_hit_ = true;
            } else if (answer.outcome == LookupService::Outcome::kBusy) {
                failure = ReplyCode::kGeneralFailure;
            } else {
                const bool via_allowed = policy.host_explicitly_allowed(dst.domain);
                for (const auto& a : answer.addresses) {
                    if (policy.address_allowed(to_ip(a), via_allowed))
                        candidates.emplace_back(a, dst.port);
                    else
                        denied = true;
                }
                if (answer.addresses.empty()) failure = ReplyCode::kHostUnreachable;
            }
        }
    } else {
        const auto a = to_asio(dst);
        if (policy.address_allowed(to_ip(a)))
            candidates.emplace_back(a, dst.port);
        else
            denied = true;
    }
    if (candidates.empty() && denied) failure = ReplyCode::kNotAllowed;

    // Each address gets a share of the budget (at least kMinAttempt), so a blackholed first
    // address does not burn all of it while a later one would have answered at once.
    const auto attempt_budget =
        candidates.empty()
            ? Clock::duration(cfg.connect_timeout)
            : std::min<Clock::duration>(
                  cfg.connect_timeout,
                  std::max<Clock::duration>(kMinAttempt, cfg.connect_timeout / candidates.size()));
    bool connected = false;
    for (const auto& ep : candidates) {
        if (closed_ || deadline_hit_) break;
        boost::system::error_code ec;
        upstream_.close(ec);
        upstream_.open(ep.protocol(), ec);
        if (ec) {
            failure = ReplyCode::kGeneralFailure;
            continue;
        }
        bool attempt_expired = false;
        asio::steady_timer attempt(client_.get_executor());
        attempt.expires_after(attempt_budget);
        const unsigned gen = ++attempt_generation_;
        attempt.async_wait(
            [self = shared_from_this(), gen, &attempt_expired](boost::system::error_code tec) {
                if (tec || gen != self->attempt_generation_ || self->closed_) return;
                attempt_expired = true;  // still in the frame: the generation matched
                boost::system::error_code ignored;
                self->upstream_.close(ignored);
            });
        auto [cec] = co_await upstream_.async_connect(ep, kUseTuple);
        ++attempt_generation_;  // a late expiry must not close the next attempt's socket
        attempt.cancel();
        if (!cec) {
            connected = true;
            break;
        }
        failure = attempt_expired ? ReplyCode::kTtlExpired : reply_for_connect_errno(cec.value());
    }
    if (closed_) co_return;
    if (deadline_hit_) failure = ReplyCode::kTtlExpired;
    if (!connected) {
        (failure == ReplyCode::kNotAllowed ? metrics.socks5_denied : metrics.socks5_connects_failed)
            .fetch_add(1, std::memory_order_relaxed);
        co_await send_reply(failure);
        close();
        co_return;
    }
    timer_generation_++;
    timer_.cancel();
    metrics.socks5_connects_ok.fetch_add(1, std::memory_order_relaxed);

    boost::system::error_code ec;
    const Address bound = to_address(upstream_.local_endpoint(ec));
    if (ec || !co_await send_reply(ReplyCode::kSucceeded, &bound)) {
        close();
        co_return;
    }
    // Bytes the client sent right behind its request go first.
    if (!early.empty()) {
        auto [wec, n] = co_await asio::async_write(
            upstream_, asio::buffer(early.data(), early.size()), kUseTuple);
        if (wec) {
            close();
            co_return;
        }
        user_->bytes_up.fetch_add(n, std::memory_order_relaxed);
    }
    start_pump();
}

void Session::start_pump() {
    if (closed_) return;  // stop() got in while the reply was being written
    boost::system::error_code ec;
    client_.set_option(tcp::no_delay(true), ec);
    upstream_.set_option(tcp::no_delay(true), ec);
    client_.native_non_blocking(true, ec);
    upstream_.native_non_blocking(true, ec);
    up_ = Direction{&client_, &upstream_, {}, 0, false, false, false, &user_->bytes_up};
    down_ = Direction{&upstream_, &client_, {}, 0, false, false, false, &user_->bytes_down};
    last_activity_ = Clock::now();
    arm_idle_timer();
    pump(up_);
    pump(down_);
}

// Moves bytes from `d.from` to `d.to` through a pipe until the source has nothing more or the
// destination is full, then waits for readiness. The pipe goes back to the pool whenever it is
// empty and the source has nothing to give, so an idle direction holds no pipe.
void Session::pump(Direction& d) {
    auto& pipes = state_->pipes;
    std::size_t moved = 0;  // this wakeup's bytes, for the fairness yield below
    for (;;) {
        if (closed_) return;
        if (d.in_pipe > 0) {
            const ssize_t n = ::splice(d.pipe.read_fd, nullptr, d.to->native_handle(), nullptr,
                                       d.in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n > 0) {
                d.in_pipe -= static_cast<std::size_t>(n);
                d.bytes->fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
                last_activity_ = Clock::now();
                moved += static_cast<std::size_t>(n);
                // One fast tunnel must not hold an io thread while others wait: past a budget
                // the rest of the work goes to the back of the queue.
                if (moved >= kPumpBudget && d.in_pipe == 0) {
                    asio::post(client_.get_executor(),
                               [self = shared_from_this(), &d] { self->pump(d); });
                    return;
                }
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && errno == EAGAIN) {
                d.to->async_wait(tcp::socket::wait_write,
                                 [self = shared_from_this(), &d](boost::system::error_code ec) {
                                     if (ec) return self->close();
                                     self->pump(d);
                                 });
                return;
            }
            return close();  // the destination is gone
        }
        if (d.eof) {
            // Half-close: the other direction keeps flowing until it ends too.
            pipes.release(d.pipe);
            ::shutdown(d.to->native_handle(), SHUT_WR);
            d.finished = true;
            return finish_if_done();
        }
        if (d.source_drained) {
            d.source_drained = false;
            wait_readable(d);
            return;
        }
        if (!d.pipe) {
            d.pipe = pipes.acquire();
            if (!d.pipe) return close();
        }
        const std::size_t chunk = d.pipe.capacity;
        const ssize_t n = ::splice(d.from->native_handle(), nullptr, d.pipe.write_fd, nullptr,
                                   chunk, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) {
            d.in_pipe = static_cast<std::size_t>(n);
            // Less than asked for: the receive queue is most likely empty now. Once the pipe is
            // drained, wait for readiness instead of paying a splice that returns EAGAIN (the
            // reactor re-arms the descriptor, so bytes that came meanwhile still wake us).
            d.source_drained = static_cast<std::size_t>(n) < chunk;
            last_activity_ = Clock::now();
            continue;
        }
        if (n == 0) {
            d.eof = true;
            continue;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN) {
            wait_readable(d);
            return;
        }
        return close();  // reset or another error on the source
    }
}

// The pipe is empty here: back to the pool, so an idle direction holds none.
void Session::wait_readable(Direction& d) {
    state_->pipes.release(d.pipe);
    d.from->async_wait(tcp::socket::wait_read,
                       [self = shared_from_this(), &d](boost::system::error_code ec) {
                           if (ec) return self->close();
                           self->pump(d);
                       });
}

void Session::finish_if_done() {
    if (up_.finished && down_.finished) close();
}

// Wakes once per idle period, not per byte: the pump only stamps last_activity_.
void Session::arm_idle_timer() {
    if (closed_) return;
    const auto idle = state_->config.socks5.idle_timeout;
    const unsigned gen = ++timer_generation_;
    timer_.expires_at(last_activity_ + idle);
    timer_.async_wait([self = shared_from_this(), gen](boost::system::error_code ec) {
        if (ec || gen != self->timer_generation_ || self->closed_) return;
        if (Clock::now() - self->last_activity_ >= self->state_->config.socks5.idle_timeout)
            return self->close();
        self->arm_idle_timer();
    });
}

}  // namespace pp::relay::socks5

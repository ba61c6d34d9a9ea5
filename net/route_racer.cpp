#include "net/route_racer.hpp"

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "net/client_common.hpp"
#include "net/detached_lookup.hpp"
#include "net/proxy_handshake.hpp"
#include "net/relay_client.hpp"

namespace pp::net::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

milliseconds since(Clock::time_point t) {
    return std::chrono::duration_cast<milliseconds>(Clock::now() - t);
}

bool is_timeout(const Error& e) {
    return e.code == ErrorCode::kLimitExceeded && e.detail == kTimedOutDetail;
}

// One route's attempt. Owned jointly by the race and the attempt's coroutine; it owns whatever
// I/O object the attempt is waiting on, so that stop() can reach it.
struct Attempt {
    explicit Attempt(std::size_t i, asio::any_io_executor ex) : index(i), timer(ex) {}

    std::size_t index;
    Clock::time_point started{};
    bool done = false;  // its report is final: finished, cancelled or timed out
    bool cancelled = false;
    bool timed_out = false;
    std::shared_ptr<PinCheck> pin = std::make_shared<PinCheck>();
    asio::steady_timer timer;  // the attempt's own deadline
    std::shared_ptr<PendingLookup> lookup;
    std::optional<tcp::socket> socket;
    int relay_fd = -1;  // the socket while relay_handshake() owns it
    std::unique_ptr<RouteWs> ws;

    bool stopped() const { return cancelled || timed_out; }

    // Ends whatever the attempt is waiting on: each pending operation completes with an error.
    void stop() {
        error_code ignored;
        timer.cancel();
        // The lookup's thread goes on (getaddrinfo cannot be cancelled); the wait ends now.
        if (lookup) lookup->cancel();
        if (socket) socket->close(ignored);
        // relay_handshake() owns the socket (the descriptor stays valid until it returns, and
        // it returns straight into the attempt, which clears relay_fd): shutting the
        // connection down makes its pending read or write fail at once.
        if (relay_fd >= 0) ::shutdown(relay_fd, SHUT_RDWR);
        if (ws) beast::get_lowest_layer(*ws).close();
    }

    // The error of an attempt whose last operation failed with `ec`.
    Error failure(const error_code& ec) const {
        if (pin->mismatch) return to_error(ec, pin.get());
        if (timed_out) return make_error(ErrorCode::kLimitExceeded, kTimedOutDetail);
        if (cancelled) return make_error(ErrorCode::kNoSession, kCancelledDetail);
        return to_error(ec, nullptr);
    }
    Error stop_error() const { return failure(asio::error::operation_aborted); }
};

class Race final : public RouteRace, public std::enable_shared_from_this<Race> {
  public:
    Race(asio::io_context& ioc, std::shared_ptr<asio::ssl::context> ctx, RaceRequest request)
        : ioc_(ioc),
          ctx_(std::move(ctx)),
          req_(std::move(request)),
          reports_(req_.routes.size()),
          wake_(ioc),
          deadline_(ioc) {
        if (req_.host_header.empty()) req_.host_header = req_.server.host;
        target_ = req_.server.host + ":" + std::to_string(req_.server.port);
    }

    void begin() {
        start_ = Clock::now();
        if (req_.routes.empty()) {
            finish(make_error(ErrorCode::kMalformed, "no routes to the server"));
            return;
        }
        deadline_.expires_after(req_.options.timeout);
        deadline_.async_wait([weak = weak_from_this()](const error_code& ec) {
            auto self = weak.lock();
            if (ec || !self || self->finished()) return;
            self->abort();
        });
        asio::co_spawn(ioc_, drive(shared_from_this()), [](std::exception_ptr) {});
    }

    bool finished() const override { return result_.has_value(); }
    Result<RaceWin> take_result() override {
        Result<RaceWin> r = std::move(*result_);
        result_ = make_error(ErrorCode::kInternal, "race result already taken");
        return r;
    }
    const std::vector<AttemptReport>& reports() const override { return reports_; }

    void abort() override {
        if (finished()) return;
        for (auto& a : attempts_) {
            if (a->done) continue;
            a->timed_out = true;
            end_attempt(*a, make_error(ErrorCode::kLimitExceeded, kTimedOutDetail), true);
            // An attempt that had its full attempt_timeout failed (the caller backs its route
            // off); one started late and cut short by the race's end only ran out of luck.
            reports_[a->index].cancelled = since(a->started) < req_.options.attempt_timeout;
        }
        finish(best_error());
    }

  private:
    // Starts the routes in order: each one `stagger` after the previous one, or at once when
    // every started route has failed.
    static asio::awaitable<void> drive(std::shared_ptr<Race> self) {
        for (std::size_t i = 0; i < self->req_.routes.size(); ++i) {
            if (self->finished()) co_return;
            if (i > 0 && !self->all_started_failed()) {
                self->wake_.expires_at(self->last_start_ + self->req_.options.stagger);
                co_await self->wake_.async_wait(kTok);  // cancelled: an attempt failed
                if (self->finished()) co_return;
            }
            self->launch(i);
        }
    }

    bool all_started_failed() const {
        for (const auto& a : attempts_) {
            if (!a->done) return false;
        }
        return true;
    }

    void launch(std::size_t i) {
        auto a = std::make_shared<Attempt>(i, ioc_.get_executor());
        a->started = last_start_ = Clock::now();
        a->pin->expected = req_.server.pin;
        reports_[i].started = true;
        attempts_.push_back(a);
        a->timer.expires_after(req_.options.attempt_timeout);
        a->timer.async_wait([a](const error_code& ec) {
            if (ec || a->done) return;
            a->timed_out = true;
            a->stop();
        });
        auto self = shared_from_this();
        asio::co_spawn(ioc_, run(self, a), [self, a](std::exception_ptr e) {
            // Nothing in run() should throw; if something does, the attempt just failed.
            if (e)
                self->attempt_ended(*a, make_error(ErrorCode::kInternal, "route attempt failed"));
        });
    }

    static asio::awaitable<void> run(std::shared_ptr<Race> self, std::shared_ptr<Attempt> a) {
        auto r = co_await self->steps(*a);
        self->attempt_ended(*a, std::move(r));
    }

    asio::awaitable<Result<std::unique_ptr<RouteWs>>> steps(Attempt& a) {
        const Route& route = req_.routes[a.index];
        const bool relay = route.kind == RouteKind::kRelay;
        const std::string& host = relay ? route.relay.host : route.host;
        const std::uint16_t port = relay ? route.relay.port : route.port;
        auto ex = co_await asio::this_coro::executor;

        // A proxy's or relay's own name is looked up here (detached_lookup.hpp: a stalled one
        // holds up no other route); the server's name never is, except for a direct route.
        a.lookup = std::make_shared<PendingLookup>(ex);
        auto [rec, endpoints] = co_await detail::lookup(req_.lookups, a.lookup, host, port);
        a.lookup.reset();
        if (a.stopped() || rec) co_return a.failure(rec);
        a.socket.emplace(ex);
        auto [cec, ep] = co_await asio::async_connect(*a.socket, endpoints, kTok);
        if (a.stopped() || cec) co_return a.failure(cec);
        error_code ignored;
        a.socket->set_option(tcp::no_delay(true), ignored);

        if (route.kind == RouteKind::kSocks5 || route.kind == RouteKind::kHttpConnect) {
            Result<void> tunnel;
            if (route.kind == RouteKind::kSocks5) {
                tunnel = co_await socks5_handshake(*a.socket, route, req_.server);
            } else {
                tunnel = co_await http_connect_handshake(*a.socket, route, req_.server);
            }
            if (a.stopped()) co_return a.stop_error();
            if (!tunnel) co_return tunnel.error();
        }

        std::optional<RouteStream> stream;
        if (relay) {
            const auto spent = since(a.started);
            const auto left = spent < req_.options.attempt_timeout
                                  ? req_.options.attempt_timeout - spent
                                  : milliseconds(1);
            a.relay_fd = a.socket->native_handle();
            auto tunnel =
                co_await relay_handshake(std::move(*a.socket), route.relay, target_, left);
            a.relay_fd = -1;
            a.socket.reset();
            if (a.stopped()) co_return a.stop_error();
            if (!tunnel) co_return tunnel.error();
            stream.emplace(std::move(*tunnel));
        } else {
            stream.emplace(std::move(*a.socket));
            a.socket.reset();
        }

        try {
            a.ws = std::make_unique<RouteWs>(std::move(*stream), *ctx_);
        } catch (...) {
            co_return make_error(ErrorCode::kInternal, "client setup failed");
        }
        auto& tls = a.ws->next_layer();
        tls.set_verify_callback([pin = a.pin](bool pre, asio::ssl::verify_context& vc) {
            return verify_pinned(*pin, pre, vc);
        });
        set_sni(tls.native_handle(), req_.server.host);
        a.ws->read_message_max(req_.max_frame_bytes);
        auto [hec] = co_await tls.async_handshake(asio::ssl::stream_base::client, kTok);
        if (a.stopped() || hec) co_return a.failure(hec);
        auto [wec] = co_await a.ws->async_handshake(req_.host_header, req_.ws_target, kTok);
        if (a.stopped() || wec) co_return a.failure(wec);
        co_return std::move(a.ws);
    }

    void attempt_ended(Attempt& a, Result<std::unique_ptr<RouteWs>> r) {
        a.timer.cancel();
        if (a.done) {
            // Cancelled or timed out already; a connection that got through anyway is dropped.
            if (r && *r) beast::get_lowest_layer(**r).close();
            return;
        }
        if (!r) {
            end_attempt(a, r.error(), false);
            if (all_started_failed()) {
                if (attempts_.size() == req_.routes.size()) {
                    finish(best_error());
                } else {
                    wake_.cancel();  // the next route starts now
                }
            }
            return;
        }
        a.done = true;
        reports_[a.index].won = true;
        reports_[a.index].elapsed = since(a.started);
        for (auto& other : attempts_) {
            if (other->done) continue;
            other->cancelled = true;
            end_attempt(*other, make_error(ErrorCode::kNoSession, kCancelledDetail), true);
        }
        finish(RaceWin{std::move(*r), a.index});
    }

    // Makes the attempt's report final; `stop` also ends what it is waiting on.
    void end_attempt(Attempt& a, Error e, bool stop) {
        a.done = true;
        auto& rep = reports_[a.index];
        rep.error = e;
        rep.cancelled = stop;
        rep.elapsed = since(a.started);
        if (stop) a.stop();
    }

    // kUntrustedIdentity for the server first: someone on the path showed another certificate
    // in its place. Then the first route's own error in order of preference (a relay whose own
    // certificate changed among them), then a timeout.
    Error best_error() const {
        for (const auto& rep : reports_) {
            if (rep.started && !rep.won && rep.error.code == ErrorCode::kUntrustedIdentity &&
                rep.error.detail != kRelayPinMismatchDetail) {
                return rep.error;
            }
        }
        for (const auto& rep : reports_) {
            if (rep.started && !rep.won && !rep.cancelled && !is_timeout(rep.error)) {
                return rep.error;
            }
        }
        return make_error(ErrorCode::kLimitExceeded, kTimedOutDetail);
    }

    void finish(Result<RaceWin> r) {
        if (finished()) return;
        result_.emplace(std::move(r));
        wake_.cancel();
        deadline_.cancel();
    }

    asio::io_context& ioc_;
    std::shared_ptr<asio::ssl::context> ctx_;
    RaceRequest req_;
    std::string target_;  // "host:port" of the server, as proxies and relays are asked for it
    std::vector<AttemptReport> reports_;
    std::vector<std::shared_ptr<Attempt>> attempts_;
    asio::steady_timer wake_;      // the driver's wait for the next start
    asio::steady_timer deadline_;  // the whole race
    Clock::time_point start_{};
    Clock::time_point last_start_{};
    std::optional<Result<RaceWin>> result_;
};

}  // namespace

std::shared_ptr<RouteRace> RouteRace::start(asio::io_context& ioc,
                                            std::shared_ptr<asio::ssl::context> ctx,
                                            RaceRequest request) {
    // Lookups post their answers through the gate; a caller without one gets its own, never
    // closed, which is safe only while `ioc` outlives every lookup (WsClient passes its own).
    if (!request.lookups) request.lookups = std::make_shared<LookupGate>(ioc.get_executor());
    auto race = std::make_shared<Race>(ioc, std::move(ctx), std::move(request));
    race->begin();
    return race;
}

}  // namespace pp::net::detail

// Session keep-alive: what Beast's idle timer did (ping a peer silent for half the idle timeout,
// drop one silent for all of it, bound a close handshake), driven by one sweep over all
// sessions instead of a timer per connection that is re-armed on every read. A close is bounded
// by the handshake timeout from when it began, also when it cannot begin on the wire because
// the writer is stuck behind a peer that reads nothing.
#include <boost/asio/post.hpp>

#include "net/session.hpp"

namespace pp::net::detail {

namespace {
using Clock = std::chrono::steady_clock;

Clock::duration since(Clock::time_point now, Clock::rep ticks) {
    return now - Clock::time_point(Clock::duration(ticks));
}
}  // namespace

bool Session::idle_limited() const noexcept {
    return core_->opts.idle_timeout.count() > 0;  // 0: no idle timeout, no pings
}

bool Session::close_overdue(Clock::time_point now) const noexcept {
    const auto closing = closing_since_.load(std::memory_order_relaxed);
    return closing != 0 && core_->opts.handshake_timeout.count() > 0 &&
           since(now, closing) >= core_->opts.handshake_timeout;
}

bool Session::idle_check_due(Clock::time_point now) const noexcept {
    const auto heard = last_heard_.load(std::memory_order_relaxed);
    if (heard == 0) return false;  // not a WebSocket (yet): the handshake deadline applies
    return close_overdue(now) ||
           (idle_limited() && since(now, heard) >= core_->opts.idle_timeout / 2);
}

void Session::check_idle(Clock::time_point now) noexcept {
    try {
        asio::post(ws_.get_executor(), [self = shared_from_this(), now] { self->on_idle(now); });
    } catch (...) {
        // Not posted (out of memory): the next sweep asks again.
    }
}

void Session::on_idle(Clock::time_point now) {
    if (phase_ != Phase::kOpen) return;  // the session is over: its socket is closed already
    const auto heard = last_heard_.load(std::memory_order_relaxed);
    const auto silence = since(now, heard);
    if ((idle_limited() && silence >= core_->opts.idle_timeout) || close_overdue(now)) {
        // The peer is gone (not even a pong), or a close did not finish in time (the peer
        // reads nothing, so our close frame cannot go out, or it never answers ours). The
        // pending read fails and run() ends the session.
        tls().close();
        return;
    }
    const bool closing = closing_since_.load(std::memory_order_relaxed) != 0;
    // Closing: no ping; the close handshake's own deadline above applies.
    if (closing || !idle_limited() || silence < core_->opts.idle_timeout / 2 ||
        pinged_for_ == heard || ping_in_flight_) {
        return;
    }
    try {
        // Beast allows one ping at a time; its pong, like any frame, updates last_heard_.
        ws_.async_ping({}, [self = shared_from_this()](const boost::system::error_code&) {
            self->ping_in_flight_ = false;
        });
        pinged_for_ = heard;
        ping_in_flight_ = true;
    } catch (...) {
        tls().close();  // the operation could not be allocated: as for a lost frame
    }
}

}  // namespace pp::net::detail

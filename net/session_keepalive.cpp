// Session keep-alive: what a WebSocket idle timer does (ping a peer silent for half the idle
// timeout, drop one silent for all of it, bound a close handshake), driven by one sweep over all
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
        asio::post(tls_.get_executor(), [self = shared_from_this(), now] { self->on_idle(now); });
    } catch (...) {
        // Not posted (out of memory): the next sweep asks again.
    }
}

void Session::on_idle(Clock::time_point now) {
    // Not open yet, or over: the handshake deadline applies, or the socket is closed already.
    if (phase_ != Phase::kOpen && phase_ != Phase::kClosing) return;
    const auto heard = last_heard_.load(std::memory_order_relaxed);
    const auto silence = since(now, heard);
    if ((idle_limited() && silence >= core_->opts.idle_timeout) || close_overdue(now)) {
        // The peer is gone (not even a pong), or a close did not finish in time (the peer
        // reads nothing, so our close frame cannot go out; it never answers ours; or it never
        // closes TCP after). The pending read or write fails and run() ends the session.
        tls().close();
        // A close waiting for the writer stops waiting: the socket is gone either way.
        if (writer_done_) writer_done_->cancel();
        return;
    }
    const bool closing = closing_since_.load(std::memory_order_relaxed) != 0;
    // Closing: no ping; the close handshake's own deadline above applies.
    if (phase_ != Phase::kOpen || closing || !idle_limited() ||
        silence < core_->opts.idle_timeout / 2 || pinged_for_ == heard || ping_in_flight_) {
        return;
    }
    // One ping at a time; its pong, like any frame, updates last_heard_.
    pinged_for_ = heard;
    ping_in_flight_ = true;
    enqueue_control(WsOpcode::kPing, Bytes{});  // drops the connection if it cannot be queued
}

}  // namespace pp::net::detail

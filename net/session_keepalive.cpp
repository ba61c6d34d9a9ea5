// Session keep-alive: what Beast's idle timer did (ping a peer silent for half the idle timeout,
// drop one silent for all of it), driven by one sweep over all sessions instead of a timer per
// connection that is re-armed on every read.
#include <boost/asio/post.hpp>

#include "net/session.hpp"

namespace pp::net::detail {

namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

void Session::check_idle(Clock::time_point now) {
    const auto heard = last_heard_.load(std::memory_order_relaxed);
    if (heard == 0) return;  // not a WebSocket (yet): the handshake deadline applies
    if (now - Clock::time_point(Clock::duration(heard)) < core_->opts.idle_timeout / 2) return;
    try {
        asio::post(ws_.get_executor(), [self = shared_from_this(), now] { self->on_idle(now); });
    } catch (...) {
        // Not posted (out of memory): the next sweep asks again.
    }
}

void Session::on_idle(Clock::time_point now) {
    // Closing: Beast's close handshake has its own deadline (the handshake timeout).
    if (phase_ != Phase::kOpen || close_requested_) return;
    const auto heard = last_heard_.load(std::memory_order_relaxed);
    const auto silence = now - Clock::time_point(Clock::duration(heard));
    if (silence >= core_->opts.idle_timeout) {
        // Not even a pong: the peer is gone. The pending read fails and run() ends the session.
        tls().close();
        return;
    }
    if (silence < core_->opts.idle_timeout / 2 || pinged_for_ == heard || ping_in_flight_) return;
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

#include "net/session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "net/tls_impl.hpp"

namespace pp::net::detail {

namespace {
constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
// What a read asks for when a fragmented message's next frame is not yet known: a TLS record.
constexpr std::size_t kReadChunk = 16 * 1024;
std::string endpoint_string(const asio::ip::tcp::socket& s) {
    boost::system::error_code ec;
    auto ep = s.remote_endpoint(ec);
    if (ec) return "?";
    auto addr = ep.address();
    auto port = std::to_string(ep.port());
    return addr.is_v6() ? "[" + addr.to_string() + "]:" + port : addr.to_string() + ":" + port;
}
}  // namespace

Session::Session(std::shared_ptr<ServerCore> core, asio::ip::tcp::socket socket, std::uint64_t id)
    : core_(std::move(core)),
      ws_(std::move(socket), core_->tls.impl().ctx),
      id_(id),
      peer_(endpoint_string(tls().socket())) {}

void Session::launch(const std::shared_ptr<Session>& s) {
    // run() catches everything it can; the handler only sees what escapes a bad_alloc in the
    // coroutine machinery itself, and swallowing it keeps the io thread alive.
    asio::co_spawn(s->ws_.get_executor(), s->run(), [](const std::exception_ptr&) {});
}

void Session::spawn(asio::awaitable<void> op) {
    // An operation that dies of an exception (out of memory) would leave the connection
    // half-done (a close never sent): drop the socket instead.
    // The handler runs on the strand.
    asio::co_spawn(ws_.get_executor(), std::move(op),
                   [weak = weak_from_this()](const std::exception_ptr& e) {
                       if (!e) return;
                       if (auto self = weak.lock()) self->tls().close();
                   });
}

void Session::spawn_or_drop(asio::awaitable<void> (Session::*op)()) noexcept {
    try {
        spawn((this->*op)());
    } catch (...) {
        tls().close();  // allocates nothing; the pending read fails and run() ends the session
    }
}

void Session::arm_deadline(asio::steady_timer& timer, std::chrono::steady_clock::duration d) {
    const auto gen = ++deadline_gen_;
    timer.expires_after(d);  // cancels an earlier wait
    // The timer runs on the session's strand; a weak reference, so a pending deadline does not
    // keep a finished session alive.
    timer.async_wait([weak = weak_from_this(), gen](const boost::system::error_code& ec) {
        if (ec) return;
        auto self = weak.lock();
        if (self && self->deadline_gen_ == gen) self->tls().close();
    });
}

template <typename F>
bool Session::call_handler(F&& f) {
    // Handler code is not ours: an exception from it must not unwind through Asio.
    try {
        f();
        return true;
    } catch (...) {
        return false;
    }
}

asio::awaitable<void> Session::run() {
    auto self = shared_from_this();
    bool upgraded = false;
    try {
        upgraded = co_await handshake();
    } catch (...) {
        upgraded = false;
    }
    if (upgraded) {
        phase_ = Phase::kOpen;
        std::shared_ptr<Connection> conn = self;
        if (!call_handler([&] { core_->handler.on_open(conn); })) {
            request_close(websocket::close_code::internal_error);
        }
        // The read loop lives in this frame rather than in a coroutine of its own: every
        // frame is held for the connection's whole life.
        try {
            for (;;) {
                // Idle wait with a one-byte buffer: Beast reads the next data frame's header into
                // its own fixed read buffer (answering pings and handling a close on the way) and
                // hands us at most the first payload byte, so no message buffer exists while
                // nothing arrives. (Not an empty buffer: Beast 1.81 crashes validating UTF-8 of a
                // text frame into one.)
                std::uint8_t first = 0;
                auto [idle_ec, n] = co_await ws_.async_read_some(asio::buffer(&first, 1), kTok);
                // Includes message_too_big (Beast has already sent close 1009), the socket the
                // idle sweep closed and the peer's close: all end the connection the same way.
                if (idle_ec) break;
                heard();
                // The rest of the message is read straight into the frame handed to the
                // handler, which owns it from there: no buffer outlives the message, and its
                // bytes are not copied again. Beast has parsed the frame header by now and
                // checked it against the message size limit, so its hint is the rest of the
                // frame: one allocation of the exact size for a message of one frame.
                Bytes frame;
                if (!ws_.is_message_done()) frame.reserve(n + ws_.read_size_hint(kReadChunk));
                if (n == 1) frame.push_back(first);
                std::size_t filled = frame.size();
                bool failed = false;
                while (!ws_.is_message_done()) {
                    // Grown only, so each byte is zeroed once; a read may bring in less than
                    // asked (one TLS record), and the next asks for what is left.
                    const std::size_t want = ws_.read_size_hint(kReadChunk);
                    if (frame.size() < filled + want) frame.resize(filled + want);
                    auto [ec, got] = co_await ws_.async_read_some(
                        asio::buffer(frame.data() + filled, want), kTok);
                    if (ec) {
                        failed = true;
                        break;
                    }
                    heard();  // a large message arriving slowly is not silence
                    filled += got;
                    n += got;
                }
                if (failed) break;
                frame.resize(filled);
                if (lost_frame_.load(std::memory_order_relaxed))
                    request_close(websocket::close_code::internal_error);
                if (close_requested_) continue;  // draining until the peer answers our close
                if (!ws_.got_binary()) {
                    // Frames are protobuf bytes; text is a client bug. 1003: data type not
                    // accepted.
                    request_close(websocket::close_code::unknown_data);
                    continue;
                }
                core_->counters.frames_in.fetch_add(1, std::memory_order_relaxed);
                core_->counters.bytes_in.fetch_add(n, std::memory_order_relaxed);
                if (!call_handler([&] { core_->handler.on_frame(conn, std::move(frame)); })) {
                    request_close(websocket::close_code::internal_error);
                }
            }
        } catch (...) {
        }
        phase_ = Phase::kDone;
        call_handler([&] { core_->handler.on_close(conn); });
    }
    phase_ = Phase::kDone;
    // A write in flight still reads the queue's front; the writer clears the queue itself
    // when that write completes (phase_ is no longer kOpen).
    if (!writing_) queue_.clear();
    tls().close();
    core_->counters.connections_open.fetch_sub(1);
    core_->remove(id_);
}

void Session::send(Bytes frame) {
    const std::size_t size = frame.size();
    // Counted before posting, so frames waiting in the io queue count against the bound too.
    if (queued_bytes_.fetch_add(size) + size > core_->opts.max_send_queue_bytes) {
        queued_bytes_.fetch_sub(size);
        // The peer is not reading: a close frame would queue behind the backlog, so drop it.
        abort();
        return;
    }
    try {
        // Dispatch, not post: a handler answering on the strand queues its frame at once,
        // without another trip through the io queue. From other threads this posts.
        asio::dispatch(ws_.get_executor(),
                       [self = shared_from_this(), f = std::move(frame)]() mutable {
                           self->enqueue(std::move(f));
                       });
    } catch (...) {
        queued_bytes_.fetch_sub(size);
        // Not posted, so nothing can be done on the strand from here without allocating:
        // flag it, and the strand closes the connection at its next frame in or out.
        lost_frame_.store(true, std::memory_order_relaxed);
    }
}

void Session::post(std::function<void()> fn) {
    asio::post(ws_.get_executor(), [self = shared_from_this(), fn = std::move(fn)] {
        // Not ours to let unwind through Asio (see call_handler).
        self->call_handler(fn);
    });
}

void Session::enqueue(Bytes frame) {
    if (lost_frame_.load(std::memory_order_relaxed))
        request_close(websocket::close_code::internal_error);
    if (phase_ != Phase::kOpen || close_requested_) {
        queued_bytes_.fetch_sub(frame.size());
        return;
    }
    queue_.push_back(std::move(frame));
    if (!writing_) {
        writing_ = true;
        write_front();
    }
}

// The writer is a chain of completion handlers, not a coroutine: a connection that answers
// one frame at a time (nearly all of them) would otherwise spawn a coroutine, with its frame
// allocation and executor hand-offs, for every frame it writes. (No gain this machine could
// measure: docs/benchmarks.md.) The frame being written stays at the front of queue_ until
// its write completes.
void Session::write_front() noexcept {
    if (queue_.empty() || phase_ != Phase::kOpen) {
        finish_writing();
        return;
    }
    try {
        ws_.async_write(asio::buffer(queue_.front()),
                        [self = shared_from_this()](const boost::system::error_code& ec,
                                                    std::size_t) { self->on_written(ec); });
    } catch (...) {
        // The operation could not be allocated (out of memory): the frame is lost, so drop
        // the connection; the pending read fails and run() ends the session.
        tls().close();
        finish_writing();
    }
}

void Session::on_written(const boost::system::error_code& ec) noexcept {
    const std::size_t size = queue_.front().size();
    queue_.pop_front();
    queued_bytes_.fetch_sub(size);
    if (ec) {
        finish_writing();
        return;
    }
    core_->counters.frames_out.fetch_add(1, std::memory_order_relaxed);
    core_->counters.bytes_out.fetch_add(size, std::memory_order_relaxed);
    write_front();
}

void Session::finish_writing() noexcept {
    for (auto& f : queue_) queued_bytes_.fetch_sub(f.size());
    queue_.clear();
    writing_ = false;
    // A close asked for while writing goes out after the queued frames (an error frame, say).
    if (close_requested_ && phase_ == Phase::kOpen) spawn_or_drop(&Session::close_now);
}

void Session::request_close(websocket::close_code code) {
    if (phase_ != Phase::kOpen || close_requested_) return;
    close_requested_ = true;
    close_code_ = code;
    closing_began();
    if (writing_) return;  // the writer closes after flushing (finish_writing)
    spawn_or_drop(&Session::close_now);
}

asio::awaitable<void> Session::close_now() {
    auto self = shared_from_this();
    // Bounded by the stream's handshake timeout; the pending read sees the close complete.
    co_await ws_.async_close(close_code_, kTok);
}

void Session::close() {
    close_with(websocket::close_code::normal);
}

template <class Job>
void Session::post_or_flag_lost(Job job) noexcept {
    try {
        asio::post(ws_.get_executor(), std::move(job));
    } catch (...) {
        lost_frame_.store(true, std::memory_order_relaxed);  // closed at the next frame
    }
}

void Session::close_with(websocket::close_code code) {
    post_or_flag_lost([self = shared_from_this(), code] {
        if (self->phase_ == Phase::kHandshake) {
            self->tls().close();
        } else {
            self->request_close(code);
        }
    });
}

void Session::abort() {
    post_or_flag_lost([self = shared_from_this()] { self->tls().close(); });
}

}  // namespace pp::net::detail

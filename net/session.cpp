#include "net/session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <optional>

#include "net/tls_impl.hpp"

namespace pp::net::detail {

namespace {
constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
// Frames read in a row before the strand lets other work go first.
constexpr std::size_t kFramesPerTurn = 16;
// Frames written in one batch, copied into one buffer: at most one full TLS record, as much as
// the TLS stream's own gather copy. A frame larger than this goes alone, not copied.
constexpr std::size_t kWriteBatchBytes = TlsStream::kGatherMax;
// A message's buffer grows by at most this much ahead of the bytes that have arrived, so a
// 14-byte header claiming a large message does not make the server allocate all of it.
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
      tls_(std::move(socket), core_->tls.impl().ctx),
      id_(id),
      peer_(endpoint_string(tls().socket())) {}

void Session::launch(const std::shared_ptr<Session>& s) {
    // run() catches everything it can; the handler only sees what escapes a bad_alloc in the
    // coroutine machinery itself, and swallowing it keeps the io thread alive.
    asio::co_spawn(s->tls_.get_executor(), s->run(), [](const std::exception_ptr&) {});
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
            request_close(WsCloseCode::kInternalError);
        }
        try {
            co_await read_frames(conn);
        } catch (...) {
        }
        // What the handler sends from here is dropped: the peer has closed, or our close
        // frame is queued, and nothing may follow it.
        phase_ = Phase::kClosing;
        call_handler([&] { core_->handler.on_close(conn); });
        try {
            co_await finish_closing();
        } catch (...) {
        }
    }
    phase_ = Phase::kDone;
    // A write in flight still reads write_buffer_ (and, for a frame too large to batch, the
    // queue's front); the writer clears the queue itself when that write completes.
    if (!writing_) queue_.clear();
    tls().close();
    core_->counters.connections_open.fetch_sub(1);
    core_->remove(id_);
}

asio::awaitable<void> Session::read_frames(const std::shared_ptr<Connection>& conn) {
    WsMessageTracker tracker(core_->opts.max_frame_bytes);
    // The header is read into the coroutine's frame: an idle connection holds no read buffer,
    // only this and the pending wait for its socket to become readable.
    std::array<std::uint8_t, kWsMaxClientHeader> head{};
    Bytes message;  // the data message being read, from its first frame to its last
    std::size_t frames_this_turn = 0;
    for (;;) {
        // A peer that keeps the socket full (of messages, or of pings) would otherwise keep
        // this strand, and the io thread, to itself: every few frames, other work goes first.
        if (++frames_this_turn == kFramesPerTurn) {
            frames_this_turn = 0;
            co_await asio::post(tls_.get_executor(), asio::use_awaitable);
        }
        if (co_await read_exact(head.data(), 2)) co_return;
        const std::size_t head_size = ws_header_size(head[1]);
        if (co_await read_exact(head.data() + 2, head_size - 2)) co_return;
        heard();
        auto parsed = parse_ws_client_header({head.data(), head_size});
        std::optional<WsFault> fault = parsed.fault;
        if (!fault) fault = tracker.on_header(parsed.value);
        if (fault) {
            // Fail the connection (RFC 6455, 7.1.7): our close frame, then TCP's, without
            // waiting for the peer's close. Checked before any payload is read or allocated.
            request_close(fault->code);
            co_return;
        }
        const WsFrameHeader& h = parsed.value;
        if (is_control(h.opcode)) {
            Bytes payload(static_cast<std::size_t>(h.payload_size));  // at most 125 bytes
            if (co_await read_exact(payload.data(), payload.size())) co_return;
            ws_unmask(payload, h.mask, 0);
            if (h.opcode == WsOpcode::kPing) {
                if (!close_requested_) enqueue_control(WsOpcode::kPong, std::move(payload));
            } else if (h.opcode == WsOpcode::kClose) {
                closing_began();
                // Answered with the code it gave; a malformed one fails the connection with
                // ours. When our close went first, this ends the closing handshake.
                auto code = parse_ws_close_payload(payload);
                request_close(code.ok() ? code.value
                                        : static_cast<std::uint16_t>(code.fault->code));
                co_return;
            }
            continue;  // a pong: a sign of life (heard()), nothing more
        }
        // A data frame: its payload joins the message, which the tracker has bounded by
        // max_frame_bytes. Grown a chunk at a time as the bytes come, and each byte zeroed
        // once by the resize before it is read over.
        const std::size_t start = message.size();
        const auto size = static_cast<std::size_t>(h.payload_size);
        for (std::size_t left = size; left > 0;) {
            const std::size_t chunk = std::min(left, kReadChunk);
            const std::size_t at = message.size();
            // Doubling, as the vector would, but never past this frame's end: the buffer (and
            // the message handed on) holds no more than the message's bytes.
            if (message.capacity() < at + chunk) {
                message.reserve(std::min(std::max(2 * message.capacity(), at + chunk), at + left));
            }
            message.resize(at + chunk);
            if (co_await read_exact(message.data() + at, chunk)) co_return;
            left -= chunk;
        }
        ws_unmask({message.data() + start, size}, h.mask, 0);
        if (!h.fin) continue;
        Bytes frame = std::move(message);
        message = Bytes();
        if (lost_frame_.load(std::memory_order_relaxed)) request_close(WsCloseCode::kInternalError);
        if (close_requested_) continue;  // draining until the peer answers our close
        if (tracker.message_opcode() != WsOpcode::kBinary) {
            // Frames are protobuf bytes; text is a client bug. 1003: data type not accepted.
            request_close(WsCloseCode::kUnknownData);
            continue;
        }
        core_->counters.frames_in.fetch_add(1, std::memory_order_relaxed);
        core_->counters.bytes_in.fetch_add(frame.size(), std::memory_order_relaxed);
        if (!call_handler([&] { core_->handler.on_frame(conn, std::move(frame)); })) {
            request_close(WsCloseCode::kInternalError);
        }
    }
}

asio::awaitable<boost::system::error_code> Session::read_exact(std::uint8_t* data,
                                                               std::size_t size) {
    while (size > 0) {
        const auto step = tls_.read_now(data, size);
        if (step.ec) co_return step.ec;
        if (step.want == TlsStream::Want::kNothing) {
            if (step.n == 0) co_return asio::error::eof;  // OpenSSL reports none; a guard
            data += step.n;
            size -= step.n;
            continue;
        }
        auto [ec] = co_await tls_.socket().async_wait(step.want == TlsStream::Want::kRead
                                                          ? asio::socket_base::wait_read
                                                          : asio::socket_base::wait_write,
                                                      kTok);
        if (ec) co_return ec;
        heard();  // bytes from the peer: a large message arriving slowly is not silence
    }
    co_return boost::system::error_code{};
}

asio::awaitable<void> Session::finish_closing() {
    // Reading ended without a close frame of ours (the peer vanished, or the sweep dropped
    // it): nothing to close in order, and run() drops the socket.
    if (!close_requested_) co_return;
    // The close frame goes out after what was queued before it. A writer stuck behind a peer
    // that reads nothing is cut off by the keep-alive sweep, the handshake timeout after the
    // close began: its failed write ends this wait, and the sweep cancels the wait as well
    // (should the write's completion never come, it lost to out of memory).
    while (writing_ && tls_.socket().is_open()) {
        writer_done_ = std::make_unique<asio::steady_timer>(tls_.get_executor(),
                                                            asio::steady_timer::time_point::max());
        co_await writer_done_->async_wait(kTok);
        writer_done_.reset();
    }
    if (!close_sent_) co_return;
    // close_notify, then FIN, then wait for the client's FIN (the sweep bounds this too):
    // closing with unread bytes in the socket would send an RST that can destroy our close
    // frame in flight.
    co_await async_teardown(beast::role_type::server, tls_, kTok);
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
        asio::dispatch(tls_.get_executor(),
                       [self = shared_from_this(), f = std::move(frame)]() mutable {
                           self->enqueue(Outgoing{std::move(f), WsOpcode::kBinary});
                       });
    } catch (...) {
        queued_bytes_.fetch_sub(size);
        // Not posted, so nothing can be done on the strand from here without allocating:
        // flag it, and the strand closes the connection at its next frame in or out.
        lost_frame_.store(true, std::memory_order_relaxed);
    }
}

void Session::post(std::function<void()> fn) {
    asio::post(tls_.get_executor(), [self = shared_from_this(), fn = std::move(fn)] {
        // Not ours to let unwind through Asio (see call_handler).
        self->call_handler(fn);
    });
}

std::size_t Session::queue_charge(const Outgoing& f) noexcept {
    return f.payload.size() + (is_control(f.opcode) ? kControlFrameCharge : 0);
}

void Session::enqueue(Outgoing frame) noexcept {
    const std::size_t charge = queue_charge(frame);
    if (lost_frame_.load(std::memory_order_relaxed)) request_close(WsCloseCode::kInternalError);
    if (phase_ != Phase::kOpen || close_requested_) {
        queued_bytes_.fetch_sub(charge);
        return;
    }
    try {
        queue_.push_back(std::move(frame));
    } catch (...) {
        // Out of memory: the peer would miss this frame, so drop the connection; the pending
        // read fails and run() ends the session.
        queued_bytes_.fetch_sub(charge);
        tls().close();
        return;
    }
    if (!writing_) {
        writing_ = true;
        write_front();
    }
}

void Session::enqueue_control(WsOpcode opcode, Bytes payload) noexcept {
    Outgoing frame{std::move(payload), opcode};
    const std::size_t charge = queue_charge(frame);
    if (queued_bytes_.fetch_add(charge) + charge > core_->opts.max_send_queue_bytes) {
        queued_bytes_.fetch_sub(charge);
        tls().close();  // pings from a peer that reads none of our pongs
        return;
    }
    enqueue(std::move(frame));
}

// The writer is a chain of completion handlers, not a coroutine: a connection that answers
// one frame at a time (nearly all of them) would otherwise spawn a coroutine, with its frame
// allocation and executor hand-offs, for every write. Frames queued while a write is in flight
// go out together in the next: their headers and payloads copied into one buffer, written as
// one TLS record (up to 16 KiB) and one send(), where a frame of its own would take each.
void Session::write_front() noexcept {
    if (queue_.empty() || phase_ == Phase::kDone) {
        finish_writing();
        return;
    }
    try {
        auto done = [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
            self->on_written(ec);
        };
        std::array<std::uint8_t, kWsMaxServerHeader> header{};
        const Outgoing& front = queue_.front();
        if (kWsMaxServerHeader + front.payload.size() > kWriteBatchBytes) {
            // Too large to batch: its header, then its payload where it lies at the front of
            // the queue (the TLS stream copies no more than a record of it at a time).
            const std::size_t n =
                write_ws_server_header(front.opcode, front.payload.size(), header);
            write_buffer_.assign(header.begin(), header.begin() + n);
            writing_frames_ = 1;
            const std::array<asio::const_buffer, 2> parts{asio::buffer(write_buffer_),
                                                          asio::buffer(front.payload)};
            asio::async_write(tls_, parts, std::move(done));
            return;
        }
        std::size_t total = 0;
        std::size_t frames = 0;
        for (const auto& f : queue_) {
            const std::size_t framed = kWsMaxServerHeader + f.payload.size();
            if (total + framed > kWriteBatchBytes) break;
            total += framed;
            ++frames;
        }
        write_buffer_.reserve(total);
        auto it = queue_.begin();
        for (std::size_t i = 0; i < frames; ++i, ++it) {
            const std::size_t n = write_ws_server_header(it->opcode, it->payload.size(), header);
            write_buffer_.insert(write_buffer_.end(), header.begin(), header.begin() + n);
            write_buffer_.insert(write_buffer_.end(), it->payload.begin(), it->payload.end());
        }
        writing_frames_ = frames;
        asio::async_write(tls_, asio::buffer(write_buffer_), std::move(done));
    } catch (...) {
        // The buffer or the operation could not be allocated (out of memory): the frames are
        // lost, so drop the connection; the pending read fails and run() ends the session.
        write_buffer_ = Bytes();
        writing_frames_ = 0;
        tls().close();
        finish_writing();
    }
}

void Session::on_written(const boost::system::error_code& ec) noexcept {
    write_buffer_ = Bytes();  // an idle connection holds no write buffer
    for (; writing_frames_ > 0 && !queue_.empty(); --writing_frames_) {
        const Outgoing& f = queue_.front();
        queued_bytes_.fetch_sub(queue_charge(f));
        if (!ec) {
            if (f.opcode == WsOpcode::kBinary) {
                core_->counters.frames_out.fetch_add(1, std::memory_order_relaxed);
                core_->counters.bytes_out.fetch_add(f.payload.size(), std::memory_order_relaxed);
            } else if (f.opcode == WsOpcode::kClose) {
                close_sent_ = true;
            } else if (f.opcode == WsOpcode::kPing) {
                ping_in_flight_ = false;
            }
        }
        queue_.pop_front();
    }
    writing_frames_ = 0;
    if (ec) {
        finish_writing();
        return;
    }
    write_front();
}

void Session::finish_writing() noexcept {
    for (auto& f : queue_) queued_bytes_.fetch_sub(queue_charge(f));
    queue_.clear();
    writing_ = false;
    if (writer_done_) writer_done_->cancel();  // finish_closing() waits for this
}

void Session::request_close(std::uint16_t code) noexcept {
    if (phase_ != Phase::kOpen || close_requested_) return;
    close_requested_ = true;
    closing_began();
    try {
        Outgoing frame{Bytes{}, WsOpcode::kClose};
        if (code != 0) {
            frame.payload =
                Bytes{static_cast<std::uint8_t>(code >> 8), static_cast<std::uint8_t>(code & 0xFF)};
        }
        const std::size_t charge = queue_charge(frame);
        queue_.push_back(std::move(frame));  // after everything queued, and nothing after it
        queued_bytes_.fetch_add(charge);
    } catch (...) {
        tls().close();  // no close frame can be queued: drop the connection instead
        return;
    }
    if (!writing_) {
        writing_ = true;
        write_front();
    }
}

void Session::close() {
    close_with(WsCloseCode::kNormal);
}

template <class Job>
void Session::post_or_flag_lost(Job job) noexcept {
    try {
        asio::post(tls_.get_executor(), std::move(job));
    } catch (...) {
        lost_frame_.store(true, std::memory_order_relaxed);  // closed at the next frame
    }
}

void Session::close_with(WsCloseCode code) {
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

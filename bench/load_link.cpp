#include "bench/load_link.hpp"

#include <openssl/evp.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <cstring>

#include "net/ws_upgrade.hpp"

namespace pp::bench {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using net::WsOpcode;
using net::detail::TlsStream;

namespace {

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
// Room made before each read: a whole TLS record's plaintext fits.
constexpr std::size_t kReadRoom = 16 * 1024;

}  // namespace

LoadLink::LoadLink(asio::io_context& ioc, asio::ssl::context& tls, std::size_t max_message_bytes)
    : ioc_(ioc), tls_context_(tls), max_message_(max_message_bytes), socket_(ioc) {}

void LoadLink::close() noexcept {
    open_ = false;
    error_code ignored;
    if (tls_) {
        tls_->close();
    } else {
        socket_.close(ignored);
    }
}

LoadLink::error_code LoadLink::fail(error_code ec) {
    close();
    return ec;
}

asio::awaitable<std::optional<LoadLink::OpenError>> LoadLink::open(tcp::endpoint endpoint,
                                                                   std::string host,
                                                                   std::string target) {
    if (auto [ec] = co_await socket_.async_connect(endpoint, kTok); ec)
        co_return OpenError{OpenStep::kConnect, ec};
    error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);
    if (ec) co_return OpenError{OpenStep::kConnect, ec};
    tls_.emplace(std::move(socket_), tls_context_);
    if (tls_->native_handle() == nullptr)
        co_return OpenError{OpenStep::kTls,
                            make_error_code(boost::system::errc::not_enough_memory)};
    if (auto [hec] = co_await tls_->async_handshake(TlsStream::handshake_type::client, kTok); hec)
        co_return OpenError{OpenStep::kTls, hec};

    // Sec-WebSocket-Key: base64 of 16 random bytes (RFC 6455, section 4.1).
    std::array<unsigned char, 16> nonce{};
    std::array<unsigned char, 25> key{};  // 24 characters and EVP_EncodeBlock's NUL
    const auto bad_upgrade = OpenError{OpenStep::kUpgrade, make_error_code(asio::error::no_data)};
    if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1) co_return bad_upgrade;
    EVP_EncodeBlock(key.data(), nonce.data(), static_cast<int>(nonce.size()));
    const std::string key_text(reinterpret_cast<const char*>(key.data()), 24);
    const auto expected = net::detail::ws_accept_value(key_text);
    if (!expected) co_return bad_upgrade;

    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, host);
    req.set(http::field::upgrade, "websocket");
    req.set(http::field::connection, "Upgrade");
    req.set(http::field::sec_websocket_key, key_text);
    req.set(http::field::sec_websocket_version, "13");
    if (auto [wec, n] = co_await http::async_write(*tls_, req, kTok); wec)
        co_return OpenError{OpenStep::kUpgrade, wec};
    boost::beast::flat_buffer head;
    http::response<http::empty_body> res;
    if (auto [rec, n] = co_await http::async_read(*tls_, head, res, kTok); rec)
        co_return OpenError{OpenStep::kUpgrade, rec};
    // Section 4.1: a 101 with Upgrade: websocket, Connection: upgrade and our key's accept
    // value, agreeing to no extension and no subprotocol (none was asked for).
    const auto has_token = [](boost::beast::string_view value, boost::beast::string_view token) {
        return http::token_list{value}.exists(token);
    };
    if (res.result() != http::status::switching_protocols ||
        !boost::beast::iequals(res[http::field::upgrade], "websocket") ||
        !has_token(res[http::field::connection], "upgrade") ||
        res[http::field::sec_websocket_accept] != *expected ||
        res.count(http::field::sec_websocket_extensions) != 0 ||
        res.count(http::field::sec_websocket_protocol) != 0)
        co_return bad_upgrade;
    // A close() during the last step may have landed after the read completed.
    if (!tls_->socket().is_open())
        co_return OpenError{OpenStep::kUpgrade, asio::error::operation_aborted};
    // Frames the server sent right behind its answer are already in `head`.
    const auto rest = head.data();
    read_buf_.resize(std::max(kReadRoom, rest.size()));
    std::memcpy(read_buf_.data(), rest.data(), rest.size());
    read_pos_ = 0;
    read_end_ = rest.size();
    open_ = true;
    co_return std::nullopt;
}

TlsStream::Step LoadLink::read_some() {
    if (!open_) return TlsStream::Step{TlsStream::Want::kNothing, 0, asio::error::not_connected};
    if (read_pos_ == read_end_) read_pos_ = read_end_ = 0;
    // Room for the frame at the head (its size is known once its header is in) and a record.
    const std::size_t kept = read_end_ - read_pos_;
    const std::size_t wanted = std::max(need_, kept) + kReadRoom;
    if (read_buf_.size() - read_end_ < kReadRoom) {
        if (read_pos_ > 0) {
            std::memmove(read_buf_.data(), read_buf_.data() + read_pos_, kept);
            read_pos_ = 0;
            read_end_ = kept;
        }
        if (read_buf_.size() < wanted) read_buf_.resize(wanted);
    }
    auto step = tls_->read_now(read_buf_.data() + read_end_, read_buf_.size() - read_end_);
    read_end_ += step.n;
    return step;
}

LoadLink::Parsed LoadLink::parse_next(ByteView& message, error_code& ec) {
    if (!open_) {  // closed by the owner meanwhile: what is still buffered is not delivered
        ec = asio::error::operation_aborted;
        return Parsed::kFault;
    }
    for (;;) {
        const std::size_t avail = read_end_ - read_pos_;
        const std::uint8_t* p = read_buf_.data() + read_pos_;
        if (avail < 2) return Parsed::kNeedMore;
        const std::size_t head_size = net::ws_header_size(p[1]);
        if (avail < head_size) return Parsed::kNeedMore;
        const auto parsed = net::parse_ws_server_header({p, head_size});
        if (!parsed.ok() || !parsed.value.fin || parsed.value.opcode == WsOpcode::kContinuation ||
            parsed.value.payload_size > max_message_) {
            ec = fail(asio::error::invalid_argument);
            return Parsed::kFault;
        }
        const auto& h = parsed.value;
        const std::size_t total = head_size + static_cast<std::size_t>(h.payload_size);
        if (avail < total) {
            need_ = total;
            return Parsed::kNeedMore;
        }
        need_ = 0;
        read_pos_ += total;
        const std::span<const std::uint8_t> payload{p + head_size, total - head_size};
        switch (h.opcode) {
            case WsOpcode::kBinary:
                message = payload;
                return Parsed::kMessage;
            case WsOpcode::kPing:
                // The pong echoes the ping's payload (section 5.5.3).
                if (const auto pong = append_frame(WsOpcode::kPong, payload.size())) {
                    std::copy(payload.begin(), payload.end(), pong->payload.begin());
                    seal_frame(*pong);
                }
                continue;
            case WsOpcode::kPong:
                continue;
            case WsOpcode::kClose:
                ec = fail(asio::error::eof);
                return Parsed::kFault;
            default:  // text: the server sends only binary frames
                ec = fail(asio::error::invalid_argument);
                return Parsed::kFault;
        }
    }
}

asio::awaitable<std::pair<LoadLink::error_code, ByteView>> LoadLink::next_message() {
    for (;;) {
        ByteView message;
        error_code ec;
        const Parsed got = parse_next(message, ec);
        if (got == Parsed::kMessage) co_return std::pair{error_code{}, message};
        if (got == Parsed::kFault) co_return std::pair{ec, ByteView{}};
        const auto step = read_some();
        if (step.ec) co_return std::pair{fail(step.ec), ByteView{}};
        if (step.want == TlsStream::Want::kNothing) continue;
        if (const auto wait_ec = co_await wait_ready(step.want))
            co_return std::pair{wait_ec, ByteView{}};
    }
}

asio::awaitable<LoadLink::error_code> LoadLink::wait_ready(TlsStream::Want want) {
    auto [ec] = co_await tls_->socket().async_wait(
        want == TlsStream::Want::kRead ? tcp::socket::wait_read : tcp::socket::wait_write, kTok);
    co_return ec ? fail(ec) : error_code{};
}

bool LoadLink::next_mask(net::WsMask& mask) {
    if (mask_pos_ + mask.size() > mask_pool_.size()) {
        if (RAND_bytes(mask_pool_.data(), static_cast<int>(mask_pool_.size())) != 1) return false;
        mask_pos_ = 0;
    }
    std::memcpy(mask.data(), mask_pool_.data() + mask_pos_, mask.size());
    mask_pos_ += mask.size();
    return true;
}

std::optional<LoadLink::OpenFrame> LoadLink::append_frame(WsOpcode op, std::size_t size) {
    if (!open_) return std::nullopt;
    OpenFrame frame{};
    if (!next_mask(frame.mask)) {
        close();
        return std::nullopt;
    }
    std::array<std::uint8_t, net::kWsMaxClientHeader> head{};
    const std::size_t n = net::write_ws_client_header(op, size, frame.mask, head);
    const std::size_t at = pending_.size();
    pending_.resize(at + n + size);
    std::memcpy(pending_.data() + at, head.data(), n);
    frame.payload = std::span<std::uint8_t>(pending_.data() + at + n, size);
    return frame;
}

void LoadLink::seal_frame(const OpenFrame& frame) {
    net::ws_unmask(frame.payload, frame.mask, 0);  // XOR: masking and unmasking are one operation
    if (!writing_) start_write();
}

void LoadLink::start_write() {
    if (!open_ || pending_.empty()) return;
    writing_ = true;
    std::swap(pending_, in_flight_);
    pending_.clear();
    asio::async_write(*tls_, asio::buffer(in_flight_), [this](error_code ec, std::size_t) {
        writing_ = false;
        in_flight_.clear();
        if (ec) {
            const bool was_open = open_;
            close();
            if (was_open && on_write_error_) on_write_error_(ec);
            return;
        }
        start_write();
    });
}

}  // namespace pp::bench

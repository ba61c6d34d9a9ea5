#include "net/ws_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "net/client_common.hpp"

namespace pp::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using boost::system::error_code;

namespace {
constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
}

struct WsClient::Impl {
    asio::io_context ioc{1};
    asio::ssl::context ctx{detail::pinned_client_context()};
    std::shared_ptr<detail::PinCheck> pin = std::make_shared<detail::PinCheck>();
    websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws{ioc, ctx};
    beast::flat_buffer rbuf;
    bool reading = false;
    std::optional<error_code> read_done;  // set when the pending read completes
    bool broken = false;                  // a timed-out write or a read error: no more use

    // Ends the connection without ceremony and lets cancelled operations finish.
    void drop() {
        broken = true;
        beast::get_lowest_layer(ws).close();
        detail::run_until(
            ioc, [] { return false; }, std::chrono::milliseconds(100));
    }

    Result<void> write(asio::const_buffer data, bool binary, std::chrono::milliseconds timeout) {
        if (broken) return make_error(ErrorCode::kNoSession, "connection closed");
        ws.binary(binary);
        // Shared with the handler: after a timeout it may still run, from a later call.
        auto done = std::make_shared<std::optional<error_code>>();
        ws.async_write(data, [done](error_code ec, std::size_t) { *done = ec; });
        if (!detail::run_until(
                ioc, [&] { return done->has_value(); }, timeout)) {
            drop();
            return make_error(ErrorCode::kLimitExceeded, "timed out");
        }
        if (**done) {
            broken = true;
            return detail::to_error(**done, nullptr);
        }
        return {};
    }
};

WsClient::WsClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WsClient::WsClient(WsClient&&) noexcept = default;
WsClient& WsClient::operator=(WsClient&&) noexcept = default;
WsClient::~WsClient() {
    if (impl_ && !impl_->broken) impl_->drop();
}

Result<WsClient> WsClient::connect(const std::string& host, std::uint16_t port,
                                   std::string_view pin_sha256_hex,
                                   const WsClientOptions& options) {
    std::unique_ptr<Impl> im;
    try {
        im = std::make_unique<Impl>();
    } catch (...) {
        return make_error(ErrorCode::kInternal, "client setup failed");
    }
    im->pin->expected = std::string(pin_sha256_hex);
    auto& tls = im->ws.next_layer();
    tls.set_verify_callback([pin = im->pin](bool pre, asio::ssl::verify_context& vc) {
        return detail::verify_pinned(*pin, pre, vc);
    });
    detail::set_sni(tls.native_handle(), host);
    im->ws.read_message_max(options.max_frame_bytes);
    const std::string host_header = options.host_header.empty() ? host : options.host_header;

    auto op = [](Impl& c, std::string h, std::string p, std::string hh, std::string target,
                 std::chrono::milliseconds timeout) -> asio::awaitable<error_code> {
        auto tec = co_await detail::connect_tls(c.ioc, c.ws.next_layer(), h, p, timeout);
        if (tec) co_return tec;
        auto [wec] = co_await c.ws.async_handshake(hh, target, kTok);
        beast::get_lowest_layer(c.ws).expires_never();
        co_return wec;
    };
    auto done = std::make_shared<std::optional<error_code>>();
    asio::co_spawn(
        im->ioc,
        op(*im, host, std::to_string(port), host_header, options.target, options.connect_timeout),
        [done](std::exception_ptr e, error_code ec) {
            *done = e ? error_code(asio::error::fault) : ec;
        });
    // The TCP deadline bounds everything after resolving; the slack covers the resolver.
    const auto limit = options.connect_timeout + std::chrono::milliseconds(1000);
    if (!detail::run_until(
            im->ioc, [&] { return done->has_value(); }, limit)) {
        im->drop();
        return make_error(ErrorCode::kLimitExceeded, "timed out");
    }
    if (**done) {
        auto err = detail::to_error(**done, im->pin.get());
        im->drop();
        return err;
    }
    // Beast answers pings only while a read is pending, which is what a live client does.
    websocket::stream_base::timeout t =
        websocket::stream_base::timeout::suggested(beast::role_type::client);
    im->ws.set_option(t);
    return WsClient(std::move(im));
}

Result<void> WsClient::send(ByteView frame, std::chrono::milliseconds timeout) {
    return impl_->write(asio::buffer(frame.data(), frame.size()), true, timeout);
}

Result<void> WsClient::send_text(std::string_view text, std::chrono::milliseconds timeout) {
    return impl_->write(asio::buffer(text.data(), text.size()), false, timeout);
}

Result<Bytes> WsClient::receive(std::chrono::milliseconds timeout) {
    auto& im = *impl_;
    if (im.broken && !im.reading) return make_error(ErrorCode::kNoSession, "connection closed");
    if (!im.reading) {
        im.reading = true;
        im.read_done.reset();
        im.ws.async_read(im.rbuf, [&im](error_code ec, std::size_t) { im.read_done = ec; });
    }
    if (!detail::run_until(
            im.ioc, [&] { return im.read_done.has_value(); }, timeout)) {
        return make_error(ErrorCode::kLimitExceeded, "timed out");
    }
    im.reading = false;
    if (*im.read_done) {
        im.broken = true;
        return detail::to_error(*im.read_done, nullptr);
    }
    auto data = im.rbuf.data();
    const auto* p = static_cast<const std::uint8_t*>(data.data());
    Bytes out(p, p + data.size());
    im.rbuf.consume(im.rbuf.size());
    return out;
}

void WsClient::close(std::chrono::milliseconds timeout) {
    auto& im = *impl_;
    if (im.broken) return;
    auto done = std::make_shared<bool>(false);
    im.ws.async_close(websocket::close_code::normal, [done](error_code) { *done = true; });
    detail::run_until(
        im.ioc, [&] { return *done; }, timeout);
    im.drop();
}

std::optional<std::uint16_t> WsClient::close_code() const {
    const auto& reason = impl_->ws.reason();
    if (reason.code == websocket::close_code::none) return std::nullopt;
    return static_cast<std::uint16_t>(reason.code);
}

}  // namespace pp::net

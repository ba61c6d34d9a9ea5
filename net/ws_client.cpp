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
#include "net/route_racer.hpp"

namespace pp::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using boost::system::error_code;

struct WsClient::Impl {
    // Declared first, destroyed last: attempts of a race that are still winding down hold
    // streams built on it until the io_context below destroys them.
    std::shared_ptr<asio::ssl::context> ctx;
    asio::io_context ioc{1};
    // Name lookups of a race post their answers here; closed before `ioc` goes.
    std::shared_ptr<detail::LookupGate> lookups =
        std::make_shared<detail::LookupGate>(ioc.get_executor());
    ~Impl() { lookups->close(); }
    std::unique_ptr<detail::RouteWs> ws;  // once connected
    std::size_t winner = 0;
    beast::flat_buffer rbuf;
    bool reading = false;
    std::optional<error_code> read_done;  // set when the pending read completes
    bool broken = false;                  // a timed-out write or a read error: no more use

    // Ends the connection without ceremony and lets cancelled operations finish.
    void drop() {
        broken = true;
        if (ws != nullptr) beast::get_lowest_layer(*ws).close();
        detail::run_until(
            ioc, [] { return false; }, std::chrono::milliseconds(100));
    }

    Result<void> write(asio::const_buffer data, bool binary, std::chrono::milliseconds timeout) {
        if (broken) return make_error(ErrorCode::kNoSession, "connection closed");
        ws->binary(binary);
        // Shared with the handler: after a timeout it may still run, from a later call.
        auto done = std::make_shared<std::optional<error_code>>();
        ws->async_write(data, [done](error_code ec, std::size_t) { *done = ec; });
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
    Route direct;
    direct.kind = RouteKind::kDirect;
    direct.host = host;
    direct.port = port;
    const ServerTarget server{host, port, std::string(pin_sha256_hex)};
    RaceOptions race;
    race.stagger = std::chrono::milliseconds(0);
    race.attempt_timeout = options.connect_timeout;
    // The attempt's own deadline ends it first; the slack only matters if the resolver hangs.
    race.timeout = options.connect_timeout + std::chrono::milliseconds(1000);
    return connect_racing({direct}, server, race, options);
}

Result<WsClient> WsClient::connect_racing(const std::vector<Route>& routes,
                                          const ServerTarget& server, const RaceOptions& race,
                                          const WsClientOptions& options,
                                          std::vector<AttemptReport>* report) {
    std::unique_ptr<Impl> im;
    try {
        im = std::make_unique<Impl>();
        im->ctx = std::make_shared<asio::ssl::context>(detail::pinned_client_context());
    } catch (...) {
        return make_error(ErrorCode::kInternal, "client setup failed");
    }
    detail::RaceRequest request;
    request.routes = routes;
    request.server = server;
    request.options = race;
    request.host_header = options.host_header;
    request.ws_target = options.target;
    request.max_frame_bytes = options.max_frame_bytes;
    request.lookups = im->lookups;
    auto racer = detail::RouteRace::start(im->ioc, im->ctx, std::move(request));
    // The race ends itself at race.timeout; the slack is for the deadline's own handler.
    if (!detail::run_until(
            im->ioc, [&] { return racer->finished(); },
            race.timeout + std::chrono::milliseconds(1000))) {
        racer->abort();
    }
    if (report != nullptr) *report = racer->reports();
    auto result = racer->take_result();
    racer.reset();
    if (!result) {
        im->drop();
        return result.error();
    }
    im->ws = std::move(result->ws);
    im->winner = result->winner;
    // Beast answers pings only while a read is pending, which is what a live client does.
    websocket::stream_base::timeout t =
        websocket::stream_base::timeout::suggested(beast::role_type::client);
    im->ws->set_option(t);
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
        im.ws->async_read(im.rbuf, [&im](error_code ec, std::size_t) { im.read_done = ec; });
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
    im.ws->async_close(websocket::close_code::normal, [done](error_code) { *done = true; });
    detail::run_until(
        im.ioc, [&] { return *done; }, timeout);
    im.drop();
}

std::size_t WsClient::winner() const {
    return impl_->winner;
}

std::optional<std::uint16_t> WsClient::close_code() const {
    if (impl_->ws == nullptr) return std::nullopt;
    const auto& reason = impl_->ws->reason();
    if (reason.code == websocket::close_code::none) return std::nullopt;
    return static_cast<std::uint16_t>(reason.code);
}

}  // namespace pp::net

#include "relay/admin_http.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <atomic>
#include <charconv>
#include <mutex>
#include <string_view>
#include <vector>

namespace pp::relay {

namespace {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
constexpr std::uint32_t kMaxHeaderBytes = 8192;
// A scraper keeps its connection open between polls; the cap bounds what one socket can ask.
constexpr int kMaxRequestsPerConnection = 100;
// Covers reading one request (a client trickling bytes gains nothing) and writing its answer.
constexpr std::chrono::seconds kRequestTimeout{10};

// "IP:port" or "[IPv6]:port"; a literal address only: the admin listener resolves nothing.
Result<tcp::endpoint> parse_listen(std::string_view s) {
    std::string_view host, port;
    if (s.starts_with('[')) {
        const auto close = s.find(']');
        if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':')
            return make_error(ErrorCode::kMalformed, "admin_listen: want [IPv6]:port");
        host = s.substr(1, close - 1);
        port = s.substr(close + 2);
    } else {
        const auto colon = s.rfind(':');
        if (colon == std::string_view::npos)
            return make_error(ErrorCode::kMalformed, "admin_listen: want IP:port");
        host = s.substr(0, colon);
        port = s.substr(colon + 1);
    }
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535)
        return make_error(ErrorCode::kMalformed, "admin_listen: port must be 0-65535");
    boost::system::error_code aec;
    const auto address = asio::ip::make_address(std::string(host), aec);
    if (aec) return make_error(ErrorCode::kMalformed, "admin_listen: host must be an IP address");
    return tcp::endpoint(address, static_cast<std::uint16_t>(value));
}

http::response<http::string_body> respond(const Metrics& metrics,
                                          const http::request<http::empty_body>& req) {
    http::response<http::string_body> res;
    res.version(req.version());
    res.keep_alive(req.keep_alive());
    std::string_view path = req.target();
    path = path.substr(0, path.find('?'));
    const bool known = path == "/metrics" || path == "/healthz";
    const bool get = req.method() == http::verb::get || req.method() == http::verb::head;
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    if (!known) {
        res.result(http::status::not_found);
        res.body() = "not found\n";
    } else if (!get) {
        res.result(http::status::method_not_allowed);
        res.set(http::field::allow, "GET, HEAD");
        res.body() = "method not allowed\n";
    } else if (path == "/metrics") {
        res.result(http::status::ok);
        res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        res.body() = metrics.render_prometheus();
    } else {
        res.result(http::status::ok);
        res.body() = "ok";
    }
    res.prepare_payload();  // Content-Length of the body a GET would get, also for HEAD
    if (req.method() == http::verb::head) res.body().clear();
    return res;
}

}  // namespace

struct AdminHttp::Impl : std::enable_shared_from_this<AdminHttp::Impl> {
    Impl(asio::io_context& io, const Config& c, const Metrics& m)
        : ioc(io), config(c), metrics(m), acceptor(asio::make_strand(io)) {}

    asio::awaitable<void> accept_loop();
    asio::awaitable<void> serve(std::shared_ptr<beast::tcp_stream> stream);

    asio::io_context& ioc;
    const Config& config;
    const Metrics& metrics;
    tcp::acceptor acceptor;
    std::atomic<std::uint16_t> port{0};
    std::atomic<unsigned> open{0};
    std::atomic<bool> stopped{false};
    std::mutex live_mutex;
    std::vector<std::weak_ptr<beast::tcp_stream>> live;  // to close them on stop()
};

asio::awaitable<void> AdminHttp::Impl::accept_loop() {
    auto self = shared_from_this();
    while (!stopped.load()) {
        // Each connection gets its own strand: handlers of one connection never run at once.
        auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(ioc), kTok);
        if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
            continue;  // a failed accept (out of descriptors, reset) must not end the listener
        }
        if (open.load() >= kMaxConnections) {
            boost::system::error_code ignored;
            socket.close(ignored);
            continue;
        }
        auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
        {
            std::lock_guard lock(live_mutex);
            std::erase_if(live, [](const auto& w) { return w.expired(); });
            live.push_back(stream);
        }
        open.fetch_add(1);
        auto executor = stream->get_executor();
        asio::co_spawn(executor, serve(std::move(stream)), [self](std::exception_ptr) {
            // Nothing in serve() throws (every operation uses as_tuple); should an allocation
            // fail, this connection ends and the listener goes on.
            self->open.fetch_sub(1);
        });
    }
}

asio::awaitable<void> AdminHttp::Impl::serve(std::shared_ptr<beast::tcp_stream> stream) {
    beast::flat_buffer buffer(kMaxHeaderBytes);
    for (int served = 0; served < kMaxRequestsPerConnection && !stopped.load(); ++served) {
        http::request_parser<http::empty_body> parser;
        parser.header_limit(kMaxHeaderBytes);
        parser.body_limit(0);  // GET carries no body
        stream->expires_after(kRequestTimeout);
        auto [rec, n] = co_await http::async_read(*stream, buffer, parser, kTok);
        if (rec) {
            // Beast's parse errors (not a timeout, reset or clean end) get one answer.
            const auto& http_errors = http::make_error_code(http::error::end_of_stream).category();
            if (rec.category() == http_errors && rec != http::error::end_of_stream &&
                rec != http::error::partial_message) {
                // Malformed or oversized: say so once, then hang up.
                http::response<http::string_body> res{http::status::bad_request, 11};
                res.set(http::field::content_type, "text/plain; charset=utf-8");
                res.keep_alive(false);
                res.body() = "bad request\n";
                res.prepare_payload();
                (void)co_await http::async_write(*stream, res, kTok);
            }
            break;
        }
        auto res = respond(metrics, parser.get());
        const bool keep = res.keep_alive();
        auto [wec, written] = co_await http::async_write(*stream, res, kTok);
        if (wec || !keep) break;
    }
    boost::system::error_code ignored;
    stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream->socket().close(ignored);
}

AdminHttp::AdminHttp(asio::io_context& ioc, const Config& config, const Metrics& metrics)
    : impl_(std::make_shared<Impl>(ioc, config, metrics)) {}

AdminHttp::~AdminHttp() {
    stop();
}

Result<void> AdminHttp::start() {
    if (impl_->config.admin_listen.empty()) return {};
    if (impl_->acceptor.is_open())
        return make_error(ErrorCode::kInternal, "admin listener already started");
    PP_TRY(endpoint, parse_listen(impl_->config.admin_listen));
    boost::system::error_code ec;
    auto& acc = impl_->acceptor;
    acc.open(endpoint.protocol(), ec);
    if (!ec) acc.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acc.bind(endpoint, ec);
    if (!ec) acc.listen(64, ec);
    if (ec) {
        boost::system::error_code ignored;
        acc.close(ignored);
        return make_error(ErrorCode::kInternal, "admin listener: cannot bind the address");
    }
    impl_->port = acc.local_endpoint(ec).port();
    asio::co_spawn(acc.get_executor(), impl_->accept_loop(), asio::detached);
    return {};
}

std::uint16_t AdminHttp::port() const {
    return impl_->port.load();
}

void AdminHttp::stop() {
    if (impl_->stopped.exchange(true)) return;
    // The acceptor belongs to its strand: close it there, as the accept loop's handlers run.
    asio::post(impl_->acceptor.get_executor(), [impl = impl_] {
        boost::system::error_code ignored;
        impl->acceptor.close(ignored);
    });
    std::lock_guard lock(impl_->live_mutex);
    for (auto& weak : impl_->live) {
        if (auto stream = weak.lock()) {
            asio::post(stream->get_executor(), [stream] {
                stream->cancel();
                stream->close();
            });
        }
    }
    impl_->live.clear();
}

}  // namespace pp::relay

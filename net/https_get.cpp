// One pinned HTTPS GET: health checks and metrics in tests and tools.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "net/client_common.hpp"
#include "net/ws_client.hpp"

namespace pp::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

namespace {
constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
constexpr std::uint64_t kMaxBody = 8 << 20;

struct GetState {
    asio::io_context ioc{1};
    asio::ssl::context ctx{detail::pinned_client_context()};
    std::shared_ptr<detail::PinCheck> pin = std::make_shared<detail::PinCheck>();
    beast::ssl_stream<beast::tcp_stream> stream{ioc, ctx};
    http::response<http::string_body> res;
};

asio::awaitable<error_code> get_op(GetState& s, std::string host, std::string port,
                                   std::string target, std::chrono::milliseconds timeout) {
    auto tec = co_await detail::connect_tls(s.ioc, s.stream, host, port, timeout);
    if (tec) co_return tec;
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, host);
    req.keep_alive(false);
    auto [wec, wn] = co_await http::async_write(s.stream, req, kTok);
    if (wec) co_return wec;
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxBody);
    auto [rdec, rn] = co_await http::async_read(s.stream, buf, parser, kTok);
    if (rdec) co_return rdec;
    s.res = parser.release();
    co_return error_code{};
}
}  // namespace

Result<HttpReply> https_get(const std::string& host, std::uint16_t port,
                            std::string_view pin_sha256_hex, std::string_view target,
                            std::chrono::milliseconds timeout) {
    std::unique_ptr<GetState> s;
    try {
        s = std::make_unique<GetState>();
    } catch (...) {
        return make_error(ErrorCode::kInternal, "client setup failed");
    }
    s->pin->expected = std::string(pin_sha256_hex);
    s->stream.set_verify_callback([pin = s->pin](bool pre, asio::ssl::verify_context& vc) {
        return detail::verify_pinned(*pin, pre, vc);
    });
    detail::set_sni(s->stream.native_handle(), host);
    auto done = std::make_shared<std::optional<error_code>>();
    asio::co_spawn(s->ioc, get_op(*s, host, std::to_string(port), std::string(target), timeout),
                   [done](std::exception_ptr e, error_code ec) {
                       *done = e ? error_code(asio::error::fault) : ec;
                   });
    const auto limit = timeout + std::chrono::milliseconds(1000);
    if (!detail::run_until(
            s->ioc, [&] { return done->has_value(); }, limit)) {
        return make_error(ErrorCode::kLimitExceeded, "timed out");
    }
    if (**done) return detail::to_error(**done, s->pin.get());
    HttpReply reply;
    reply.status = static_cast<int>(s->res.result_int());
    reply.content_type = std::string(s->res[http::field::content_type]);
    reply.body = std::move(s->res.body());
    return reply;
}

}  // namespace pp::net

#include "relay/plain_http_port.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include "relay/nginx_pages.hpp"

namespace pp::relay::detail {

namespace http = boost::beast::http;

namespace {
// nginx's default large_client_header_buffers: 8 KiB per line; a whole head this big is ample.
constexpr std::uint32_t kMaxHeader = 8 * 1024;
}  // namespace

asio::awaitable<void> answer_plain_http_on_tls_port(tcp::socket& s) {
    boost::beast::flat_buffer buf(kMaxHeader);
    http::request_parser<http::empty_body> parser;
    parser.header_limit(kMaxHeader);
    auto [rec, rn] = co_await http::async_read_header(s, buf, parser, kTok);
    if (rec == http::error::end_of_stream || rec == asio::error::eof ||
        rec == asio::error::operation_aborted || rec == asio::error::bad_descriptor ||
        rec == asio::error::connection_reset) {
        co_return;  // closed or timed out before a request: nginx closes silently too
    }
    const std::string answer =
        rec ? nginx_error_response("400 Bad Request", kNginx400)
            : nginx_error_response("400 Bad Request", kNginxPlainHttpOnHttpsPort);
    co_await asio::async_write(s, asio::buffer(answer), kTok);
    boost::system::error_code ignored;
    s.shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace pp::relay::detail

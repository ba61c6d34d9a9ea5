#include "relay/upstream_connect.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <charconv>

namespace pp::relay::detail {

namespace asio = boost::asio;

std::optional<HostPortParts> split_host_port(std::string_view host_port) {
    const auto colon = host_port.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    std::string_view host = host_port.substr(0, colon);
    const std::string_view port = host_port.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (host.empty() || port.empty() || ec != std::errc{} || end != port.data() + port.size() ||
        value == 0 || value > 65535) {
        return std::nullopt;
    }
    return HostPortParts{std::string(host), std::string(port)};
}

asio::awaitable<boost::system::error_code> connect_host_port(asio::ip::tcp::socket& socket,
                                                             std::string_view host_port,
                                                             const bool& closed) {
    constexpr auto tok = asio::as_tuple(asio::use_awaitable);
    const auto parts = split_host_port(host_port);
    if (!parts) co_return asio::error::make_error_code(asio::error::invalid_argument);
    asio::ip::tcp::resolver resolver(socket.get_executor());
    auto [rec, results] = co_await resolver.async_resolve(parts->host, parts->port, tok);
    if (closed) co_return asio::error::make_error_code(asio::error::operation_aborted);
    if (rec) co_return rec;
    auto [cec, ep] = co_await asio::async_connect(socket, results, tok);
    co_return cec;
}

}  // namespace pp::relay::detail

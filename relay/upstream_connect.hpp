#pragma once
// relay/ internal: "host:port" / "[v6]:port" as the operator writes it, resolved and connected.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace pp::relay::detail {

struct HostPortParts {
    std::string host;
    std::string port;
};
// Splits at the last ':'; brackets around an IPv6 literal are removed. Nothing when either part
// is empty or the port is not 1..65535.
std::optional<HostPortParts> split_host_port(std::string_view host_port);

// Resolves and connects `socket` (opened by the connect) to the first address that answers. The
// caller's watchdog bounds how long that may take: closing the socket aborts the connect, and
// `closed` (the connection's flag, read on its strand) stops a late DNS answer from opening the
// socket again with no deadline left.
boost::asio::awaitable<boost::system::error_code> connect_host_port(
    boost::asio::ip::tcp::socket& socket, std::string_view host_port, const bool& closed);

}  // namespace pp::relay::detail

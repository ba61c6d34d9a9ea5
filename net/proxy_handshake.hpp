#pragma once
// net/ internal: the proxy exchanges of a route, over a TCP connection to the proxy, up to the
// point where the connection is a tunnel to the home server (net/proxy_codec.hpp has the bytes
// and the error codes). No deadline of their own: the route racer closes the socket when the
// attempt's time is up, which ends them with an error.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "base/result.hpp"
#include "net/route.hpp"

namespace pp::net::detail {

// SOCKS5 CONNECT to server.host:server.port through `proxy` (credentials when it has them).
boost::asio::awaitable<Result<void>> socks5_handshake(boost::asio::ip::tcp::socket& socket,
                                                      const Route& proxy,
                                                      const ServerTarget& server);
// HTTP CONNECT to server.host:server.port through `proxy`.
boost::asio::awaitable<Result<void>> http_connect_handshake(boost::asio::ip::tcp::socket& socket,
                                                            const Route& proxy,
                                                            const ServerTarget& server);

}  // namespace pp::net::detail

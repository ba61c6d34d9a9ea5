#pragma once
// relay/ internal: one accepted connection of the relay mode, from the first byte to the end.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <memory>

#include "relay/relay_context.hpp"

namespace pp::relay::detail {

// Runs on the socket's executor (a strand of its own). Never throws.
boost::asio::awaitable<void> serve_relay_connection(std::shared_ptr<RelayContext> ctx,
                                                    boost::asio::ip::tcp::socket socket);

}  // namespace pp::relay::detail

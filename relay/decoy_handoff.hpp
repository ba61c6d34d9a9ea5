#pragma once
// relay/ internal: everything that does not authenticate goes here, with the bytes already read
// from it (`prefix`) forwarded first and untouched: to the operator's decoy upstream (a plain
// HTTP server such as a local nginx) when config.relay.decoy is set, else to the built-in site.
#include <boost/asio/awaitable.hpp>

#include "base/bytes.hpp"
#include "relay/connection.hpp"
#include "relay/relay_context.hpp"

namespace pp::relay::detail {

asio::awaitable<void> hand_to_decoy(RelayContext& ctx, Connection& c, TlsStream& client,
                                    ByteView prefix);

}  // namespace pp::relay::detail

#pragma once
// What a paperplane://relay link carries. Apart from relay_client.hpp so that route.hpp (and
// through it ws_client.hpp) can name a relay without pulling in Asio.
#include <cstdint>
#include <string>

#include "wire/relay_auth.hpp"

namespace pp::net {

struct RelayEndpoint {
    std::string host;  // sent as SNI when it is a name (addresses get none)
    std::uint16_t port = 443;
    std::string pin;  // lowercase hex SHA-256 of the relay's DER certificate
    wire::relay::LinkSecret secret;
};

}  // namespace pp::net

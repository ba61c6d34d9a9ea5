#pragma once
// relay/ internal: a client that speaks plain HTTP to the relay's TLS port gets what nginx sends
// in that case: it reads the request head, then answers "400 The plain HTTP request was sent to
// HTTPS port" (or its plain 400 page when the bytes are not HTTP) and closes. The connection's
// watchdog bounds the whole exchange. nginx decides by the first byte, as the caller does:
// 0x16 (TLS handshake record) or the SSLv2 bit means TLS; a TLS failure then just closes.
#include <boost/asio/awaitable.hpp>

#include "relay/connection.hpp"

namespace pp::relay::detail {

// True when nginx would start a TLS handshake on a connection whose first byte is `b`.
constexpr bool looks_like_tls(std::uint8_t b) {
    return b == 0x16 || (b & 0x80) != 0;
}

asio::awaitable<void> answer_plain_http_on_tls_port(tcp::socket& s);

}  // namespace pp::relay::detail

#pragma once
// net/ internal: the server's answer to a WebSocket upgrade request (RFC 6455, section 4.2.2).
// No extension and no subprotocol is ever agreed: the server speaks plain binary frames.
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace pp::net::detail {

// The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key: base64 of SHA-1 of the key
// and the RFC's GUID. nullopt if the key is not the base64 of 16 bytes.
std::optional<std::string> ws_accept_value(std::string_view client_key);

struct WsUpgrade {
    boost::beast::http::response<boost::beast::http::string_body> response;
    bool accepted = false;  // 101: the connection speaks WebSocket once the response is out
};

// For a request that websocket::is_upgrade() took: 101 Switching Protocols, or 426 naming the
// version we speak when the client asks for another, or 400 for a missing Host or a missing
// or malformed key.
WsUpgrade answer_ws_upgrade(
    const boost::beast::http::request<boost::beast::http::string_body>& req);

}  // namespace pp::net::detail

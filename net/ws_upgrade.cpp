#include "net/ws_upgrade.hpp"

#include <openssl/evp.h>

#include <array>

namespace pp::net::detail {

namespace http = boost::beast::http;

namespace {
constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr std::string_view kVersion = "13";

bool is_base64_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

// Base64 of 16 bytes is 22 characters and "==". The last character before the padding carries
// 2 bits of data and 4 zero bits, so it is one of A, Q, g, w.
bool is_16_byte_base64(std::string_view key) {
    if (key.size() != 24 || key.substr(22) != "==") return false;
    for (std::size_t i = 0; i < 22; ++i) {
        if (!is_base64_char(key[i])) return false;
    }
    const char last = key[21];
    return last == 'A' || last == 'Q' || last == 'g' || last == 'w';
}

http::response<http::string_body> plain(http::status status, unsigned version, std::string body) {
    http::response<http::string_body> res{status, version};
    res.set(http::field::server, "paperplane");
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = std::move(body);
    res.keep_alive(false);
    res.prepare_payload();
    return res;
}
}  // namespace

std::optional<std::string> ws_accept_value(std::string_view client_key) {
    if (!is_16_byte_base64(client_key)) return std::nullopt;
    std::string input;
    input.reserve(client_key.size() + kGuid.size());
    input.append(client_key).append(kGuid);
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int digest_size = 0;
    if (EVP_Digest(input.data(), input.size(), digest.data(), &digest_size, EVP_sha1(), nullptr) !=
            1 ||
        digest_size != 20) {
        return std::nullopt;
    }
    std::array<unsigned char, 29> encoded{};  // 4 * ceil(20 / 3) + the terminating NUL
    const int n = EVP_EncodeBlock(encoded.data(), digest.data(), 20);
    if (n != 28) return std::nullopt;
    return std::string(reinterpret_cast<const char*>(encoded.data()), 28);
}

WsUpgrade answer_ws_upgrade(const http::request<http::string_body>& req) {
    WsUpgrade out;
    if (req[http::field::sec_websocket_version] != kVersion) {
        out.response =
            plain(http::status::upgrade_required, req.version(), "websocket version 13 only\n");
        out.response.set(http::field::sec_websocket_version, kVersion);
        return out;
    }
    if (req[http::field::host].empty()) {  // RFC 6455, 4.2.1: required in the request
        out.response = plain(http::status::bad_request, req.version(), "missing host\n");
        return out;
    }
    auto accept = ws_accept_value(req[http::field::sec_websocket_key]);
    if (!accept) {
        out.response = plain(http::status::bad_request, req.version(), "bad websocket key\n");
        return out;
    }
    auto& res = out.response;
    res.result(http::status::switching_protocols);
    res.version(11);
    res.set(http::field::server, "paperplane");
    res.set(http::field::upgrade, "websocket");
    res.set(http::field::connection, "Upgrade");
    res.set(http::field::sec_websocket_accept, *accept);
    out.accepted = true;
    return out;
}

}  // namespace pp::net::detail

#pragma once
// relay/ internal: the built-in decoy website, what anyone who does not authenticate sees:
// nginx's stock welcome page over HTTP/1.1 (inside the relay's TLS), answered byte for byte as
// nginx answers (headers, their order, its error pages), 404 for other paths, 400 for anything
// that is not HTTP, keep-alive with an idle timeout. Optionally serves static files from a
// directory instead of its own page.
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <ctime>
#include <string>

#include "base/bytes.hpp"
#include "relay/connection.hpp"

namespace pp::relay::detail {

class DecoySite {
  public:
    // `root` empty: the built-in page. Otherwise files under it, nothing outside it. A client
    // has `header_timeout` for its first request and `keep_alive` before each later one (nginx:
    // client_header_timeout 60 s, keepalive_timeout 75 s).
    DecoySite(std::string root, std::chrono::seconds keep_alive,
              std::chrono::seconds header_timeout = std::chrono::seconds(60));

    // The answer to one parsed request: pure apart from reading files under the root.
    // Bodies never reach it: the server reads and drops them, as nginx does for static files.
    // `keep_alive`: what the request asked for (the parser knows, the header alone does not).
    boost::beast::http::response<boost::beast::http::string_body> respond(
        const boost::beast::http::request_header<>& req, bool keep_alive) const;
    boost::beast::http::response<boost::beast::http::string_body> respond(
        const boost::beast::http::request<boost::beast::http::string_body>& req) const;

    // Serves requests until the client closes, sends something that is not HTTP, or idles past
    // keep_alive. `prefix` holds bytes already read from the stream; they are parsed first.
    asio::awaitable<void> serve(Connection& c, TlsStream& s, ByteView prefix) const;

  private:
    template <typename Stream>
    asio::awaitable<void> serve_on(Connection& c, Stream& s, ByteView prefix) const;

    std::string root_;
    std::chrono::seconds keep_alive_;
    std::chrono::seconds header_timeout_;
    std::time_t started_;  // Last-Modified of the built-in page
};

}  // namespace pp::relay::detail

#include "relay/decoy_site.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <string_view>

namespace pp::relay::detail {

namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// What a small static site behind nginx answers with. Nothing here names the relay.
constexpr std::string_view kServer = "nginx";
constexpr std::size_t kMaxHeader = 8 * 1024;
constexpr std::size_t kMaxBody = 64 * 1024;
constexpr std::uintmax_t kMaxFile = 4 * 1024 * 1024;

constexpr std::string_view kHomePage = R"(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Harbor Lane Studio</title>
<style>
body{font-family:Georgia,serif;max-width:40em;margin:3em auto;padding:0 1em;color:#333;line-height:1.6}
h1{font-weight:normal;border-bottom:1px solid #ddd;padding-bottom:.3em}
footer{margin-top:3em;font-size:.85em;color:#888}
</style>
</head>
<body>
<h1>Harbor Lane Studio</h1>
<p>We are a two-person design studio making print and web work for small businesses,
bookshops and local festivals. Most of our projects start with a cup of coffee and a sketchbook.</p>
<h2>Recent work</h2>
<ul>
<li>Posters and programme for a summer chamber music series</li>
<li>A new identity and menu for a neighbourhood bakery</li>
<li>Catalogue layout for an independent publisher's autumn list</li>
</ul>
<h2>Contact</h2>
<p>We are not taking new projects until spring. Thank you for your interest.</p>
<footer>&copy; Harbor Lane Studio</footer>
</body>
</html>
)";

constexpr std::string_view kNotFound = R"(<html>
<head><title>404 Not Found</title></head>
<body>
<center><h1>404 Not Found</h1></center>
<hr><center>nginx</center>
</body>
</html>
)";

constexpr std::string_view kBadRequest = R"(<html>
<head><title>400 Bad Request</title></head>
<body>
<center><h1>400 Bad Request</h1></center>
<hr><center>nginx</center>
</body>
</html>
)";

constexpr std::string_view kNotAllowed = R"(<html>
<head><title>405 Not Allowed</title></head>
<body>
<center><h1>405 Not Allowed</h1></center>
<hr><center>nginx</center>
</body>
</html>
)";

// RFC 7231 IMF-fixdate, e.g. "Tue, 24 Nov 2026 01:45:00 GMT".
std::string http_date() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    const std::size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return std::string(buf, n);
}

std::string_view content_type_for(const std::filesystem::path& p) {
    const std::string ext = p.extension().string();
    if (ext == ".html" || ext == ".htm") return "text/html";
    if (ext == ".css") return "text/css";
    if (ext == ".js") return "application/javascript";
    if (ext == ".png") return "image/png";
    if (ext == ".jpg" || ext == ".jpeg") return "image/jpeg";
    if (ext == ".svg") return "image/svg+xml";
    if (ext == ".ico") return "image/x-icon";
    if (ext == ".txt") return "text/plain";
    return "application/octet-stream";
}

http::response<http::string_body> page(http::status status, unsigned version, std::string body,
                                       std::string_view type) {
    http::response<http::string_body> res{status, version};
    res.set(http::field::server, kServer);
    res.set(http::field::date, http_date());
    res.set(http::field::content_type, type);
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

// The file under `root` that `target` names, or nothing. Only plain relative segments are
// accepted, and the resolved path must still lie under the root (symlinks included).
std::optional<std::filesystem::path> file_under(const std::string& root, std::string_view target) {
    namespace fs = std::filesystem;
    if (target.empty() || target.front() != '/') return std::nullopt;
    if (const auto q = target.find_first_of("?#"); q != std::string_view::npos) {
        target = target.substr(0, q);
    }
    if (target.find("..") != std::string_view::npos ||
        target.find('\\') != std::string_view::npos ||
        target.find('\0') != std::string_view::npos) {
        return std::nullopt;
    }
    std::error_code ec;
    const fs::path base = fs::canonical(root, ec);
    if (ec) return std::nullopt;
    fs::path candidate = base / fs::path(std::string(target.substr(1)));
    if (fs::is_directory(candidate, ec)) candidate /= "index.html";
    const fs::path real = fs::canonical(candidate, ec);
    if (ec || !fs::is_regular_file(real, ec)) return std::nullopt;
    const auto rel = real.lexically_relative(base);
    if (rel.empty() || *rel.begin() == "..") return std::nullopt;
    return real;
}

}  // namespace

DecoySite::DecoySite(std::string root, std::chrono::seconds keep_alive,
                     std::chrono::seconds header_timeout)
    : root_(std::move(root)), keep_alive_(keep_alive), header_timeout_(header_timeout) {}

http::response<http::string_body> DecoySite::respond(
    const http::request<http::string_body>& req) const {
    const unsigned v = req.version();
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
        auto res = page(http::status::method_not_allowed, v, std::string(kNotAllowed), "text/html");
        res.keep_alive(req.keep_alive());
        return res;
    }
    std::optional<http::response<http::string_body>> found;
    if (root_.empty()) {
        const std::string_view target = req.target();
        if (target == "/" || target == "/index.html") {
            found = page(http::status::ok, v, std::string(kHomePage), "text/html");
        }
    } else if (auto path = file_under(root_, req.target())) {
        std::error_code ec;
        const auto size = std::filesystem::file_size(*path, ec);
        std::ifstream in(*path, std::ios::binary);
        if (!ec && size <= kMaxFile && in) {
            std::string body(static_cast<std::size_t>(size), '\0');
            in.read(body.data(), static_cast<std::streamsize>(size));
            if (in) found = page(http::status::ok, v, std::move(body), content_type_for(*path));
        }
    }
    auto res = found ? std::move(*found)
                     : page(http::status::not_found, v, std::string(kNotFound), "text/html");
    res.keep_alive(req.keep_alive());
    if (req.method() == http::verb::head) {
        // Content-Length stays that of the GET answer, as HEAD requires; no body is sent.
        const auto length = res.body().size();
        res.body().clear();
        res.content_length(length);
    }
    return res;
}

template <typename Stream>
asio::awaitable<void> DecoySite::serve_on(Connection& c, Stream& s, ByteView prefix) const {
    beast::flat_buffer buf(kMaxHeader + kMaxBody);
    if (!prefix.empty()) {
        auto dst = buf.prepare(prefix.size());
        asio::buffer_copy(dst, asio::buffer(prefix.data(), prefix.size()));
        buf.commit(prefix.size());
    }
    for (bool first = true;; first = false) {
        c.touch(first ? header_timeout_ : keep_alive_);
        http::request_parser<http::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(kMaxHeader));
        parser.body_limit(kMaxBody);
        auto [rec, rn] = co_await http::async_read(s, buf, parser, kTok);
        if (rec == http::error::end_of_stream || rec == asio::error::eof ||
            rec == asio::error::operation_aborted || rec == asio::error::bad_descriptor ||
            rec == asio::ssl::error::stream_truncated) {
            co_return;  // closed or timed out between requests: nothing to answer
        }
        http::response<http::string_body> res;
        if (rec) {
            // Not HTTP (or too large): what any web server does, a 400 and close.
            res = page(http::status::bad_request, 11, std::string(kBadRequest), "text/html");
            res.keep_alive(false);
        } else {
            res = respond(parser.get());
        }
        auto [wec, wn] = co_await http::async_write(s, res, kTok);
        if (wec || !res.keep_alive()) co_return;
    }
}

asio::awaitable<void> DecoySite::serve(Connection& c, TlsStream& s, ByteView prefix) const {
    co_await serve_on(c, s, prefix);
    co_await s.async_shutdown(kTok);
}

}  // namespace pp::relay::detail

#include "relay/decoy_site.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string_view>

#include "relay/nginx_pages.hpp"

namespace pp::relay::detail {

namespace beast = boost::beast;
namespace http = beast::http;

namespace {

constexpr std::size_t kMaxHeader = 8 * 1024;
// nginx's client_max_body_size: bodies up to this are read and dropped, longer ones get a 413.
constexpr std::uint64_t kMaxBody = 1024 * 1024;
constexpr std::uintmax_t kMaxFile = 4 * 1024 * 1024;

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

// Headers in nginx's order: Server, Date, Content-Type, Content-Length[, Last-Modified],
// Connection[, ETag, Accept-Ranges]. Connection is set by finish() once keep-alive is known.
http::response<http::string_body> page(http::status status, std::string body,
                                       std::string_view type) {
    http::response<http::string_body> res{status, 11};
    res.set(http::field::server, kNginxServer);
    res.set(http::field::date, http_date());
    res.set(http::field::content_type, type);
    res.set(http::field::content_length, std::to_string(body.size()));
    res.body() = std::move(body);
    return res;
}

// A 200 with what nginx's static module adds: Last-Modified, ETag "<mtime hex>-<size hex>".
http::response<http::string_body> file_page(std::string body, std::string_view type,
                                            std::time_t mtime) {
    auto res = page(http::status::ok, std::move(body), type);
    res.set(http::field::last_modified, http_date(mtime));
    return res;
}

void finish(http::response<http::string_body>& res, bool keep_alive, std::time_t mtime) {
    // Set by hand: Beast's keep_alive(true) drops the header on HTTP/1.1, nginx always sends it.
    res.set(http::field::connection, keep_alive ? "keep-alive" : "close");
    if (res.result() == http::status::ok) {
        char etag[64];
        const int n = std::snprintf(etag, sizeof etag, "\"%llx-%llx\"",
                                    static_cast<unsigned long long>(mtime),
                                    static_cast<unsigned long long>(res.body().size()));
        res.set(http::field::etag, std::string_view(etag, static_cast<std::size_t>(n)));
        res.set(http::field::accept_ranges, "bytes");
    }
}

// The path of a request target as nginx matches it: without query or fragment, %XX decoded.
// Nothing when the encoding is broken or decodes to a NUL.
std::optional<std::string> request_path(std::string_view target) {
    if (const auto q = target.find_first_of("?#"); q != std::string_view::npos) {
        target = target.substr(0, q);
    }
    std::string out;
    out.reserve(target.size());
    for (std::size_t i = 0; i < target.size(); ++i) {
        if (target[i] != '%') {
            out.push_back(target[i]);
            continue;
        }
        if (i + 2 >= target.size()) return std::nullopt;
        const auto hex = [](char ch) -> int {
            if (ch >= '0' && ch <= '9') return ch - '0';
            if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
            if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
            return -1;
        };
        const int hi = hex(target[i + 1]);
        const int lo = hex(target[i + 2]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return std::nullopt;
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
    }
    return out;
}

// The file under `root` that `target` names, or nothing. Only plain relative segments are
// accepted, and the resolved path must still lie under the root (symlinks included).
std::optional<std::filesystem::path> file_under(const std::string& root, std::string_view target) {
    namespace fs = std::filesystem;
    if (target.empty() || target.front() != '/') return std::nullopt;
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
    : root_(std::move(root)),
      keep_alive_(keep_alive),
      header_timeout_(header_timeout),
      started_(std::time(nullptr)) {}

http::response<http::string_body> DecoySite::respond(
    const http::request<http::string_body>& req) const {
    return respond(req, req.keep_alive());
}

http::response<http::string_body> DecoySite::respond(const http::request_header<>& req,
                                                     bool keep) const {
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
        auto res = page(http::status::method_not_allowed, std::string(kNginx405), "text/html");
        res.reason("Not Allowed");  // nginx's reason phrase, not RFC 9110's
        finish(res, keep, 0);
        return res;
    }
    std::optional<http::response<http::string_body>> found;
    std::time_t mtime = started_;  // the built-in page was "installed" when the relay started
    const auto path = request_path(req.target());
    if (!path) {
        auto res = page(http::status::bad_request, std::string(kNginx400), "text/html");
        finish(res, false, 0);
        return res;
    }
    if (root_.empty()) {
        if (*path == "/" || *path == "/index.html") {
            found = file_page(std::string(kNginxWelcome), "text/html", mtime);
        }
    } else if (auto file = file_under(root_, *path)) {
        std::error_code ec;
        const auto size = std::filesystem::file_size(*file, ec);
        struct stat st {};
        std::ifstream in(*file, std::ios::binary);
        if (!ec && size <= kMaxFile && in && ::stat(file->c_str(), &st) == 0) {
            std::string body(static_cast<std::size_t>(size), '\0');
            in.read(body.data(), static_cast<std::streamsize>(size));
            mtime = st.st_mtime;
            if (in) found = file_page(std::move(body), content_type_for(*file), mtime);
        }
    }
    auto res = found ? std::move(*found)
                     : page(http::status::not_found, std::string(kNginx404), "text/html");
    finish(res, keep, mtime);
    if (req.method() == http::verb::head) {
        // Content-Length stays that of the GET answer, as HEAD requires; no body is sent.
        res.body().clear();
    }
    return res;
}

template <typename Stream>
asio::awaitable<void> DecoySite::serve_on(Connection& c, Stream& s, ByteView prefix) const {
    beast::flat_buffer buf(kMaxHeader);
    if (!prefix.empty()) {
        auto dst = buf.prepare(prefix.size());
        asio::buffer_copy(dst, asio::buffer(prefix.data(), prefix.size()));
        buf.commit(prefix.size());
    }
    std::array<char, 4096> sink{};  // request bodies are read into this and dropped
    for (bool first = true;; first = false) {
        c.touch(first ? header_timeout_ : keep_alive_);
        http::request_parser<http::buffer_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(kMaxHeader));
        parser.body_limit(kMaxBody);
        auto [rec, rn] = co_await http::async_read_header(s, buf, parser, kTok);
        while (!rec && !parser.is_done()) {
            parser.get().body().data = sink.data();
            parser.get().body().size = sink.size();
            auto [bec, bn] = co_await http::async_read(s, buf, parser, kTok);
            rec = bec == http::error::need_buffer ? boost::system::error_code{} : bec;
        }
        if (rec == http::error::end_of_stream || rec == asio::error::eof ||
            rec == asio::error::operation_aborted || rec == asio::error::bad_descriptor ||
            rec == asio::ssl::error::stream_truncated) {
            co_return;  // closed or timed out between requests: nothing to answer
        }
        http::response<http::string_body> res;
        if (rec == http::error::body_limit) {
            res = page(http::status::payload_too_large, std::string(kNginx413), "text/html");
            finish(res, false, 0);
        } else if (rec) {
            // Not HTTP (or too large): what nginx does, a 400 and close.
            res = page(http::status::bad_request, std::string(kNginx400), "text/html");
            finish(res, false, 0);
        } else {
            res = respond(parser.get().base(), parser.keep_alive());
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

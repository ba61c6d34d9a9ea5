#include "relay/nginx_pages.hpp"

#include <ctime>

namespace pp::relay::detail {

std::string http_date() {
    return http_date(std::time(nullptr));
}

std::string http_date(std::time_t t) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    const std::size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return std::string(buf, n);
}

std::string nginx_error_response(std::string_view status_line, std::string_view body) {
    std::string out;
    out.reserve(200 + body.size());
    out.append("HTTP/1.1 ").append(status_line).append("\r\n");
    out.append("Server: ").append(kNginxServer).append("\r\n");
    out.append("Date: ").append(http_date()).append("\r\n");
    out.append("Content-Type: text/html\r\n");
    out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    out.append("Connection: close\r\n\r\n");
    out.append(body);
    return out;
}

}  // namespace pp::relay::detail

namespace pp::relay::detail {
// nginx serves its index.html with Content-Length: 615; a slip in the copy above would show.
static_assert(kNginxWelcome.size() == 615);
}  // namespace pp::relay::detail

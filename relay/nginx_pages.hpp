#pragma once
// relay/ internal: the bytes a stock nginx (server_tokens off) sends for its built-in pages, so
// the relay's decoy answers exactly as the most common web server does. nginx writes its error
// pages with CRLF line ends; the bodies below are copied from its source (ngx_http_special_response.c).
#include <string>
#include <string_view>

namespace pp::relay::detail {

inline constexpr std::string_view kNginxServer = "nginx";

inline constexpr std::string_view kNginx400 =
    "<html>\r\n<head><title>400 Bad Request</title></head>\r\n<body>\r\n"
    "<center><h1>400 Bad Request</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

// nginx's answer (internal code 497) to a plain-HTTP request on its TLS port.
inline constexpr std::string_view kNginxPlainHttpOnHttpsPort =
    "<html>\r\n<head><title>400 The plain HTTP request was sent to HTTPS port</title></head>\r\n"
    "<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n"
    "<center>The plain HTTP request was sent to HTTPS port</center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

inline constexpr std::string_view kNginx404 =
    "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
    "<center><h1>404 Not Found</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

inline constexpr std::string_view kNginx405 =
    "<html>\r\n<head><title>405 Not Allowed</title></head>\r\n<body>\r\n"
    "<center><h1>405 Not Allowed</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

inline constexpr std::string_view kNginx414 =
    "<html>\r\n<head><title>414 Request-URI Too Large</title></head>\r\n<body>\r\n"
    "<center><h1>414 Request-URI Too Large</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

// RFC 9110 IMF-fixdate of now, e.g. "Tue, 24 Nov 2026 01:45:00 GMT".
std::string http_date();

// A whole error answer as nginx serializes it, ending the connection: status line, Server, Date,
// Content-Type, Content-Length, Connection: close, then `body`.
std::string nginx_error_response(std::string_view status_line, std::string_view body);

}  // namespace pp::relay::detail

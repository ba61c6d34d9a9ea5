#pragma once
// relay/ internal: the bytes a stock nginx (server_tokens off) sends for its built-in pages, so
// the relay's decoy answers exactly as the most common web server does. nginx writes its error
// pages with CRLF line ends; the bodies below are copied from its source
// (ngx_http_special_response.c).
#include <ctime>
#include <string>
#include <string_view>

namespace pp::relay::detail {

inline constexpr std::string_view kNginxServer = "nginx";

// nginx's stock html/index.html ("Welcome to nginx!", 615 bytes, LF line ends): what millions
// of freshly installed servers show, so it names no one.
inline constexpr std::string_view kNginxWelcome =
    "<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n<style>\n"
    "html { color-scheme: light dark; }\n"
    "body { width: 35em; margin: 0 auto;\nfont-family: Tahoma, Verdana, Arial, sans-serif; }\n"
    "</style>\n</head>\n<body>\n<h1>Welcome to nginx!</h1>\n"
    "<p>If you see this page, the nginx web server is successfully installed and\n"
    "working. Further configuration is required.</p>\n\n"
    "<p>For online documentation and support please refer to\n"
    "<a href=\"http://nginx.org/\">nginx.org</a>.<br/>\n"
    "Commercial support is available at\n"
    "<a href=\"http://nginx.com/\">nginx.com</a>.</p>\n\n"
    "<p><em>Thank you for using nginx.</em></p>\n</body>\n</html>\n";

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

inline constexpr std::string_view kNginx413 =
    "<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n"
    "<center><h1>413 Request Entity Too Large</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

inline constexpr std::string_view kNginx414 =
    "<html>\r\n<head><title>414 Request-URI Too Large</title></head>\r\n<body>\r\n"
    "<center><h1>414 Request-URI Too Large</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

// RFC 9110 IMF-fixdate of `t` (default now), e.g. "Tue, 24 Nov 2026 01:45:00 GMT".
std::string http_date(std::time_t t);
std::string http_date();

// A whole error answer as nginx serializes it, ending the connection: status line, Server, Date,
// Content-Type, Content-Length, Connection: close, then `body`.
std::string nginx_error_response(std::string_view status_line, std::string_view body);

}  // namespace pp::relay::detail

// The built-in decoy site's answers, without sockets: a believable page with ordinary headers,
// 404 elsewhere, HEAD without a body, and files from decoy_root with no way out of it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/beast/http/write.hpp>

#include "relay/config.hpp"
#include "relay/decoy_site.hpp"
#include "relay/nginx_pages.hpp"

namespace pp::relay::detail {
namespace {

namespace http = boost::beast::http;

http::request<http::string_body> request(http::verb verb, std::string target) {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "example.org");
    return req;
}

TEST(RelayDecoySite, HomePageLooksOrdinary) {
    DecoySite site("", std::chrono::seconds(5));
    const auto res = site.respond(request(http::verb::get, "/"));
    EXPECT_EQ(res.result(), http::status::ok);
    EXPECT_EQ(res[http::field::server], "nginx");
    EXPECT_EQ(res[http::field::content_type], "text/html");
    EXPECT_FALSE(res[http::field::date].empty());
    EXPECT_EQ(res[http::field::content_length], std::to_string(res.body().size()));
    EXPECT_NE(res.body().find("<title>"), std::string::npos);
    for (const char* word : {"paperplane", "Paperplane", "relay", "proxy"}) {
        EXPECT_EQ(res.body().find(word), std::string::npos) << word;
    }
    EXPECT_TRUE(res.keep_alive());
}

TEST(RelayDecoySite, OtherPathsAre404AndOtherMethods405) {
    DecoySite site("", std::chrono::seconds(5));
    EXPECT_EQ(site.respond(request(http::verb::get, "/admin")).result(), http::status::not_found);
    EXPECT_EQ(site.respond(request(http::verb::post, "/")).result(),
              http::status::method_not_allowed);
}

TEST(RelayDecoySite, HeadHasLengthButNoBody) {
    DecoySite site("", std::chrono::seconds(5));
    const auto get = site.respond(request(http::verb::get, "/"));
    const auto head = site.respond(request(http::verb::head, "/"));
    EXPECT_EQ(head.result(), http::status::ok);
    EXPECT_TRUE(head.body().empty());
    EXPECT_EQ(head[http::field::content_length], std::to_string(get.body().size()));
}

TEST(RelayDecoySite, ServesRootWithoutTraversal) {
    namespace fs = std::filesystem;
    char tmpl[] = "/tmp/pp-decoy-root-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    const fs::path dir(tmpl);
    fs::create_directories(dir / "site" / "css");
    std::ofstream(dir / "site" / "index.html") << "<p>hello</p>";
    std::ofstream(dir / "site" / "css" / "a.css") << "p{}";
    std::ofstream(dir / "secret.txt") << "outside";
    fs::create_symlink(dir / "secret.txt", dir / "site" / "link.txt");

    DecoySite site((dir / "site").string(), std::chrono::seconds(5));
    auto res = site.respond(request(http::verb::get, "/"));
    EXPECT_EQ(res.result(), http::status::ok);
    EXPECT_EQ(res.body(), "<p>hello</p>");
    res = site.respond(request(http::verb::get, "/css/a.css?v=2"));
    EXPECT_EQ(res.result(), http::status::ok);
    EXPECT_EQ(res[http::field::content_type], "text/css");
    for (const char* bad : {"/../secret.txt", "/css/../../secret.txt", "/link.txt", "//etc/passwd",
                            "/missing.html", "relative"}) {
        EXPECT_EQ(site.respond(request(http::verb::get, bad)).result(), http::status::not_found)
            << bad;
    }
    fs::remove_all(dir);
}

// The relay's defaults are nginx's: client_header_timeout 60 s, keepalive_timeout 75 s.
TEST(RelayDecoySite, TimeoutDefaultsAreNginxs) {
    const RelayModeConfig c;
    EXPECT_EQ(c.handshake_timeout, std::chrono::seconds(60));
    EXPECT_EQ(c.decoy_keepalive_timeout, std::chrono::seconds(75));
}

// The bytes nginx sends, Date, Last-Modified and the ETag's value aside (checked separately).
std::string serialized(const http::response<http::string_body>& res) {
    std::ostringstream os;
    os << res;
    std::string out = os.str();
    for (const char* name : {"\r\nDate: ", "\r\nLast-Modified: ", "\r\nETag: "}) {
        const auto at = out.find(name);
        if (at == std::string::npos) continue;
        out.erase(at, out.find("\r\n", at + 2) - at);
    }
    return out;
}

TEST(RelayDecoySite, AnswersAreNginxsBytes) {
    DecoySite site("", std::chrono::seconds(5));
    const auto home = site.respond(request(http::verb::get, "/?utm=1#top"));
    EXPECT_EQ(serialized(home),
              "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html\r\n"
              "Content-Length: 615\r\nConnection: keep-alive\r\n"
              "Accept-Ranges: bytes\r\n\r\n" +
                  std::string(kNginxWelcome));
    // nginx's ETag: "<mtime hex>-<size hex>", quoted; Last-Modified an IMF-fixdate.
    const std::string etag(home[http::field::etag]);
    EXPECT_EQ(etag.front(), '"');
    EXPECT_NE(etag.find("-267\""), std::string::npos) << etag;
    EXPECT_EQ(std::string(home[http::field::last_modified]).size(), 29u);

    auto req = request(http::verb::get, "/missing");
    req.set(http::field::connection, "close");
    EXPECT_EQ(serialized(site.respond(req)),
              "HTTP/1.1 404 Not Found\r\nServer: nginx\r\nContent-Type: text/html\r\n"
              "Content-Length: 146\r\nConnection: close\r\n\r\n<html>\r\n"
              "<head><title>404 Not Found</title></head>\r\n<body>\r\n"
              "<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n"
              "</body>\r\n</html>\r\n");
    http::request<http::string_body> post{http::verb::post, "/", 10};  // HTTP/1.0
    EXPECT_EQ(serialized(site.respond(post)),
              "HTTP/1.1 405 Not Allowed\r\nServer: nginx\r\nContent-Type: text/html\r\n"
              "Content-Length: 150\r\nConnection: close\r\n\r\n" +
                  std::string(kNginx405));
    // Percent-encoded paths match as nginx decodes them.
    EXPECT_EQ(site.respond(request(http::verb::get, "/index%2Ehtml")).result(), http::status::ok);
    EXPECT_EQ(site.respond(request(http::verb::get, "/%zz")).result(), http::status::bad_request);
}

}  // namespace
}  // namespace pp::relay::detail

#pragma once
// Plain HTTP reply and route types shared by the server and the test client; no Beast here.
#include <functional>
#include <string>
#include <string_view>

namespace pp::net {

struct HttpReply {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
};

// Answers GET requests for every target except /v1/ws. Runs on an io thread: must not block.
using HttpRoute = std::function<HttpReply(std::string_view target)>;

}  // namespace pp::net

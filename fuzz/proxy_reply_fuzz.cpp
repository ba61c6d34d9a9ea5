// What a SOCKS5 or HTTP proxy answers the client (net/proxy_codec): the CONNECT replies, the
// method choice and the password status. A route may lead through a hostile proxy, so every
// verdict must stay within bounds and agree with itself when the bytes arrive piecewise, as
// the client reads them.
#include <cstdlib>
#include <string_view>

#include "net/proxy_codec.hpp"

namespace {

using namespace pp::net::proxy;

void check(bool ok) {
    if (!ok) std::abort();
}

void socks5_reply(pp::ByteView in) {
    auto whole = socks5_parse_connect_reply(in);
    if (whole && whole->complete) {
        check(whole->size >= 4 + 1 + 2 && whole->size <= 4 + 1 + 255 + 2 &&
              whole->size <= in.size());
        auto exact = socks5_parse_connect_reply(in.first(whole->size));
        check(exact && exact->complete && exact->size == whole->size);
    } else if (whole) {
        check(whole->size > in.size() && whole->size <= 4 + 1 + 255 + 2);
    }
    // The client's read loop: ask, read exactly what is asked for, ask again.
    std::size_t have = 0;
    for (int steps = 0;; ++steps) {
        check(steps < 8);
        auto p = socks5_parse_connect_reply(in.first(have));
        if (!p || p->complete) {
            check(p.ok() == whole.ok());
            if (p) check(p->size == whole->size);
            break;
        }
        check(p->size > have);
        if (p->size > in.size()) {
            // Short input: not a success (an error code may already show in two bytes).
            check(!whole || !whole->complete);
            break;
        }
        have = p->size;
    }
}

void http_reply(pp::ByteView in) {
    const std::string_view text(reinterpret_cast<const char*>(in.data()), in.size());
    auto r = http_parse_connect_response(in);
    if (r && r->complete) {
        check(r->size == in.size() && r->size <= kHttpHeadMax);
        check(text.find("\r\n\r\n") == in.size() - 4);
    } else if (r) {
        check(in.size() < kHttpHeadMax && text.find("\r\n\r\n") == std::string_view::npos);
        check(r->size > in.size());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const pp::ByteView in(data, size);
    socks5_reply(in);
    http_reply(in);
    if (size >= 2) {
        (void)socks5_parse_method(in.first(2), true);
        (void)socks5_parse_method(in.first(2), false);
        (void)socks5_parse_auth_reply(in.first(2));
    }
    return 0;
}

// Share links: pasted or scanned by people, written by anyone. Whatever parses must format
// and parse back to the same thing.
#include <cstdlib>
#include <string_view>

#include "client/links.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (auto s = pp::client::parse_server_link(text)) {
        auto back = pp::client::parse_server_link(pp::client::format_server_link(*s));
        if (!back || !(*back == *s)) std::abort();
    }
    if (auto c = pp::client::parse_contact_link(text)) {
        auto back = pp::client::parse_contact_link(pp::client::format_contact_link(*c));
        if (!back || back->account != c->account || back->identity_key != c->identity_key ||
            back->name != c->name || !(back->server == c->server))
            std::abort();
    }
    return 0;
}

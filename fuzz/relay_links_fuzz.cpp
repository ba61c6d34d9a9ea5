// Relay and SOCKS5 share links: pasted or scanned by people, written by anyone. Whatever parses
// must format and parse back to the same thing.
#include <sodium.h>

#include <cstdlib>
#include <string_view>

#include "wire/share_links.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    using namespace pp::wire;
    if (auto r = parse_relay_link(text)) {
        auto back = parse_relay_link(format_relay_link(*r));
        if (!back || back->host != r->host || back->port != r->port || back->pin != r->pin ||
            back->name != r->name || sodium_memcmp(back->secret.data(), r->secret.data(), 32) != 0)
            std::abort();
    }
    if (auto s = parse_socks5_link(text)) {
        auto back = parse_socks5_link(format_socks5_link(*s));
        if (!back || !(*back == *s)) std::abort();
        auto tg = parse_telegram_socks_link(format_telegram_socks_link(*s));
        if (!tg || !(*tg == *s)) std::abort();
    }
    if (auto t = parse_telegram_socks_link(text)) {
        auto back = parse_telegram_socks_link(format_telegram_socks_link(*t, TelegramForm::kWeb));
        if (!back || !(*back == *t)) std::abort();
        auto s = parse_socks5_link(format_socks5_link(*t));
        if (!s || !(*s == *t)) std::abort();
    }
    return 0;
}

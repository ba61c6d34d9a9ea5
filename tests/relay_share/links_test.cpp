// Relay and SOCKS5 share links: what we format parses back to the same thing, links written by
// other tools parse, and every malformed link is refused.
#include <gtest/gtest.h>

#include <string>

#include "wire/share_links.hpp"

namespace pp::wire {
namespace {

const std::string kPin(64, 'a');
// 32 bytes 0x00..0x1f in unpadded base64url.
const std::string kSecret = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

RelayLink sample_relay() {
    RelayLink l;
    l.host = "relay.example.org";
    l.port = 443;
    l.pin = kPin;
    for (std::size_t i = 0; i < 32; ++i) l.secret[i] = static_cast<std::uint8_t>(i);
    l.name = "Anna's relay";
    return l;
}

void expect_same(const RelayLink& a, const RelayLink& b) {
    EXPECT_EQ(a.host, b.host);
    EXPECT_EQ(a.port, b.port);
    EXPECT_EQ(a.pin, b.pin);
    EXPECT_EQ(sodium_memcmp(a.secret.data(), b.secret.data(), 32), 0);
    EXPECT_EQ(a.name, b.name);
}

TEST(RelayLink, FormatsTheDocumentedFormAndParsesBack) {
    auto l = sample_relay();
    const auto text = format_relay_link(l);
    EXPECT_EQ(text, "paperplane://relay?host=relay.example.org&port=443&pin=" + kPin +
                        "&secret=" + kSecret + "&name=Anna%27s%20relay");
    auto back = parse_relay_link(text);
    ASSERT_TRUE(back) << back.error().detail;
    expect_same(*back, l);
}

TEST(RelayLink, RoundTripsIpv6AndNoName) {
    auto l = sample_relay();
    l.host = "2001:db8::1";
    l.name.clear();
    auto back = parse_relay_link(format_relay_link(l));
    ASSERT_TRUE(back) << back.error().detail;
    expect_same(*back, l);
    // A bracketed address is accepted as well, and an upper-case pin is normalised.
    auto other =
        parse_relay_link("paperplane://relay?host=%5B::1%5D&port=1&pin=" + std::string(64, 'A') +
                         "&secret=" + kSecret);
    ASSERT_TRUE(other) << other.error().detail;
    EXPECT_EQ(other->host, "::1");
    EXPECT_EQ(other->pin, kPin);
}

TEST(RelayLink, RefusesMalformedLinks) {
    const std::string ok_tail = "&pin=" + kPin + "&secret=" + kSecret;
    const std::string bad[] = {
        "",
        "paperplane://relay",
        "paperplane://relay?",
        "paperplane://server?host=h&port=1" + ok_tail,
        "paperplane://relay?port=1" + ok_tail,                                    // no host
        "paperplane://relay?host=h" + ok_tail,                                    // no port
        "paperplane://relay?host=h&port=1&pin=" + kPin,                           // no secret
        "paperplane://relay?host=h&port=0" + ok_tail,                             // port 0
        "paperplane://relay?host=h&port=65536" + ok_tail,                         // port too big
        "paperplane://relay?host=h&port=+1" + ok_tail,                            // sign
        "paperplane://relay?host=h&port=1x" + ok_tail,                            // junk
        "paperplane://relay?host=a%20b&port=1" + ok_tail,                         // space in host
        "paperplane://relay?host=1.2.3.256&port=1" + ok_tail,                     // not an address
        "paperplane://relay?host=a..b&port=1" + ok_tail,                          // empty label
        "paperplane://relay?host=" + std::string(64, 'a') + "&port=1" + ok_tail,  // long label
        "paperplane://relay?host=%5Bh%5D&port=1" + ok_tail,  // name in brackets
        "paperplane://relay?host=h&port=1&pin=" + kPin.substr(2) + "&secret=" + kSecret,
        "paperplane://relay?host=h&port=1&pin=" + std::string(64, 'g') + "&secret=" + kSecret,
        "paperplane://relay?host=h&port=1&pin=" + kPin + "&secret=" + kSecret + "A",  // 33 bytes
        "paperplane://relay?host=h&port=1&pin=" + kPin + "&secret=" + kSecret.substr(1),
        "paperplane://relay?host=h&port=1&pin=" + kPin + "&secret=" + kSecret + "=",  // padded
        // Standard base64 alphabet instead of base64url.
        "paperplane://relay?host=h&port=1&pin=" + kPin + "&secret=" + std::string(42, 'A') + "+",
        // Non-canonical: the last character carries bits that do not exist.
        "paperplane://relay?host=h&port=1&pin=" + kPin + "&secret=" + kSecret.substr(0, 42) + "f",
        "paperplane://relay?host=h&port=1" + ok_tail + "&name=",       // empty name
        "paperplane://relay?host=h&port=1" + ok_tail + "&name=a%0Ab",  // control char
        "paperplane://relay?host=h&port=1" + ok_tail + "&extra=1",     // unknown
        "paperplane://relay?host=h&host=h&port=1" + ok_tail,           // repeated
        "paperplane://relay?host=h&port=1" + ok_tail + "&",            // trailing &
        "paperplane://relay?host=h&port=1" + ok_tail + "&name=%4",     // bad escape
        "paperplane://relay?host=h&port=1" + ok_tail + "&name=" + std::string(2048, 'a'),
    };
    for (const auto& link : bad) {
        auto r = parse_relay_link(link);
        EXPECT_FALSE(r) << link;
        if (!r) {
            EXPECT_EQ(r.error().code, ErrorCode::kMalformed);
        }
    }
}

TEST(Socks5Link, FormatsAndParsesWithAndWithoutCredentials) {
    Socks5Link l{"proxy.example.org", 1080, "alice", "p@ss:w/rd%"};
    const auto text = format_socks5_link(l);
    EXPECT_EQ(text, "socks5://alice:p%40ss%3Aw%2Frd%25@proxy.example.org:1080");
    auto back = parse_socks5_link(text);
    ASSERT_TRUE(back) << back.error().detail;
    EXPECT_EQ(*back, l);

    Socks5Link open{"10.0.0.1", 9050, "", ""};
    EXPECT_EQ(format_socks5_link(open), "socks5://10.0.0.1:9050");
    auto open_back = parse_socks5_link("socks5://10.0.0.1:9050/");
    ASSERT_TRUE(open_back) << open_back.error().detail;
    EXPECT_EQ(*open_back, open);
}

TEST(Socks5Link, Ipv6HostsGoInBrackets) {
    Socks5Link l{"2001:db8::5", 1080, "u", "p"};
    EXPECT_EQ(format_socks5_link(l), "socks5://u:p@[2001:db8::5]:1080");
    auto back = parse_socks5_link(format_socks5_link(l));
    ASSERT_TRUE(back) << back.error().detail;
    EXPECT_EQ(*back, l);
    EXPECT_FALSE(parse_socks5_link("socks5://2001:db8::5:1080"));
}

TEST(Socks5Link, AcceptsSubDelimitersInUserinfoAsRfc3986Allows) {
    auto r = parse_socks5_link("socks5://a!b$c:x;y=z@h:1");
    ASSERT_TRUE(r) << r.error().detail;
    EXPECT_EQ(r->user, "a!b$c");
    EXPECT_EQ(r->password, "x;y=z");  // only the first ':' separates
    auto colon = parse_socks5_link("socks5://u:a:b@h:1");
    ASSERT_TRUE(colon);
    EXPECT_EQ(colon->password, "a:b");
}

TEST(Socks5Link, RefusesMalformedLinks) {
    const std::string bad[] = {
        "",
        "socks5://",
        "socks4://h:1",
        "http://h:1",
        "socks5://h",   // no port
        "socks5://h:",  // empty port
        "socks5://h:0",
        "socks5://h:70000",
        "socks5://h:1/path",
        "socks5://us:p%06w@h:1",  // a control byte in the password (found by fuzzing)
        "socks5://u%0a:pw@h:1",
        "socks5://h:1?q",
        "socks5://h:1#f",
        "socks5://user@h:1",                             // user without password
        "socks5://:p@h:1",                               // empty user
        "socks5://u:@h:1",                               // empty password
        "socks5://u:p@x@h:1",                            // raw '@'
        "socks5://u\"x:p@h:1",                           // not a userinfo character
        "socks5://u:%zz@h:1",                            // bad escape
        "socks5://" + std::string(256, 'u') + ":p@h:1",  // user over 255 bytes
        "socks5://[h]:1",                                // a name in brackets
        "socks5://[::1:1",                               // unclosed
        "socks5://[::1]1",
        "socks5://[::1]",
        "socks5://bad_host!:1",
        "socks5://" + std::string(2100, 'a') + ":1",
    };
    for (const auto& link : bad) {
        auto r = parse_socks5_link(link);
        EXPECT_FALSE(r) << link;
        if (!r) {
            EXPECT_EQ(r.error().code, ErrorCode::kMalformed);
        }
    }
}

TEST(TelegramLink, BothFormsRoundTrip) {
    Socks5Link l{"proxy.example.org", 1080, "bob", "s3cret&more"};
    const auto app = format_telegram_socks_link(l);
    EXPECT_EQ(app, "tg://socks?server=proxy.example.org&port=1080&user=bob&pass=s3cret%26more");
    const auto web = format_telegram_socks_link(l, TelegramForm::kWeb);
    EXPECT_EQ(web,
              "https://t.me/socks?server=proxy.example.org&port=1080&user=bob&pass=s3cret%26more");
    for (const auto& text : {app, web}) {
        auto back = parse_telegram_socks_link(text);
        ASSERT_TRUE(back) << back.error().detail;
        EXPECT_EQ(*back, l);
    }
    Socks5Link open{"1.2.3.4", 443, "", ""};
    EXPECT_EQ(format_telegram_socks_link(open), "tg://socks?server=1.2.3.4&port=443");
    auto back = parse_telegram_socks_link("https://t.me/socks?port=443&server=1.2.3.4");
    ASSERT_TRUE(back) << back.error().detail;
    EXPECT_EQ(*back, open);
}

TEST(TelegramLink, RefusesMalformedLinks) {
    const std::string bad[] = {
        "tg://socks",
        "tg://proxy?server=h&port=1&secret=00",  // MTProto proxies are another thing
        "tg://socks?server=h",
        "tg://socks?port=1",
        "tg://socks?server=h&port=1&user=u",  // user without pass
        "tg://socks?server=h&port=1&pass=p",
        "tg://socks?server=h&port=1&user=&pass=p",
        "tg://socks?server=h&port=1&secret=x",
        "tg://socks?server=h%20x&port=1",
        "tg://socks?server=::1%00x&port=1",  // found by the fuzzer: inet_pton stops at NUL
        "tg://socks?server=1.2.3.4%00&port=1",
        "https://t.me/proxy?server=h&port=1",
        "http://t.me/socks?server=h&port=1",
        "tg://socks?server=h&port=1&user=u%0A&pass=p",  // control bytes in credentials
        "tg://socks?server=h&port=1&user=u&pass=p%7F",
        "tg://socks?server=h&port=1&user=u&pass=%00p",
    };
    for (const auto& link : bad) {
        auto r = parse_telegram_socks_link(link);
        EXPECT_FALSE(r) << link;
    }
}

TEST(Host, ValidatesNamesAndAddresses) {
    for (auto h : {"a", "example.org", "example.org.", "xn--80ak6aa92e.com", "_srv.example.org",
                   "10.0.0.1", "::1", "2001:db8::1", "::ffff:1.2.3.4"})
        EXPECT_TRUE(valid_host(h)) << h;
    for (auto h : {"", ".", "a..b", ".a", "a b", "1.2.3", "1.2.3.4.5", "1.2.3.4.", "300.1.1.1",
                   "fe80::1%eth0", "[::1]", "a/b", "a:b"})
        EXPECT_FALSE(valid_host(h)) << h;
}

}  // namespace
}  // namespace pp::wire

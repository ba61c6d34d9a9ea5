// Share links: what we print parses back, and what a stranger hands us is checked strictly.
#include <gtest/gtest.h>

#include "client/content_codec.hpp"
#include "client/links.hpp"

namespace pp::client {
namespace {

ContactLink sample() {
    ContactLink l;
    l.server = {"chat.example.org", 443, std::string(64, 'a')};
    for (std::size_t i = 0; i < l.account.size(); ++i) l.account[i] = static_cast<std::uint8_t>(i);
    l.identity_key.assign(33, 0x11);
    l.identity_key[0] = 0x05;
    l.name = "Zoë & co";
    return l;
}

TEST(LinksTest, ContactLinkRoundTrips) {
    const auto l = sample();
    const auto text = format_contact_link(l);
    EXPECT_TRUE(text.starts_with("paperplane://contact?host=chat.example.org&port=443&pin="));
    auto back = parse_contact_link(text);
    ASSERT_TRUE(back) << back.error().detail;
    EXPECT_EQ(back->server, l.server);
    EXPECT_EQ(back->account, l.account);
    EXPECT_EQ(back->identity_key, l.identity_key);
    EXPECT_EQ(back->name, l.name);
}

TEST(LinksTest, ServerLinkRoundTripsIncludingIpv6) {
    ServerAddress s{"::1", 8443, std::string(64, 'f')};
    auto back = parse_server_link(format_server_link(s));
    ASSERT_TRUE(back) << back.error().detail;
    EXPECT_EQ(*back, s);
    // Upper-case pins are accepted and normalised.
    auto upper = parse_server_link("paperplane://server?host=h&port=1&pin=" + std::string(64, 'F'));
    ASSERT_TRUE(upper);
    EXPECT_EQ(upper->pin, std::string(64, 'f'));
}

TEST(LinksTest, MalformedLinksAreRefused) {
    const std::string pin(64, 'a');
    const std::string good = format_contact_link(sample());
    const std::vector<std::string> bad = {
        "",
        "https://example.org",
        "paperplane://server",
        "paperplane://server?",
        "paperplane://server?host=h&port=0&pin=" + pin,
        "paperplane://server?host=h&port=65536&pin=" + pin,
        "paperplane://server?host=h&port=12x&pin=" + pin,
        "paperplane://server?host=h&port=1&pin=abc",
        "paperplane://server?host=h&port=1&pin=" + std::string(64, 'g'),
        "paperplane://server?host=h&port=1&pin=" + pin + "&pin=" + pin,
        "paperplane://server?host=h&port=1&pin=" + pin + "&extra=1",
        "paperplane://server?host=h%2&port=1&pin=" + pin,
        "paperplane://server?host=a%20b&port=1&pin=" + pin,
        "paperplane://server?host=h&port=1",
        "paperplane://contact?host=h&port=1&pin=" + pin,  // no account or identity
        good.substr(0, good.find("&identity=")),
        good + "&name=",
        good.substr(0, good.find("&identity=") + 10) + "06" + std::string(64, '1'),
        "paperplane://contact?host=h&port=1&pin=" + pin + "&account=00&identity=05",
        good + std::string(3000, 'a'),
    };
    for (const auto& b : bad) {
        EXPECT_FALSE(parse_server_link(b)) << b;
        EXPECT_FALSE(parse_contact_link(b)) << b;
    }
}

TEST(LinksTest, DisplayNames) {
    EXPECT_TRUE(valid_display_name("Bob"));
    EXPECT_TRUE(valid_display_name("Zoë"));
    EXPECT_FALSE(valid_display_name(""));
    EXPECT_FALSE(valid_display_name(std::string(65, 'a')));
    EXPECT_FALSE(valid_display_name("bell\a"));
    EXPECT_FALSE(valid_display_name("new\nline"));
}

TEST(ContentCodecTest, PaddedToBlocksAndParsedBack) {
    for (std::size_t len : {0u, 1u, 100u, 150u, 157u, 158u, 159u, 160u, 300u, 4000u}) {
        content::Content c;
        c.mutable_data()->set_text(std::string(len, 'x'));
        c.mutable_data()->set_id(std::string(16, '\1'));
        const auto bytes = encode_content(c);
        EXPECT_LE((bytes.size() + 1) % kPaddingBlock, 1u) << len << " -> " << bytes.size();
        auto back = decode_content(bytes);
        ASSERT_TRUE(back) << len;
        EXPECT_EQ(back->data().text(), std::string(len, 'x'));
    }
}

TEST(ContentCodecTest, GarbageAndEmptyAreRefused) {
    EXPECT_FALSE(decode_content(Bytes{}));
    EXPECT_FALSE(decode_content(Bytes{0xff, 0xff, 0xff}));
    content::Content only_padding;
    only_padding.set_padding("\0\0\0");
    Bytes b(only_padding.ByteSizeLong());
    only_padding.SerializeToArray(b.data(), static_cast<int>(b.size()));
    EXPECT_FALSE(decode_content(b));
    EXPECT_FALSE(decode_content(Bytes(kMaxContentBytes + 1, 0)));
}

}  // namespace
}  // namespace pp::client

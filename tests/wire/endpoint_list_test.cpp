#include "wire/endpoint_list.hpp"

#include <gtest/gtest.h>

#include "wire/paperplane.pb.h"
#include "wire/share_links.hpp"

namespace pp::wire {
namespace {

namespace v1 = paperplane::wire::v1;

std::string relay_link(std::string host, std::uint8_t fill) {
    RelayLink l;
    l.host = std::move(host);
    l.port = 443;
    l.pin = std::string(64, 'a');
    for (std::size_t i = 0; i < 32; ++i) l.secret[i] = fill;
    return format_relay_link(l);
}

EndpointList sample() {
    EndpointList l;
    l.issued_at = 1'800'000'000;
    l.endpoints = {"198.51.100.7:443", "chat.example.org:8443", "[2001:db8::1]:443"};
    l.relays = {relay_link("relay.example.net", 7), relay_link("203.0.113.9", 9)};
    return l;
}

ErrorCode code_of(const Result<EndpointList>& r) {
    EXPECT_FALSE(r.ok());
    return r.ok() ? ErrorCode::kInternal : r.error().code;
}

// Signs arbitrary list bytes, as a server with that key could.
Bytes sign_bytes(const std::string& list, const crypto::SigningKey& key) {
    Bytes msg(kEndpointListContext.begin(), kEndpointListContext.end());
    msg.push_back(0);
    append(msg, as_bytes(list));
    const auto sig = crypto::sign(key, msg);
    v1::SignedEndpointList s;
    s.set_list(list);
    s.set_signature(std::string(sig.begin(), sig.end()));
    const auto out = s.SerializeAsString();
    return Bytes(out.begin(), out.end());
}

// Re-signs an arbitrary EndpointList message.
Bytes sign_raw(const v1::EndpointList& w, const crypto::SigningKey& key) {
    return sign_bytes(w.SerializeAsString(), key);
}

TEST(EndpointList, SignVerifyRoundTrip) {
    const auto key = crypto::SigningKey::generate();
    const auto list = sample();
    const Bytes signed_list = sign_endpoint_list(list, key);
    auto back = verify_endpoint_list(signed_list, key.verify_key());
    ASSERT_TRUE(back.ok()) << back.error().detail;
    EXPECT_EQ(*back, list);

    EndpointList empty;
    auto e = verify_endpoint_list(sign_endpoint_list(empty, key), key.verify_key());
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(*e, empty);
}

TEST(EndpointList, SignatureCoversContextAndExactBytes) {
    const auto key = crypto::SigningKey::generate();
    const Bytes signed_list = sign_endpoint_list(sample(), key);
    v1::SignedEndpointList s;
    ASSERT_TRUE(s.ParseFromArray(signed_list.data(), static_cast<int>(signed_list.size())));
    // A bare signature over the list (no context) must not be what was made.
    EXPECT_FALSE(
        crypto::verify(key.verify_key(), as_bytes(s.list()), as_bytes(s.signature())).ok());
    Bytes msg(kEndpointListContext.begin(), kEndpointListContext.end());
    msg.push_back(0);
    append(msg, as_bytes(s.list()));
    EXPECT_TRUE(crypto::verify(key.verify_key(), msg, as_bytes(s.signature())).ok());
}

TEST(EndpointList, UnknownFieldsStillVerifyOverReceivedBytes) {
    // A newer server may add fields; the signature is over the bytes as carried, so an older
    // client verifies them without re-serializing.
    const auto key = crypto::SigningKey::generate();
    v1::EndpointList w;
    w.set_issued_at(5);
    w.add_endpoints("198.51.100.7:443");
    std::string list = w.SerializeAsString();
    list += std::string("\xa0\x06\x01", 3);  // field 100, varint 1
    const auto blob = sign_bytes(list, key);
    auto r = verify_endpoint_list(blob, key.verify_key());
    ASSERT_TRUE(r.ok()) << r.error().detail;
    EXPECT_EQ(r->issued_at, 5u);
}

TEST(EndpointList, TamperedListSignatureOrKeyIsRefused) {
    const auto key = crypto::SigningKey::generate();
    const Bytes signed_list = sign_endpoint_list(sample(), key);
    v1::SignedEndpointList s;
    ASSERT_TRUE(s.ParseFromArray(signed_list.data(), static_cast<int>(signed_list.size())));

    for (std::size_t i = 0; i < s.list().size(); ++i) {
        auto t = s;
        (*t.mutable_list())[i] ^= 0x01;
        const auto blob = t.SerializeAsString();
        EXPECT_EQ(code_of(verify_endpoint_list(as_bytes(blob), key.verify_key())),
                  ErrorCode::kInvalidSignature)
            << "list byte " << i;
    }
    for (std::size_t i = 0; i < s.signature().size(); ++i) {
        auto t = s;
        (*t.mutable_signature())[i] ^= 0x40;
        const auto blob = t.SerializeAsString();
        EXPECT_EQ(code_of(verify_endpoint_list(as_bytes(blob), key.verify_key())),
                  ErrorCode::kInvalidSignature);
    }
    auto no_sig = s;
    no_sig.clear_signature();
    EXPECT_EQ(code_of(verify_endpoint_list(as_bytes(no_sig.SerializeAsString()), key.verify_key())),
              ErrorCode::kInvalidSignature);
    auto long_sig = s;
    long_sig.mutable_signature()->push_back('\0');
    EXPECT_EQ(
        code_of(verify_endpoint_list(as_bytes(long_sig.SerializeAsString()), key.verify_key())),
        ErrorCode::kInvalidSignature);

    const auto other = crypto::SigningKey::generate();
    EXPECT_EQ(code_of(verify_endpoint_list(signed_list, other.verify_key())),
              ErrorCode::kInvalidSignature);
}

TEST(EndpointList, TruncatedEmptyAndOversizeAreMalformedOrUnsigned) {
    const auto key = crypto::SigningKey::generate();
    const Bytes signed_list = sign_endpoint_list(sample(), key);
    EXPECT_EQ(code_of(verify_endpoint_list({}, key.verify_key())), ErrorCode::kMalformed);
    for (std::size_t n = 1; n < signed_list.size(); ++n) {
        auto r = verify_endpoint_list(ByteView(signed_list.data(), n), key.verify_key());
        EXPECT_FALSE(r.ok()) << "prefix of " << n << " bytes";
    }
    Bytes big(kMaxEndpointListBytes + 1, 0);
    EXPECT_EQ(code_of(verify_endpoint_list(big, key.verify_key())), ErrorCode::kMalformed);
    const Bytes garbage = {0xff, 0xff, 0xff, 0xff};
    EXPECT_EQ(code_of(verify_endpoint_list(garbage, key.verify_key())), ErrorCode::kMalformed);
}

TEST(EndpointList, SignedButInvalidEntriesAreRefused) {
    const auto key = crypto::SigningKey::generate();
    const std::string bad_endpoints[] = {
        "",
        "198.51.100.7",
        "198.51.100.7:0",
        "198.51.100.7:65536",
        "198.51.100.7:0443",
        "198.51.100.7:+443",
        "2001:db8::1:443",
        "[198.51.100.7]:443",
        "[not-v6]:443",
        "bad host:443",
        "host\n.example:443",
        std::string("a\0b:443", 7),
        "999.1.1.1:443",
        ":443",
    };
    for (const auto& e : bad_endpoints) {
        EXPECT_FALSE(check_endpoint(e).ok()) << e;
        v1::EndpointList w;
        w.add_endpoints(e);
        EXPECT_EQ(code_of(verify_endpoint_list(sign_raw(w, key), key.verify_key())),
                  ErrorCode::kMalformed)
            << e;
    }
    for (const auto& r : {std::string("paperplane://relay?host=x"), std::string("socks5://h:1"),
                          relay_link("relay.example.net", 1) + "&extra=1"}) {
        EXPECT_FALSE(check_vouched_relay(r).ok()) << r;
        v1::EndpointList w;
        w.add_relays(r);
        EXPECT_EQ(code_of(verify_endpoint_list(sign_raw(w, key), key.verify_key())),
                  ErrorCode::kMalformed);
    }
    v1::EndpointList many;
    for (std::size_t i = 0; i <= kMaxEndpoints; ++i) many.add_endpoints("198.51.100.7:443");
    EXPECT_EQ(code_of(verify_endpoint_list(sign_raw(many, key), key.verify_key())),
              ErrorCode::kMalformed);
    many.mutable_endpoints()->RemoveLast();
    EXPECT_TRUE(verify_endpoint_list(sign_raw(many, key), key.verify_key()).ok());
    v1::EndpointList many_relays;
    for (std::size_t i = 0; i <= kMaxRelays; ++i)
        many_relays.add_relays(relay_link("r.example", 3));
    EXPECT_EQ(code_of(verify_endpoint_list(sign_raw(many_relays, key), key.verify_key())),
              ErrorCode::kMalformed);

    for (const auto& e : {"a.example:1", "198.51.100.7:65535", "[::1]:443", "localhost:8443"})
        EXPECT_TRUE(check_endpoint(e).ok()) << e;
}

TEST(EndpointList, LinkRoundTrip) {
    const auto key = crypto::SigningKey::generate();
    const Bytes signed_list = sign_endpoint_list(sample(), key);
    const std::string link = format_endpoints_link(signed_list);
    EXPECT_TRUE(link.starts_with("paperplane://endpoints?list="));
    EXPECT_EQ(link.find('='), link.size() - link.substr(link.find('=')).size())
        << "one '=': the parameter's, no padding";
    auto back = parse_endpoints_link(link);
    ASSERT_TRUE(back.ok()) << back.error().detail;
    EXPECT_EQ(*back, signed_list);
    EXPECT_TRUE(verify_endpoint_list(*back, key.verify_key()).ok());
    for (std::size_t n = 1; n <= 4; ++n) {  // every length modulo 3
        const Bytes b(n, 0xfb);
        auto r = parse_endpoints_link(format_endpoints_link(b));
        ASSERT_TRUE(r.ok());
        EXPECT_EQ(*r, b);
    }
}

TEST(EndpointList, LinkGarbageIsMalformed) {
    const std::string good = format_endpoints_link(Bytes{1, 2, 3, 4, 5});
    const std::string bad[] = {
        "",
        "paperplane://endpoints?list=",
        "paperplane://endpoints?",
        "paperplane://endpoints",
        "paperplane://relay?list=AQID",
        "PAPERPLANE://endpoints?list=AQID",
        " paperplane://endpoints?list=AQID",
        "paperplane://endpoints?list=AQID ",
        "paperplane://endpoints?list=AQID&list=AQID",
        "paperplane://endpoints?list=AQID&x=1",
        "paperplane://endpoints?x=1&list=AQID",
        "paperplane://endpoints?list=AQID#frag",
        "paperplane://endpoints?list=AQIDBA==",
        "paperplane://endpoints?list=AQ+/",
        "paperplane://endpoints?list=A",
        "paperplane://endpoints?list=AR",  // non-zero unused bits: not canonical
        "paperplane://endpoints?list=%41QID",
        std::string("paperplane://endpoints?list=AQ\0D", 32),
        "paperplane://endpoints?list=" + std::string(kMaxEndpointListBytes / 3 * 4 + 8, 'A'),
    };
    for (const auto& link : bad) {
        auto r = parse_endpoints_link(link);
        ASSERT_FALSE(r.ok()) << link.substr(0, 60);
        EXPECT_EQ(r.error().code, ErrorCode::kMalformed);
    }
    EXPECT_TRUE(parse_endpoints_link(good).ok());
    // The largest list a link may carry.
    const Bytes max(kMaxEndpointListBytes, 0x5a);
    EXPECT_TRUE(parse_endpoints_link(format_endpoints_link(max)).ok());
    const Bytes over(kMaxEndpointListBytes + 1, 0x5a);
    EXPECT_FALSE(parse_endpoints_link(format_endpoints_link(over)).ok());
}

}  // namespace
}  // namespace pp::wire

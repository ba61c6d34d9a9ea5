// The relay authenticator and status reply (wire/relay_auth): round trip, every way a record
// can be wrong, the clock window's edges, and the reply codes.
#include <gtest/gtest.h>

#include "crypto/kdf.hpp"
#include "wire/relay_auth.hpp"

namespace pp::wire::relay {
namespace {

LinkSecret secret_of(std::uint8_t fill) {
    Bytes b(kSecretSize, fill);
    return LinkSecret(b);
}

Nonce nonce_of(std::uint8_t fill) {
    Nonce n;
    n.fill(fill);
    return n;
}

SessionBinding binding_of(std::uint8_t fill) {
    SessionBinding b;
    b.fill(fill);
    return b;
}
const SessionBinding kBinding = binding_of(0x42);

constexpr std::uint64_t kNow = 1'800'000'000;
constexpr std::uint64_t kWindow = 120;

TEST(RelayAuth, RoundTrip) {
    const AuthKey key(secret_of(7));
    auto rec = encode_authenticator(key, kBinding, kNow, nonce_of(3), "home.example:443");
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->size(), kMinAuthSize + 16);  // no padding asked for
    EXPECT_EQ((*rec)[0], kAuthVersion);
    auto a = verify_authenticator(key, kBinding, *rec, kNow, kWindow);
    ASSERT_TRUE(a) << a.error().detail;
    EXPECT_EQ(a->unix_seconds, kNow);
    EXPECT_EQ(a->nonce, nonce_of(3));
    EXPECT_EQ(a->target, "home.example:443");
    EXPECT_TRUE(std::equal(a->mac.begin(), a->mac.end(), rec->end() - kMacSize));
}

TEST(RelayAuth, TimeIsBigEndian) {
    const AuthKey key(secret_of(7));
    auto rec = encode_authenticator(key, kBinding, 0x0102030405060708ULL, nonce_of(0), "h:1");
    ASSERT_TRUE(rec);
    for (int i = 0; i < 8; ++i) EXPECT_EQ((*rec)[1 + i], i + 1);
}

TEST(RelayAuth, WrongSecretIsBadMac) {
    auto rec = encode_authenticator(AuthKey(secret_of(7)), kBinding, kNow, nonce_of(3), "h:443");
    ASSERT_TRUE(rec);
    auto a = verify_authenticator(AuthKey(secret_of(8)), kBinding, *rec, kNow, kWindow);
    ASSERT_FALSE(a);
    EXPECT_EQ(a.error().code, ErrorCode::kBadMac);
}

TEST(RelayAuth, EveryFlippedBitIsRejected) {
    const AuthKey key(secret_of(7));
    auto rec = encode_authenticator(key, kBinding, kNow, nonce_of(3), "h:443");
    ASSERT_TRUE(rec);
    for (std::size_t i = 0; i < rec->size(); ++i) {
        for (int bit = 0; bit < 8; ++bit) {
            Bytes bad = *rec;
            bad[i] ^= static_cast<std::uint8_t>(1u << bit);
            EXPECT_FALSE(verify_authenticator(key, kBinding, bad, kNow, kWindow))
                << i << ":" << bit;
        }
    }
}

TEST(RelayAuth, TruncatedAndExtendedAreMalformed) {
    const AuthKey key(secret_of(7));
    auto rec = encode_authenticator(key, kBinding, kNow, nonce_of(3), "h:443");
    ASSERT_TRUE(rec);
    for (std::size_t n = 0; n < rec->size(); ++n) {
        auto a = verify_authenticator(key, kBinding, ByteView(*rec).first(n), kNow, kWindow);
        ASSERT_FALSE(a);
        EXPECT_EQ(a.error().code, ErrorCode::kMalformed) << n;
    }
    Bytes longer = *rec;
    longer.push_back(0);
    auto a = verify_authenticator(key, kBinding, longer, kNow, kWindow);
    ASSERT_FALSE(a);
    EXPECT_EQ(a.error().code, ErrorCode::kMalformed);
}

TEST(RelayAuth, HttpRequestIsMalformed) {
    const std::string get = "GET / HTTP/1.1\r\nHost: example.org\r\nUser-Agent: curl/7.88\r\n\r\n";
    auto a = verify_authenticator(AuthKey(secret_of(7)), kBinding, as_bytes(get), kNow, kWindow);
    ASSERT_FALSE(a);
    EXPECT_EQ(a.error().code, ErrorCode::kMalformed);
}

TEST(RelayAuth, ClockWindowEdges) {
    const AuthKey key(secret_of(7));
    for (const std::int64_t skew : {-121, -120, 0, 120, 121}) {
        const auto t = static_cast<std::uint64_t>(static_cast<std::int64_t>(kNow) + skew);
        auto rec = encode_authenticator(key, kBinding, t, nonce_of(1), "h:443");
        ASSERT_TRUE(rec);
        auto a = verify_authenticator(key, kBinding, *rec, kNow, kWindow);
        if (skew >= -120 && skew <= 120) {
            EXPECT_TRUE(a) << skew;
        } else {
            ASSERT_FALSE(a) << skew;
            EXPECT_EQ(a.error().code, ErrorCode::kLimitExceeded);
        }
    }
}

TEST(RelayAuth, UnknownVersionWithValidMacIsRejected) {
    // A future client: version 3 with a correct MAC (made here with the documented key
    // derivation) still gets no relay from a v2 relay.
    const LinkSecret secret = secret_of(7);
    const AuthKey key(secret);
    auto rec = encode_authenticator(key, kBinding, kNow, nonce_of(3), "h:443");
    ASSERT_TRUE(rec);
    Bytes v3(rec->begin(), rec->end() - kMacSize);
    v3[0] = 3;
    const auto k = crypto::hkdf_sha256(secret.view(), {}, as_bytes(kAuthInfo), 32);
    append(v3, crypto::hmac_sha256(k.view(), {ByteView(kBinding), ByteView(v3)}).view());
    auto a = verify_authenticator(key, kBinding, v3, kNow, kWindow);
    ASSERT_FALSE(a);
    EXPECT_EQ(a.error().code, ErrorCode::kInvalidVersion);
    // And the documented derivation (binding first, then the fields) is what the encoder uses.
    Bytes v2(rec->begin(), rec->end() - kMacSize);
    append(v2, crypto::hmac_sha256(k.view(), {ByteView(kBinding), ByteView(v2)}).view());
    EXPECT_EQ(v2, *rec);
}

// A record made in one TLS session verifies in no other: the exporter value differs.
TEST(RelayAuth, OtherSessionBindingIsBadMac) {
    const AuthKey key(secret_of(7));
    auto rec = encode_authenticator(key, kBinding, kNow, nonce_of(3), "h:443");
    ASSERT_TRUE(rec);
    auto a = verify_authenticator(key, binding_of(0x43), *rec, kNow, kWindow);
    ASSERT_FALSE(a);
    EXPECT_EQ(a.error().code, ErrorCode::kBadMac);
}

TEST(RelayAuth, PaddingIsCarriedAndCovered) {
    const AuthKey key(secret_of(7));
    for (const std::size_t n :
         {std::size_t{0}, std::size_t{1}, std::size_t{200}, kMaxPaddingSize}) {
        const Bytes pad(n, 0xAB);
        auto rec = encode_authenticator(key, kBinding, kNow, nonce_of(3), "h:443", pad);
        ASSERT_TRUE(rec) << n;
        EXPECT_EQ(rec->size(), kMinAuthSize + 5 + n);
        auto a = verify_authenticator(key, kBinding, *rec, kNow, kWindow);
        ASSERT_TRUE(a) << n;
        EXPECT_EQ(a->padding, pad);
        if (n == 0) continue;
        Bytes bad = *rec;
        bad[rec->size() - kMacSize - 1] ^= 1;  // the last padding byte
        auto b = verify_authenticator(key, kBinding, bad, kNow, kWindow);
        ASSERT_FALSE(b);
        EXPECT_EQ(b.error().code, ErrorCode::kBadMac);
    }
    EXPECT_FALSE(encode_authenticator(key, kBinding, kNow, nonce_of(3), "h:443",
                                      Bytes(kMaxPaddingSize + 1, 0)));
}

TEST(RelayAuth, TargetLimits) {
    const AuthKey key(secret_of(7));
    EXPECT_FALSE(encode_authenticator(key, kBinding, kNow, nonce_of(0), ""));
    EXPECT_FALSE(encode_authenticator(key, kBinding, kNow, nonce_of(0), std::string(256, 'a')));
    auto max = encode_authenticator(key, kBinding, kNow, nonce_of(0), std::string(255, 'a'),
                                    Bytes(kMaxPaddingSize, 0));
    ASSERT_TRUE(max);
    EXPECT_EQ(max->size(), kMaxAuthSize);
    EXPECT_TRUE(verify_authenticator(key, kBinding, *max, kNow, kWindow));
}

TEST(RelayAuth, DifferentNoncesGiveDifferentMacs) {
    const AuthKey key(secret_of(7));
    auto a = encode_authenticator(key, kBinding, kNow, nonce_of(1), "h:443");
    auto b = encode_authenticator(key, kBinding, kNow, nonce_of(2), "h:443");
    ASSERT_TRUE(a && b);
    EXPECT_FALSE(std::equal(a->end() - kMacSize, a->end(), b->end() - kMacSize));
}

TEST(RelayAuth, Reply) {
    for (auto s : {Status::kOk, Status::kNotAllowed, Status::kUnreachable, Status::kInternal,
                   Status::kBusy}) {
        const auto r = encode_reply(s);
        auto parsed = parse_reply(r);
        ASSERT_TRUE(parsed);
        EXPECT_EQ(*parsed, s);
    }
    const std::uint8_t http[] = {'H', 'T'};
    EXPECT_FALSE(parse_reply(http));
    const std::uint8_t unknown[] = {kAuthVersion, 9};
    EXPECT_FALSE(parse_reply(unknown));
    const std::uint8_t short_reply[] = {kAuthVersion};
    EXPECT_FALSE(parse_reply(short_reply));
}

}  // namespace
}  // namespace pp::wire::relay

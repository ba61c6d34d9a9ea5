// The shared field loop of the message and record parsers: what it skips, what it refuses,
// and that a required field is required. The parsers' own tests cover their fields.
#include "protocol/proto_fields.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace pp::protocol::proto {
namespace {

constexpr FieldErrors kErrors{"lacks a field", "unknown or repeated field"};

Bytes encode(const std::vector<std::pair<std::uint32_t, std::uint64_t>>& varints) {
    Writer w;
    for (const auto& [number, value] : varints) w.varint_field(number, value);
    return w.take();
}

struct Parsed {
    std::uint32_t a = 0;
    std::optional<std::uint32_t> b;
    std::vector<std::uint32_t> c;
};

Result<Parsed> parse(ByteView body, Strictness strictness) {
    Parsed p;
    auto each_c = [&p](const Field& f) -> Result<void> {
        PP_TRY(v, as_uint32(f));
        if (v == 0) return malformed("c may not be 0");
        p.c.push_back(v);
        return {};
    };
    PP_TRY_VOID(read_fields(body, strictness, kErrors, rule(1, Presence::kRequired, into(p.a)),
                            rule(2, Presence::kOptional, into(p.b)),
                            rule(3, Presence::kRepeated, each_c)));
    return p;
}

TEST(ProtoFields, ReadsEveryRuleInAnyOrder) {
    for (auto s : {kWireMessage, kRecord}) {
        auto p = parse(encode({{3, 7}, {2, 5}, {1, 9}, {3, 8}}), s);
        ASSERT_TRUE(p);
        EXPECT_EQ(p->a, 9u);
        EXPECT_EQ(p->b, 5u);
        EXPECT_EQ(p->c, (std::vector<std::uint32_t>{7, 8}));  // in order
    }
}

TEST(ProtoFields, ARequiredFieldMustBeThere) {
    for (auto s : {kWireMessage, kRecord}) {
        auto p = parse(encode({{2, 5}, {3, 1}}), s);
        ASSERT_FALSE(p);
        EXPECT_EQ(p.error().code, ErrorCode::kMalformed);
        EXPECT_EQ(p.error().detail, "lacks a field");
        auto only_required = parse(encode({{1, 4}}), s);
        ASSERT_TRUE(only_required);
        EXPECT_FALSE(only_required->b);
        EXPECT_TRUE(only_required->c.empty());
    }
}

// As protobuf and libsignal read messages: unknown fields are skipped, and of a singular field
// given twice the last one counts.
TEST(ProtoFields, WireMessagesSkipUnknownFieldsAndTakeTheLastOfARepeat) {
    auto p = parse(encode({{1, 1}, {9, 4}, {1, 2}, {63, 1}, {200, 1}}), kWireMessage);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->a, 2u);
}

// Our records are written by us alone: anything unexpected means a corrupt record.
TEST(ProtoFields, RecordsRefuseUnknownAndRepeatedFields) {
    for (const auto& body : {encode({{1, 1}, {9, 4}}), encode({{1, 1}, {200, 4}}),
                             encode({{1, 1}, {1, 2}}), encode({{2, 1}, {1, 1}, {2, 1}})}) {
        auto p = parse(body, kRecord);
        ASSERT_FALSE(p);
        EXPECT_EQ(p.error().detail, "unknown or repeated field");
    }
}

TEST(ProtoFields, ARuleThatRefusesItsFieldEndsTheParse) {
    for (auto s : {kWireMessage, kRecord}) {
        auto zero = parse(encode({{1, 1}, {3, 0}}), s);
        ASSERT_FALSE(zero);
        EXPECT_EQ(zero.error().detail, "c may not be 0");
        auto too_large = parse(encode({{1, 1ull << 32}}), s);
        ASSERT_FALSE(too_large);
        EXPECT_EQ(too_large.error().code, ErrorCode::kMalformed);
        Writer w;  // a bytes field where a varint belongs
        w.bytes_field(1, Bytes{1, 2});
        EXPECT_FALSE(parse(w.bytes(), s));
    }
}

TEST(ProtoFields, TruncatedBodiesAreMalformed) {
    Bytes body = encode({{1, 300}});
    for (std::size_t n = 1; n < body.size(); ++n) {
        auto p = parse(ByteView(body).first(n), kWireMessage);
        ASSERT_FALSE(p) << n;
        EXPECT_EQ(p.error().code, ErrorCode::kMalformed);
    }
}

}  // namespace
}  // namespace pp::protocol::proto

#pragma once
// The field loop every message and record parser shares. A parser lists its fields (number,
// presence, where the checked value goes) and read_fields() walks the body once, so the rules
// about absent, unknown and repeated fields are written here once, not in each parser.
#include <cassert>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

#include "base/bytes.hpp"
#include "protocol/proto_codec.hpp"

namespace pp::protocol::proto {

enum class Presence : std::uint8_t {
    kOptional,  // singular, may be absent
    kRequired,  // singular, must be present
    kRepeated,  // any number of times; `read` sees each in order
};

// How a parser treats what its rules do not cover. Wire messages read as protobuf reads them:
// unknown fields are skipped, and of a singular field given twice the last one counts (each
// one is still checked, so an invalid earlier one fails the parse). Our own records are
// written by us alone, so anything unexpected there means a corrupt record.
struct Strictness {
    bool reject_unknown = false;
    bool reject_repeated = false;
};
inline constexpr Strictness kWireMessage{false, false};
inline constexpr Strictness kRecord{true, true};

// The errors a parse ends with (static strings, as every Error detail is).
struct FieldErrors {
    std::string_view missing;  // a required field is absent
    std::string_view unknown;  // an unknown field, or a singular one repeated (kRecord only)
};

// One field: `read(const Field&) -> Result<void>` checks it and stores it.
template <typename Read>
struct FieldRule {
    std::uint32_t number;
    Presence presence;
    Read read;
};

// Field numbers below 64: read_fields() keeps the fields seen in one 64-bit word.
template <typename Read>
FieldRule<Read> rule(std::uint32_t number, Presence presence, Read read) {
    assert(number < 64);
    return {number, presence, std::move(read)};
}

// Stores for the common field types, each checking its field first.
inline auto into(std::uint32_t& out) {
    return [&out](const Field& f) -> Result<void> {
        PP_TRY(v, as_uint32(f));
        out = v;
        return {};
    };
}
inline auto into(std::optional<std::uint32_t>& out) {
    return [&out](const Field& f) -> Result<void> {
        PP_TRY(v, as_uint32(f));
        out = v;
        return {};
    };
}
inline auto into(crypto::PublicKey& out) {
    return [&out](const Field& f) -> Result<void> {
        PP_TRY(k, public_key(f));
        out = k;
        return {};
    };
}
inline auto into(Bytes& out) {
    return [&out](const Field& f) -> Result<void> {
        PP_TRY(b, as_bytes(f));
        out.assign(b.begin(), b.end());
        return {};
    };
}
template <std::size_t N>
auto into(SecretArray<N>& out) {
    return [&out](const Field& f) -> Result<void> {
        PP_TRY(b, exact_bytes(f, N));
        out = SecretArray<N>(b);
        return {};
    };
}
// A view into the body, of exactly `size` bytes: for a value the caller builds afterwards from
// several fields. Valid as long as the parsed bytes are.
inline auto view_into(ByteView& out, std::size_t size) {
    return [&out, size](const Field& f) -> Result<void> {
        PP_TRY(b, exact_bytes(f, size));
        out = b;
        return {};
    };
}

// Reads every field of `body` by the rules (field numbers below 64). Fails on the first field
// a rule refuses, on what `strictness` refuses, and when a required field is absent.
template <typename... Read>
Result<void> read_fields(ByteView body, Strictness strictness, FieldErrors errors,
                         const FieldRule<Read>&... rules) {
    static_assert(sizeof...(Read) > 0);
    std::uint64_t seen = 0;
    const auto bit = [](std::uint32_t n) { return n < 64 ? std::uint64_t{1} << n : 0; };
    Reader r(body);
    while (!r.done()) {
        PP_TRY(f, r.next());
        bool known = false;
        Result<void> status;
        const auto apply = [&](const auto& rule) {
            if (known || rule.number != f.number) return;
            known = true;
            if (rule.presence != Presence::kRepeated) {
                if ((seen & bit(f.number)) != 0 && strictness.reject_repeated) {
                    status = malformed(errors.unknown);
                    return;
                }
                seen |= bit(f.number);
            }
            status = rule.read(f);
        };
        (apply(rules), ...);
        if (!status) return status.error();
        if (!known && strictness.reject_unknown) return malformed(errors.unknown);
    }
    const bool complete =
        ((rules.presence != Presence::kRequired || (seen & bit(rules.number)) != 0) && ...);
    if (!complete) return malformed(errors.missing);
    return {};
}

}  // namespace pp::protocol::proto

// Storage format of SenderKeyRecord (ours; the reference's LocalStorageProtocol is not a wire
// format and nothing needs to read it):
//   byte 0             kSenderKeyRecordFormat
//   field 1 (repeated) state, newest first:
//     1 key id (varint)          2 chain iteration (varint)   3 chain key (32 bytes)
//     4 signing public (33)      5 signing private (32, our own state only)
//     6 (repeated) skipped key:  1 iteration (varint), 2 seed (32 bytes); oldest first
// Parsing is strict: every field at most once (except the repeated ones), no unknown fields,
// exact sizes, the bounds enforced, and the invariants the code relies on checked.
#include "protocol/proto_codec.hpp"
#include "protocol/proto_fields.hpp"
#include "protocol/sender_keys.hpp"

namespace pp::protocol {
namespace {

constexpr std::uint32_t kRecordState = 1;
constexpr std::uint32_t kStateKeyId = 1;
constexpr std::uint32_t kStateIteration = 2;
constexpr std::uint32_t kStateChainKey = 3;
constexpr std::uint32_t kStateSigningPublic = 4;
constexpr std::uint32_t kStateSigningPrivate = 5;
constexpr std::uint32_t kStateSkipped = 6;
constexpr std::uint32_t kSkippedIteration = 1;
constexpr std::uint32_t kSkippedSeed = 2;

// Upper bounds of the encoded sizes, so writers never reallocate and leave copies of key
// material in freed memory.
constexpr std::size_t kSkippedEncodedMax = 2 + (1 + 5) + (2 + 32);
constexpr std::size_t kStateFixedEncodedMax = (1 + 5) + (1 + 5) + (2 + 32) + (2 + 33) + (2 + 32);
constexpr std::size_t kFieldHeaderMax = 1 + 5;

using proto::exact_bytes;
using proto::malformed;

std::size_t state_encoded_max(const SenderKeyState& s) {
    return kStateFixedEncodedMax + s.skipped_keys().size() * (kFieldHeaderMax + kSkippedEncodedMax);
}

void write_state(proto::Writer& out, const SenderKeyState& s) {
    proto::Writer w;
    w.reserve(state_encoded_max(s));
    w.varint_field(kStateKeyId, s.key_id());
    w.varint_field(kStateIteration, s.chain_key().iteration());
    w.bytes_field(kStateChainKey, s.chain_key().key().view());
    w.bytes_field(kStateSigningPublic, s.signing_public().serialize());
    if (s.signing_private())
        w.bytes_field(kStateSigningPrivate, s.signing_private()->secret().view());
    for (const auto& k : s.skipped_keys()) {
        proto::Writer sk;
        sk.reserve(kSkippedEncodedMax);
        sk.varint_field(kSkippedIteration, k.iteration);
        sk.bytes_field(kSkippedSeed, k.seed.view());
        w.bytes_field(kStateSkipped, sk.bytes());
    }
    out.bytes_field(kRecordState, w.bytes());
}

Result<SkippedSenderKey> parse_skipped(ByteView in) {
    SkippedSenderKey k;
    using proto::Presence;
    PP_TRY_VOID(proto::read_fields(
        in, proto::kRecord,
        {"skipped key lacks a field", "unknown or repeated field in skipped key"},
        proto::rule(kSkippedIteration, Presence::kRequired, proto::into(k.iteration)),
        proto::rule(kSkippedSeed, Presence::kRequired, proto::into(k.seed))));
    return k;
}

struct ParsedState {
    std::uint32_t key_id = 0;
    std::uint32_t iteration = 0;
    SecretArray<32> chain_key;
    crypto::PublicKey signing_public;
    std::optional<crypto::PrivateKey> signing_private;
    std::vector<SkippedSenderKey> skipped;
};

Result<ParsedState> parse_state_fields(ByteView in) {
    ParsedState p;
    using proto::Presence;
    auto signing_private = [&p](const proto::Field& f) -> Result<void> {
        PP_TRY(b, exact_bytes(f, crypto::kKeySize));
        auto key = crypto::PrivateKey::from_raw(b);
        if (!key) return malformed("bad signing private key");
        p.signing_private = std::move(*key);
        return {};
    };
    auto skipped = [&p](const proto::Field& f) -> Result<void> {
        if (p.skipped.size() == kMaxSenderMessageKeys) return malformed("too many skipped keys");
        PP_TRY(b, proto::as_bytes(f));
        PP_TRY(k, parse_skipped(b));
        p.skipped.push_back(std::move(k));
        return {};
    };
    PP_TRY_VOID(proto::read_fields(
        in, proto::kRecord,
        {"sender key state lacks a field", "unknown or repeated field in sender key state"},
        proto::rule(kStateKeyId, Presence::kRequired, proto::into(p.key_id)),
        proto::rule(kStateIteration, Presence::kRequired, proto::into(p.iteration)),
        proto::rule(kStateChainKey, Presence::kRequired, proto::into(p.chain_key)),
        proto::rule(kStateSigningPublic, Presence::kRequired, proto::into(p.signing_public)),
        proto::rule(kStateSigningPrivate, Presence::kOptional, signing_private),
        proto::rule(kStateSkipped, Presence::kRepeated, skipped)));
    return p;
}

Result<ParsedState> parse_state(ByteView in) {
    PP_TRY(p, parse_state_fields(in));
    // Invariants group_decrypt relies on: stored keys are older than the chain, in order, unique.
    for (std::size_t i = 0; i < p.skipped.size(); ++i) {
        if (p.skipped[i].iteration >= p.iteration) return malformed("skipped key not behind chain");
        if (i > 0 && p.skipped[i].iteration <= p.skipped[i - 1].iteration)
            return malformed("skipped keys out of order");
    }
    if (p.signing_private && !(p.signing_private->public_key() == p.signing_public))
        return malformed("signing key pair does not match");
    return p;
}

}  // namespace

SecretBytes SenderKeyRecord::serialize() const {
    std::size_t capacity = 0;
    for (const auto& s : states_) capacity += kFieldHeaderMax + state_encoded_max(s);
    proto::Writer w;
    w.reserve(capacity);
    for (const auto& s : states_) write_state(w, s);
    return proto::with_format_byte(kSenderKeyRecordFormat, w);
}

Result<SenderKeyRecord> SenderKeyRecord::deserialize(ByteView bytes) {
    if (bytes.empty()) return malformed("empty sender key record");
    if (bytes[0] != kSenderKeyRecordFormat)
        return make_error(ErrorCode::kInvalidVersion, "unknown sender key record format");
    SenderKeyRecord record;
    proto::Reader r(bytes.subspan(1));
    while (!r.done()) {
        PP_TRY(f, r.next());
        if (f.number != kRecordState) return malformed("unknown field in sender key record");
        if (record.states_.size() == kMaxSenderKeyStates)
            return malformed("too many sender key states");
        PP_TRY(b, proto::as_bytes(f));
        PP_TRY(p, parse_state(b));
        if (record.find(p.key_id)) return malformed("duplicate sender key id");
        SenderKeyState state(p.key_id, SenderChainKey(p.iteration, p.chain_key.view()),
                             p.signing_public, std::move(p.signing_private));
        state.skipped_ = std::move(p.skipped);
        record.states_.push_back(std::move(state));
    }
    return record;
}

}  // namespace pp::protocol

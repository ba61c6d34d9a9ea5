// Versioned binary form of SessionRecord, for clients to persist (inside encrypted storage).
//   record  = format version byte (1) || fields: 1 current state, 2 archived state (repeated),
//             3 archived count (last, so truncation is always detected)
//   state   = protobuf-style fields below; every key field has a fixed, checked size.
// Parsing is as strict as the other record formats: unknown or repeated singular fields, keys
// of the wrong size, more entries than the protocol's bounds, and stored message keys that are
// duplicated, unordered or not behind their chain are all kMalformed.
// The sender ratchet's public key is stored beside its private key and not re-derived on load:
// that would cost a scalar multiplication per record load on the hot path (clients load a
// record per message), and records live inside authenticated encryption at rest, which is
// what detects corruption.
#include "protocol/proto_codec.hpp"
#include "protocol/proto_fields.hpp"
#include "protocol/session_state.hpp"

namespace pp::protocol {
namespace {

using proto::malformed;

constexpr std::uint8_t kFormatVersion = 1;

enum StateField : std::uint32_t {
    kVersion = 1,
    kLocalIdentity,
    kRemoteIdentity,
    kLocalRegistration,
    kRemoteRegistration,
    kAliceBaseKey,
    kRootKey,
    kPreviousCounter,
    kSenderRatchetPrivate,
    kSenderRatchetPublic,
    kSenderChainKey,
    kSenderChainIndex,
    kReceiverChain,
    kPendingPreKey,
};

std::size_t estimate_size(const SessionState& s) {
    std::size_t n = 512;
    for (const auto& c : s.receiver_chains) n += 96 + c.skipped.size() * 96;
    return n;
}

void write_chain(proto::Writer& w, const ReceiverChain& c) {
    proto::Writer inner;
    inner.reserve(96 + c.skipped.size() * 96);
    inner.bytes_field(1, c.sender_ratchet_key.serialize());
    inner.bytes_field(2, c.chain_key.key().view());
    inner.varint_field(3, c.chain_key.index());
    for (const auto& k : c.skipped) {
        proto::Writer mk;
        mk.reserve(96);
        mk.varint_field(1, k.counter);
        mk.bytes_field(2, k.cipher_key.view());
        mk.bytes_field(3, k.mac_key.view());
        mk.bytes_field(4, k.iv.view());
        inner.bytes_field(4, mk.bytes());
    }
    w.bytes_field(kReceiverChain, inner.bytes());
}

void write_state(proto::Writer& w, std::uint32_t field, const SessionState& s) {
    proto::Writer st;
    st.reserve(estimate_size(s));
    st.varint_field(kVersion, s.version);
    st.bytes_field(kLocalIdentity, s.local_identity.serialize());
    st.bytes_field(kRemoteIdentity, s.remote_identity.serialize());
    st.varint_field(kLocalRegistration, s.local_registration_id);
    st.varint_field(kRemoteRegistration, s.remote_registration_id);
    st.bytes_field(kAliceBaseKey, s.alice_base_key.serialize());
    st.bytes_field(kRootKey, s.root_key.key().view());
    st.varint_field(kPreviousCounter, s.previous_counter);
    st.bytes_field(kSenderRatchetPrivate, s.sender_ratchet.private_key.secret().view());
    st.bytes_field(kSenderRatchetPublic, s.sender_ratchet.public_key.serialize());
    st.bytes_field(kSenderChainKey, s.sender_chain.key().view());
    st.varint_field(kSenderChainIndex, s.sender_chain.index());
    for (const auto& c : s.receiver_chains) write_chain(st, c);
    if (s.pending_prekey) {
        proto::Writer p;
        if (s.pending_prekey->prekey_id) p.varint_field(1, *s.pending_prekey->prekey_id);
        p.varint_field(2, s.pending_prekey->signed_prekey_id);
        p.bytes_field(3, s.pending_prekey->base_key.serialize());
        st.bytes_field(kPendingPreKey, p.bytes());
    }
    w.bytes_field(field, st.bytes());
}

Result<MessageKeys> read_message_keys(ByteView bytes) {
    MessageKeys k;
    using proto::Presence;
    PP_TRY_VOID(proto::read_fields(
        bytes, proto::kRecord,
        {"message keys lack a field", "unknown or repeated field in message keys"},
        proto::rule(1, Presence::kRequired, proto::into(k.counter)),
        proto::rule(2, Presence::kRequired, proto::into(k.cipher_key)),
        proto::rule(3, Presence::kRequired, proto::into(k.mac_key)),
        proto::rule(4, Presence::kRequired, proto::into(k.iv))));
    return k;
}

Result<ReceiverChain> read_chain(ByteView bytes) {
    ReceiverChain c;
    ByteView key;
    std::uint32_t index = 0;
    using proto::Presence;
    // Stored keys of skipped messages, oldest first.
    auto skipped = [&c](const proto::Field& f) -> Result<void> {
        if (c.skipped.size() >= kMaxSkippedMessageKeys) return malformed("too many skipped keys");
        PP_TRY(b, proto::as_bytes(f));
        PP_TRY(k, read_message_keys(b));
        if (!c.skipped.empty() && k.counter <= c.skipped.back().counter)
            return malformed("skipped keys out of order or repeated");
        c.skipped.push_back(std::move(k));
        return {};
    };
    PP_TRY_VOID(proto::read_fields(
        bytes, proto::kRecord,
        {"receiver chain lacks a field", "unknown or repeated field in receiver chain"},
        proto::rule(1, Presence::kRequired, proto::into(c.sender_ratchet_key)),
        proto::rule(2, Presence::kRequired, proto::view_into(key, 32)),
        proto::rule(3, Presence::kRequired, proto::into(index)),
        proto::rule(4, Presence::kRepeated, skipped)));
    if (!c.skipped.empty() && c.skipped.back().counter >= index)
        return malformed("skipped key not behind its chain");
    c.chain_key = ChainKey(key, index);
    return c;
}

Result<PendingPreKey> read_pending(ByteView bytes) {
    PendingPreKey p;
    using proto::Presence;
    PP_TRY_VOID(proto::read_fields(
        bytes, proto::kRecord,
        {"pending prekey lacks a field", "unknown or repeated field in pending prekey"},
        proto::rule(1, Presence::kOptional, proto::into(p.prekey_id)),
        proto::rule(2, Presence::kRequired, proto::into(p.signed_prekey_id)),
        proto::rule(3, Presence::kRequired, proto::into(p.base_key))));
    return p;
}

Result<SessionState> read_state(ByteView bytes) {
    SessionState s;
    ByteView ratchet_private, sender_chain_key;
    std::uint32_t sender_chain_index = 0;
    using proto::Presence;
    auto receiver_chain = [&s](const proto::Field& f) -> Result<void> {  // newest first
        if (s.receiver_chains.size() >= kMaxReceiverChains)
            return malformed("too many receiver chains");
        PP_TRY(b, proto::as_bytes(f));
        PP_TRY(c, read_chain(b));
        if (s.find_receiver_chain(c.sender_ratchet_key))
            return malformed("two receiver chains for one ratchet key");
        s.receiver_chains.push_back(std::move(c));
        return {};
    };
    auto root_key = [&s](const proto::Field& f) -> Result<void> {
        PP_TRY(b, proto::exact_bytes(f, 32));
        s.root_key = RootKey(b);
        return {};
    };
    auto pending = [&s](const proto::Field& f) -> Result<void> {
        PP_TRY(b, proto::as_bytes(f));
        PP_TRY(p, read_pending(b));
        s.pending_prekey = std::move(p);
        return {};
    };
    constexpr auto kRequired = Presence::kRequired;
    PP_TRY_VOID(proto::read_fields(
        bytes, proto::kRecord,
        {"session state lacks a required field", "unknown or repeated field in session state"},
        proto::rule(kVersion, kRequired, proto::into(s.version)),
        proto::rule(kLocalIdentity, kRequired, proto::into(s.local_identity)),
        proto::rule(kRemoteIdentity, kRequired, proto::into(s.remote_identity)),
        proto::rule(kLocalRegistration, kRequired, proto::into(s.local_registration_id)),
        proto::rule(kRemoteRegistration, kRequired, proto::into(s.remote_registration_id)),
        proto::rule(kAliceBaseKey, kRequired, proto::into(s.alice_base_key)),
        proto::rule(kRootKey, kRequired, root_key),
        proto::rule(kPreviousCounter, kRequired, proto::into(s.previous_counter)),
        proto::rule(kSenderRatchetPrivate, kRequired,
                    proto::view_into(ratchet_private, crypto::kKeySize)),
        proto::rule(kSenderRatchetPublic, kRequired, proto::into(s.sender_ratchet.public_key)),
        proto::rule(kSenderChainKey, kRequired, proto::view_into(sender_chain_key, 32)),
        proto::rule(kSenderChainIndex, kRequired, proto::into(sender_chain_index)),
        proto::rule(kReceiverChain, Presence::kRepeated, receiver_chain),
        proto::rule(kPendingPreKey, Presence::kOptional, pending)));
    auto priv = crypto::PrivateKey::from_raw(ratchet_private);
    if (!priv) return malformed("bad ratchet private key");
    s.sender_ratchet.private_key = std::move(priv.value());
    s.sender_chain = ChainKey(sender_chain_key, sender_chain_index);
    return s;
}

}  // namespace

SecretBytes SessionRecord::serialize() const {
    proto::Writer w;
    std::size_t estimate = 16;
    if (current_) estimate += estimate_size(*current_);
    for (const auto& s : previous_) estimate += estimate_size(s);
    w.reserve(estimate);
    if (current_) write_state(w, 1, *current_);
    for (const auto& s : previous_) write_state(w, 2, s);
    w.varint_field(3, previous_.size());
    return proto::with_format_byte(kFormatVersion, w);
}

Result<SessionRecord> SessionRecord::deserialize(ByteView bytes) {
    if (bytes.empty()) return malformed("empty session record");
    if (bytes[0] != kFormatVersion)
        return make_error(ErrorCode::kInvalidVersion, "unknown session record format");
    SessionRecord rec;
    std::optional<std::uint32_t> count;
    proto::Reader r(bytes.subspan(1));
    while (!r.done()) {
        if (count) return malformed("data after the archived count");
        PP_TRY(f, r.next());
        switch (f.number) {
            case 1: {
                if (rec.current_) return malformed("two current sessions");
                PP_TRY(b, proto::as_bytes(f));
                PP_TRY(s, read_state(b));
                rec.current_ = std::move(s);
                break;
            }
            case 2: {
                if (rec.previous_.size() >= kMaxArchivedSessions)
                    return malformed("too many archived sessions");
                PP_TRY(b, proto::as_bytes(f));
                PP_TRY(s, read_state(b));
                rec.previous_.push_back(std::move(s));
                break;
            }
            case 3: {
                PP_TRY(v, proto::as_uint32(f));
                count = v;
                break;
            }
            default:
                return malformed("unknown field in session record");
        }
    }
    if (!count || *count != rec.previous_.size()) return malformed("session record is truncated");
    return rec;
}

}  // namespace pp::protocol

#include "protocol/messages.hpp"

#include "crypto/compare.hpp"
#include "crypto/kdf.hpp"
#include "protocol/proto_codec.hpp"
#include "protocol/proto_fields.hpp"

namespace pp::protocol {
namespace {

// Checks the version byte the way libsignal does: the high nibble is the message version.
Result<void> check_version(ByteView bytes, std::size_t min_size) {
    if (bytes.size() > kMaxMessageSize)
        return make_error(ErrorCode::kLimitExceeded, "message too large");
    if (bytes.size() < min_size) return make_error(ErrorCode::kMalformed, "message too short");
    if ((bytes[0] >> 4) != kCurrentVersion)
        return make_error(ErrorCode::kInvalidVersion, "unsupported message version");
    return {};
}

Bytes with_version(proto::Writer& w) {
    Bytes out;
    out.reserve(1 + w.bytes().size() + kSignatureLength);
    out.push_back(kVersionByte);
    append(out, w.bytes());
    return out;
}

crypto::Mac32 signal_mac(ByteView mac_key, const crypto::PublicKey& sender,
                         const crypto::PublicKey& receiver, ByteView body) {
    auto s = sender.serialize();
    auto r = receiver.serialize();
    return crypto::hmac_sha256(mac_key, {s, r, body});
}

}  // namespace

Result<SignalMessage> SignalMessage::parse(ByteView bytes) {
    PP_TRY_VOID(check_version(bytes, 1 + kMacLength));
    SignalMessage m;
    using proto::Presence;
    PP_TRY_VOID(
        proto::read_fields(bytes.subspan(1, bytes.size() - 1 - kMacLength), proto::kWireMessage,
                           {"SignalMessage lacks a required field", ""},
                           proto::rule(1, Presence::kRequired, proto::into(m.ratchet_key)),
                           proto::rule(2, Presence::kRequired, proto::into(m.counter)),
                           proto::rule(3, Presence::kOptional, proto::into(m.previous_counter)),
                           proto::rule(4, Presence::kRequired, proto::into(m.ciphertext))));
    m.serialized.assign(bytes.begin(), bytes.end());
    return m;
}

SignalMessage SignalMessage::build(ByteView mac_key, const crypto::PublicKey& ratchet_key,
                                   std::uint32_t counter, std::uint32_t previous_counter,
                                   Bytes ciphertext, const crypto::PublicKey& sender_identity,
                                   const crypto::PublicKey& receiver_identity) {
    proto::Writer w;
    w.bytes_field(1, ratchet_key.serialize());
    w.varint_field(2, counter);
    w.varint_field(3, previous_counter);
    w.bytes_field(4, ciphertext);
    SignalMessage m;
    m.serialized = with_version(w);
    auto mac = signal_mac(mac_key, sender_identity, receiver_identity, m.serialized);
    m.serialized.insert(m.serialized.end(), mac.data(), mac.data() + kMacLength);
    m.ratchet_key = ratchet_key;
    m.counter = counter;
    m.previous_counter = previous_counter;
    m.ciphertext = std::move(ciphertext);
    return m;
}

bool SignalMessage::verify_mac(ByteView mac_key, const crypto::PublicKey& sender_identity,
                               const crypto::PublicKey& receiver_identity) const {
    if (serialized.size() < 1 + kMacLength) return false;
    ByteView all(serialized);
    ByteView body = all.first(all.size() - kMacLength);
    auto mac = signal_mac(mac_key, sender_identity, receiver_identity, body);
    return crypto::constant_time_equal(ByteView(mac.data(), kMacLength), all.last(kMacLength));
}

Result<PreKeySignalMessage> PreKeySignalMessage::parse(ByteView bytes) {
    PP_TRY_VOID(check_version(bytes, 1));
    PreKeySignalMessage m;
    using proto::Presence;
    auto inner_message = [&m](const proto::Field& f) -> Result<void> {
        PP_TRY(b, proto::as_bytes(f));
        PP_TRY(inner, SignalMessage::parse(b));
        m.message = std::move(inner);
        return {};
    };
    PP_TRY_VOID(proto::read_fields(
        bytes.subspan(1), proto::kWireMessage, {"PreKeySignalMessage lacks a required field", ""},
        proto::rule(5, Presence::kOptional, proto::into(m.registration_id)),
        proto::rule(1, Presence::kOptional, proto::into(m.prekey_id)),
        proto::rule(6, Presence::kRequired, proto::into(m.signed_prekey_id)),
        proto::rule(2, Presence::kRequired, proto::into(m.base_key)),
        proto::rule(3, Presence::kRequired, proto::into(m.identity_key)),
        proto::rule(4, Presence::kRequired, inner_message)));
    m.serialized.assign(bytes.begin(), bytes.end());
    return m;
}

PreKeySignalMessage PreKeySignalMessage::build(std::uint32_t registration_id,
                                               std::optional<std::uint32_t> prekey_id,
                                               std::uint32_t signed_prekey_id,
                                               const crypto::PublicKey& base_key,
                                               const crypto::PublicKey& identity_key,
                                               SignalMessage message) {
    proto::Writer w;
    w.varint_field(5, registration_id);
    if (prekey_id) w.varint_field(1, *prekey_id);
    w.varint_field(6, signed_prekey_id);
    w.bytes_field(2, base_key.serialize());
    w.bytes_field(3, identity_key.serialize());
    w.bytes_field(4, message.serialized);
    PreKeySignalMessage m;
    m.serialized = with_version(w);
    m.registration_id = registration_id;
    m.prekey_id = prekey_id;
    m.signed_prekey_id = signed_prekey_id;
    m.base_key = base_key;
    m.identity_key = identity_key;
    m.message = std::move(message);
    return m;
}

Result<SenderKeyMessage> SenderKeyMessage::parse(ByteView bytes) {
    PP_TRY_VOID(check_version(bytes, 1 + kSignatureLength));
    SenderKeyMessage m;
    using proto::Presence;
    PP_TRY_VOID(proto::read_fields(bytes.subspan(1, bytes.size() - 1 - kSignatureLength),
                                   proto::kWireMessage,
                                   {"SenderKeyMessage lacks a required field", ""},
                                   proto::rule(1, Presence::kRequired, proto::into(m.key_id)),
                                   proto::rule(2, Presence::kRequired, proto::into(m.iteration)),
                                   proto::rule(3, Presence::kRequired, proto::into(m.ciphertext))));
    m.serialized.assign(bytes.begin(), bytes.end());
    return m;
}

SenderKeyMessage SenderKeyMessage::build(std::uint32_t key_id, std::uint32_t iteration,
                                         Bytes ciphertext, const crypto::PrivateKey& signing_key) {
    proto::Writer w;
    w.varint_field(1, key_id);
    w.varint_field(2, iteration);
    w.bytes_field(3, ciphertext);
    SenderKeyMessage m;
    m.serialized = with_version(w);
    auto sig = crypto::xeddsa_sign(signing_key, m.serialized);
    m.serialized.insert(m.serialized.end(), sig.begin(), sig.end());
    m.key_id = key_id;
    m.iteration = iteration;
    m.ciphertext = std::move(ciphertext);
    return m;
}

bool SenderKeyMessage::verify_signature(const crypto::PublicKey& signing_key) const {
    if (serialized.size() < 1 + kSignatureLength) return false;
    ByteView all(serialized);
    return crypto::xeddsa_verify(signing_key, all.first(all.size() - kSignatureLength),
                                 all.last(kSignatureLength));
}

Result<SenderKeyDistributionMessage> SenderKeyDistributionMessage::parse(ByteView bytes) {
    PP_TRY_VOID(check_version(bytes, 1));
    SenderKeyDistributionMessage m;
    using proto::Presence;
    PP_TRY_VOID(
        proto::read_fields(bytes.subspan(1), proto::kWireMessage,
                           {"SenderKeyDistributionMessage lacks a required field", ""},
                           proto::rule(1, Presence::kRequired, proto::into(m.key_id)),
                           proto::rule(2, Presence::kRequired, proto::into(m.iteration)),
                           proto::rule(3, Presence::kRequired, proto::into(m.chain_key)),
                           proto::rule(4, Presence::kRequired, proto::into(m.signing_key))));
    // `serialized` stays empty: it would be an unwiped copy of the chain key, and nothing
    // needs the received bytes (this message carries no MAC or signature).
    return m;
}

SenderKeyDistributionMessage SenderKeyDistributionMessage::build(
    std::uint32_t key_id, std::uint32_t iteration, ByteView chain_key,
    const crypto::PublicKey& signing_key) {
    proto::Writer w;
    w.varint_field(1, key_id);
    w.varint_field(2, iteration);
    w.bytes_field(3, chain_key);
    w.bytes_field(4, signing_key.serialize());
    SenderKeyDistributionMessage m;
    m.serialized = with_version(w);
    m.key_id = key_id;
    m.iteration = iteration;
    m.chain_key = SecretArray<32>(chain_key);
    m.signing_key = signing_key;
    return m;
}

}  // namespace pp::protocol

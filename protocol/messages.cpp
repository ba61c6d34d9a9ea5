#include "protocol/messages.hpp"

#include "crypto/compare.hpp"
#include "crypto/kdf.hpp"
#include "protocol/proto_codec.hpp"

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
    bool has_key = false, has_counter = false, has_ciphertext = false;
    proto::Reader r(bytes.subspan(1, bytes.size() - 1 - kMacLength));
    while (!r.done()) {
        PP_TRY(f, r.next());
        switch (f.number) {
            case 1: {
                PP_TRY(k, proto::public_key(f));
                m.ratchet_key = k;
                has_key = true;
                break;
            }
            case 2: {
                PP_TRY(v, proto::as_uint32(f));
                m.counter = v;
                has_counter = true;
                break;
            }
            case 3: {
                PP_TRY(v, proto::as_uint32(f));
                m.previous_counter = v;
                break;
            }
            case 4: {
                PP_TRY(b, proto::as_bytes(f));
                m.ciphertext.assign(b.begin(), b.end());
                has_ciphertext = true;
                break;
            }
            default:
                break;
        }
    }
    if (!has_key || !has_counter || !has_ciphertext)
        return make_error(ErrorCode::kMalformed, "SignalMessage lacks a required field");
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
    bool has_spk = false, has_base = false, has_identity = false, has_message = false;
    proto::Reader r(bytes.subspan(1));
    while (!r.done()) {
        PP_TRY(f, r.next());
        switch (f.number) {
            case 5: {
                PP_TRY(v, proto::as_uint32(f));
                m.registration_id = v;
                break;
            }
            case 1: {
                PP_TRY(v, proto::as_uint32(f));
                m.prekey_id = v;
                break;
            }
            case 6: {
                PP_TRY(v, proto::as_uint32(f));
                m.signed_prekey_id = v;
                has_spk = true;
                break;
            }
            case 2: {
                PP_TRY(k, proto::public_key(f));
                m.base_key = k;
                has_base = true;
                break;
            }
            case 3: {
                PP_TRY(k, proto::public_key(f));
                m.identity_key = k;
                has_identity = true;
                break;
            }
            case 4: {
                PP_TRY(b, proto::as_bytes(f));
                PP_TRY(inner, SignalMessage::parse(b));
                m.message = std::move(inner);
                has_message = true;
                break;
            }
            default:
                break;
        }
    }
    if (!has_spk || !has_base || !has_identity || !has_message)
        return make_error(ErrorCode::kMalformed, "PreKeySignalMessage lacks a required field");
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
    bool has_id = false, has_iteration = false, has_ciphertext = false;
    proto::Reader r(bytes.subspan(1, bytes.size() - 1 - kSignatureLength));
    while (!r.done()) {
        PP_TRY(f, r.next());
        switch (f.number) {
            case 1: {
                PP_TRY(v, proto::as_uint32(f));
                m.key_id = v;
                has_id = true;
                break;
            }
            case 2: {
                PP_TRY(v, proto::as_uint32(f));
                m.iteration = v;
                has_iteration = true;
                break;
            }
            case 3: {
                PP_TRY(b, proto::as_bytes(f));
                m.ciphertext.assign(b.begin(), b.end());
                has_ciphertext = true;
                break;
            }
            default:
                break;
        }
    }
    if (!has_id || !has_iteration || !has_ciphertext)
        return make_error(ErrorCode::kMalformed, "SenderKeyMessage lacks a required field");
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
    bool has_id = false, has_iteration = false, has_chain = false, has_signing = false;
    proto::Reader r(bytes.subspan(1));
    while (!r.done()) {
        PP_TRY(f, r.next());
        switch (f.number) {
            case 1: {
                PP_TRY(v, proto::as_uint32(f));
                m.key_id = v;
                has_id = true;
                break;
            }
            case 2: {
                PP_TRY(v, proto::as_uint32(f));
                m.iteration = v;
                has_iteration = true;
                break;
            }
            case 3: {
                PP_TRY(b, proto::as_bytes(f));
                if (b.size() != 32)
                    return make_error(ErrorCode::kMalformed, "chain key is not 32 bytes");
                m.chain_key = SecretArray<32>(b);
                has_chain = true;
                break;
            }
            case 4: {
                PP_TRY(k, proto::public_key(f));
                m.signing_key = k;
                has_signing = true;
                break;
            }
            default:
                break;
        }
    }
    if (!has_id || !has_iteration || !has_chain || !has_signing)
        return make_error(ErrorCode::kMalformed,
                          "SenderKeyDistributionMessage lacks a required field");
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

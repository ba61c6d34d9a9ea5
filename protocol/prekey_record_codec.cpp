// Versioned binary forms of identity, prekey and signed prekey records:
//   format version byte (1) || protobuf-style fields; every field required, sizes checked.
// The public key is re-derived from the private key on load and must match the stored one, so
// a corrupted record cannot pair a private key with someone else's public key.
#include <bitset>

#include "protocol/prekeys.hpp"
#include "protocol/proto_codec.hpp"

namespace pp::protocol {
namespace {

constexpr std::uint8_t kFormatVersion = 1;

using proto::malformed;

SecretBytes finish(const proto::Writer& w) {
    return proto::with_format_byte(kFormatVersion, w);
}

void write_key_pair(proto::Writer& w, const crypto::KeyPair& kp) {
    w.bytes_field(1, kp.public_key.serialize());
    w.bytes_field(2, kp.private_key.secret().view());
}

// Reads the fields of a record: 1 public key, 2 private key, then `extra` for the rest.
template <typename Extra>
Result<crypto::KeyPair> read_record(ByteView bytes, std::size_t required_fields, Extra&& extra) {
    if (bytes.empty()) return malformed("empty key record");
    if (bytes[0] != kFormatVersion)
        return make_error(ErrorCode::kInvalidVersion, "unknown key record format");
    std::optional<crypto::PublicKey> pub;
    std::optional<crypto::PrivateKey> priv;
    std::bitset<8> seen;
    proto::Reader r(bytes.subspan(1));
    while (!r.done()) {
        PP_TRY(f, r.next());
        if (f.number >= seen.size() || seen[f.number])
            return malformed("unknown or repeated field in key record");
        seen.set(f.number);
        if (f.number == 1) {
            PP_TRY(b, proto::as_bytes(f));
            auto k = crypto::PublicKey::deserialize(b);
            if (!k) return malformed("bad public key in key record");
            pub = *k;
        } else if (f.number == 2) {
            PP_TRY(b, proto::as_bytes(f));
            if (b.size() != crypto::kKeySize) return malformed("private key is not 32 bytes");
            auto k = crypto::PrivateKey::from_raw(b);
            if (!k) return malformed("bad private key in key record");
            priv = std::move(k.value());
        } else {
            PP_TRY_VOID(extra(f));
        }
    }
    if (seen.count() != required_fields || !pub || !priv)
        return malformed("key record lacks a field");
    auto kp = crypto::KeyPair::from_private(std::move(*priv));
    if (kp.public_key != *pub)
        return malformed("key record's public key does not match its private key");
    return kp;
}

}  // namespace

SecretBytes serialize_identity(const IdentityKeyPair& identity) {
    proto::Writer w;
    w.reserve(80);
    write_key_pair(w, identity);
    return finish(w);
}

Result<IdentityKeyPair> deserialize_identity(ByteView bytes) {
    return read_record(bytes, 2, [](const proto::Field&) -> Result<void> {
        return malformed("unknown field in identity record");
    });
}

SecretBytes serialize_prekey(const PreKeyRecord& record) {
    proto::Writer w;
    w.reserve(96);
    write_key_pair(w, record.key_pair);
    w.varint_field(3, record.id);
    return finish(w);
}

Result<PreKeyRecord> deserialize_prekey(ByteView bytes) {
    PreKeyRecord out;
    auto kp = read_record(bytes, 3, [&](const proto::Field& f) -> Result<void> {
        if (f.number != 3) return malformed("unknown field in prekey record");
        PP_TRY(id, proto::as_uint32(f));
        out.id = id;
        return {};
    });
    if (!kp) return kp.error();
    out.key_pair = std::move(kp.value());
    return out;
}

SecretBytes serialize_signed_prekey(const SignedPreKeyRecord& record) {
    proto::Writer w;
    w.reserve(192);
    write_key_pair(w, record.key_pair);
    w.varint_field(3, record.id);
    w.bytes_field(4, record.signature);
    w.varint_field(5, record.timestamp_ms);
    return finish(w);
}

Result<SignedPreKeyRecord> deserialize_signed_prekey(ByteView bytes) {
    SignedPreKeyRecord out;
    auto kp = read_record(bytes, 5, [&](const proto::Field& f) -> Result<void> {
        switch (f.number) {
            case 3: {
                PP_TRY(id, proto::as_uint32(f));
                out.id = id;
                return {};
            }
            case 4: {
                PP_TRY(sig, proto::as_bytes(f));
                if (sig.size() != out.signature.size())
                    return malformed("signature is not 64 bytes");
                std::copy(sig.begin(), sig.end(), out.signature.begin());
                return {};
            }
            case 5:
                if (f.wire_type != 0) return malformed("timestamp is not a varint");
                out.timestamp_ms = f.value;
                return {};
            default:
                return malformed("unknown field in signed prekey record");
        }
    });
    if (!kp) return kp.error();
    out.key_pair = std::move(kp.value());
    return out;
}

}  // namespace pp::protocol

#include "wire/keys.hpp"

#include <algorithm>

namespace pp::wire {

namespace {
std::string str(ByteView b) {
    return std::string(b.begin(), b.end());
}
}  // namespace

v1::PreKey to_wire(const protocol::PreKeyRecord& k) {
    v1::PreKey w;
    w.set_id(k.id);
    const auto pub = k.key_pair.public_key.serialize();
    w.set_public_key(str(pub));
    return w;
}

v1::SignedPreKey to_wire(const protocol::SignedPreKeyRecord& k) {
    v1::SignedPreKey w;
    w.set_id(k.id);
    const auto pub = k.key_pair.public_key.serialize();
    w.set_public_key(str(pub));
    w.set_signature(str(k.signature));
    return w;
}

Result<protocol::PreKeyBundle> to_protocol_bundle(const v1::Bundle& b) {
    protocol::PreKeyBundle out;
    out.registration_id = b.registration_id();
    out.device_id = b.device_id();
    PP_TRY(identity, crypto::PublicKey::deserialize(as_bytes(b.identity_key())));
    out.identity_key = identity;
    PP_TRY(spk, crypto::PublicKey::deserialize(as_bytes(b.signed_prekey().public_key())));
    out.signed_prekey = spk;
    out.signed_prekey_id = b.signed_prekey().id();
    const std::string& sig = b.signed_prekey().signature();
    if (sig.size() != out.signed_prekey_signature.size())
        return make_error(ErrorCode::kMalformed, "bundle signature has the wrong size");
    std::copy(sig.begin(), sig.end(), out.signed_prekey_signature.begin());
    if (b.has_prekey()) {
        PP_TRY(pk, crypto::PublicKey::deserialize(as_bytes(b.prekey().public_key())));
        out.prekey = pk;
        out.prekey_id = b.prekey().id();
    }
    return out;
}

}  // namespace pp::wire

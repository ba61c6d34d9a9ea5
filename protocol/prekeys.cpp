#include "protocol/prekeys.hpp"

#include "crypto/random.hpp"

namespace pp::protocol {

inline constexpr std::uint32_t kMediumMaxValue = 0xFFFFFF;

std::uint32_t generate_registration_id() {
    return (crypto::random_uint32() % 16380) + 1;
}

SignedPreKeyRecord generate_signed_prekey(const IdentityKeyPair& identity, std::uint32_t id,
                                          std::uint64_t timestamp_ms) {
    SignedPreKeyRecord r;
    r.id = id;
    r.key_pair = crypto::KeyPair::generate();
    r.signature = crypto::xeddsa_sign(identity.private_key, r.key_pair.public_key.serialize());
    r.timestamp_ms = timestamp_ms;
    return r;
}

std::vector<PreKeyRecord> generate_prekeys(std::uint32_t start_id, std::uint32_t count) {
    std::vector<PreKeyRecord> out;
    out.reserve(count);
    for (std::uint32_t i = 0; i < count; ++i) {
        std::uint32_t id = ((start_id - 1 + i) % (kMediumMaxValue - 1)) + 1;
        out.push_back(PreKeyRecord{id, crypto::KeyPair::generate()});
    }
    return out;
}

PreKeyBundle make_bundle(const IdentityKeyPair& identity, std::uint32_t registration_id,
                         const SignedPreKeyRecord& signed_prekey, const PreKeyRecord* one_time) {
    PreKeyBundle b;
    b.registration_id = registration_id;
    b.signed_prekey_id = signed_prekey.id;
    b.signed_prekey = signed_prekey.key_pair.public_key;
    b.signed_prekey_signature = signed_prekey.signature;
    b.identity_key = identity.public_key;
    if (one_time) {
        b.prekey_id = one_time->id;
        b.prekey = one_time->key_pair.public_key;
    }
    return b;
}

bool verify_signed_prekey(const crypto::PublicKey& identity, const crypto::PublicKey& signed_prekey,
                          ByteView signature) {
    return crypto::xeddsa_verify(identity, signed_prekey.serialize(), signature);
}

}  // namespace pp::protocol

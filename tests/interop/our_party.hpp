#pragma once
// Our implementation dressed like RefParty: one simulated user with identity, prekeys and a
// session record per peer, speaking the same plain-bytes API so interop tests and benchmarks
// can put either implementation on either side.
#include <map>
#include <stdexcept>
#include <string>

#include "protocol/session_cipher.hpp"
#include "tests/interop/ref_party.hpp"

namespace pp::interop {

inline ref::Bytes to_ref(ByteView v) {
    return ref::Bytes(v.begin(), v.end());
}

inline crypto::PublicKey key_from_ref(const ref::Bytes& b) {
    auto k = crypto::PublicKey::deserialize(b);
    if (!k) throw std::runtime_error("reference produced a malformed public key");
    return *k;
}

inline protocol::PreKeyBundle bundle_from_ref(const ref::Bundle& b) {
    protocol::PreKeyBundle out;
    out.registration_id = b.registration_id;
    out.device_id = b.device_id;
    out.prekey_id = b.prekey_id;
    if (b.prekey_id) out.prekey = key_from_ref(b.prekey_public);
    out.signed_prekey_id = b.signed_prekey_id;
    out.signed_prekey = key_from_ref(b.signed_prekey_public);
    std::copy(b.signed_prekey_signature.begin(), b.signed_prekey_signature.end(),
              out.signed_prekey_signature.begin());
    out.identity_key = key_from_ref(b.identity_key);
    return out;
}

inline ref::Bundle bundle_to_ref(const protocol::PreKeyBundle& b) {
    ref::Bundle out;
    out.registration_id = b.registration_id;
    out.device_id = b.device_id;
    out.prekey_id = b.prekey_id;
    if (b.prekey) out.prekey_public = to_ref(b.prekey->serialize());
    out.signed_prekey_id = b.signed_prekey_id;
    out.signed_prekey_public = to_ref(b.signed_prekey.serialize());
    out.signed_prekey_signature = to_ref(b.signed_prekey_signature);
    out.identity_key = to_ref(b.identity_key.serialize());
    return out;
}

class OurParty : public protocol::LocalPreKeys {
  public:
    OurParty()
        : identity_(crypto::KeyPair::generate()),
          registration_id_(protocol::generate_registration_id()) {}

    const protocol::IdentityKeyPair& identity() const override { return identity_; }
    std::uint32_t registration_id() const override { return registration_id_; }
    const protocol::SignedPreKeyRecord* signed_prekey(std::uint32_t id) const override {
        auto it = signed_prekeys_.find(id);
        return it == signed_prekeys_.end() ? nullptr : &it->second;
    }
    const protocol::PreKeyRecord* prekey(std::uint32_t id) const override {
        auto it = prekeys_.find(id);
        return it == prekeys_.end() ? nullptr : &it->second;
    }
    bool has_prekey(std::uint32_t id) const { return prekeys_.count(id) != 0; }
    ref::Bytes identity_public() const { return to_ref(identity_.public_key.serialize()); }

    protocol::PreKeyBundle make_bundle(bool with_one_time_prekey) {
        auto spk = protocol::generate_signed_prekey(identity_, next_signed_id_++, 0);
        const protocol::PreKeyRecord* one_time = nullptr;
        if (with_one_time_prekey) {
            auto pk = std::move(protocol::generate_prekeys(next_prekey_id_++, 1).front());
            const std::uint32_t id = pk.id;
            one_time = &(prekeys_[id] = std::move(pk));
        }
        auto b = protocol::make_bundle(identity_, registration_id_, spk, one_time);
        signed_prekeys_[spk.id] = std::move(spk);
        return b;
    }

    Result<void> process_bundle(const std::string& peer, const protocol::PreKeyBundle& bundle) {
        auto r = protocol::process_prekey_bundle(sessions_[peer], identity_, registration_id_,
                                                 bundle, trusted(peer));
        if (r) identities_[peer] = bundle.identity_key;
        return r;
    }

    Result<ref::Ciphertext> encrypt(const std::string& peer, ByteView plaintext) {
        auto r = protocol::encrypt(sessions_[peer], plaintext);
        if (!r) return r.error();
        return ref::Ciphertext{static_cast<int>(r->type), std::move(r->bytes)};
    }

    Result<Bytes> decrypt(const std::string& peer, const ref::Ciphertext& c) {
        if (c.type == ref::kCiphertextPreKey) {
            auto r =
                protocol::decrypt_prekey_message(sessions_[peer], *this, c.bytes, trusted(peer));
            if (!r) return r.error();
            if (r->consumed_prekey_id) prekeys_.erase(*r->consumed_prekey_id);
            identities_[peer] = r->remote_identity;
            return std::move(r->plaintext);
        }
        return protocol::decrypt_signal_message(sessions_[peer], c.bytes);
    }

    void trust_identity(const std::string& peer, const crypto::PublicKey& key) {
        identities_[peer] = key;
    }
    protocol::SessionRecord& session(const std::string& peer) { return sessions_[peer]; }

  private:
    std::optional<crypto::PublicKey> trusted(const std::string& peer) const {
        auto it = identities_.find(peer);
        if (it == identities_.end()) return std::nullopt;
        return it->second;
    }

    protocol::IdentityKeyPair identity_;
    std::uint32_t registration_id_;
    std::uint32_t next_signed_id_ = 1;
    std::uint32_t next_prekey_id_ = 1;
    std::map<std::uint32_t, protocol::SignedPreKeyRecord> signed_prekeys_;
    std::map<std::uint32_t, protocol::PreKeyRecord> prekeys_;
    std::map<std::string, protocol::SessionRecord> sessions_;
    std::map<std::string, crypto::PublicKey> identities_;
};

}  // namespace pp::interop

#pragma once
// A fixed pair of sessions shared by the fuzz targets, so parsed messages also reach the
// ratchet, MAC and decryption paths rather than stopping at the parser.
#include <map>

#include "protocol/session_cipher.hpp"

namespace pp::fuzz {

class FuzzDevice : public protocol::LocalPreKeys {
  public:
    FuzzDevice() : identity_(crypto::KeyPair::generate()) {
        spk_ = protocol::generate_signed_prekey(identity_, 1, 0);
        for (auto& pk : protocol::generate_prekeys(1, 4)) prekeys_[pk.id] = std::move(pk);
    }
    const protocol::IdentityKeyPair& identity() const override { return identity_; }
    std::uint32_t registration_id() const override { return 1; }
    const protocol::SignedPreKeyRecord* signed_prekey(std::uint32_t id) const override {
        return id == spk_.id ? &spk_ : nullptr;
    }
    const protocol::PreKeyRecord* prekey(std::uint32_t id) const override {
        auto it = prekeys_.find(id);
        return it == prekeys_.end() ? nullptr : &it->second;
    }
    protocol::PreKeyBundle bundle() const {
        return protocol::make_bundle(identity_, 1, spk_, &prekeys_.begin()->second);
    }
    protocol::SessionRecord session;

  private:
    protocol::IdentityKeyPair identity_;
    protocol::SignedPreKeyRecord spk_;
    std::map<std::uint32_t, protocol::PreKeyRecord> prekeys_;
};

// Alice has a session with Bob; Bob has answered once, so both have ratcheted.
struct FuzzPair {
    FuzzDevice alice, bob;
    FuzzPair() {
        (void)protocol::process_prekey_bundle(alice.session, alice.identity(), 1, bob.bundle(),
                                              std::nullopt);
        auto first = protocol::encrypt(alice.session, as_bytes("hello"));
        (void)protocol::decrypt_prekey_message(bob.session, bob, first->bytes, std::nullopt);
        auto reply = protocol::encrypt(bob.session, as_bytes("hi"));
        (void)protocol::decrypt_signal_message(alice.session, reply->bytes);
    }
};

}  // namespace pp::fuzz

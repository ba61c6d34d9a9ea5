#include "protocol/x3dh.hpp"

#include "crypto/kdf.hpp"

namespace pp::protocol {
namespace {

struct DerivedKeys {
    RootKey root;
    ChainKey chain;
};

// Concatenates the DH outputs after the 32 0xFF bytes that separate X3DH from XEdDSA inputs.
class MasterSecret {
  public:
    MasterSecret() : secret_(32) { std::fill_n(secret_.data(), 32, 0xff); }
    Result<void> add(const crypto::PrivateKey& ours, const crypto::PublicKey& theirs) {
        PP_TRY(dh, crypto::agree(ours, theirs));
        secret_.append(dh.view());
        return {};
    }
    DerivedKeys derive() const {
        // An empty salt is HKDF's HashLen zero bytes, the salt X3DH specifies.
        SecretBytes okm = crypto::hkdf_sha256(secret_.view(), {}, as_bytes("WhisperText"), 64);
        return {RootKey(okm.view().subspan(0, 32)), ChainKey(okm.view().subspan(32, 32), 0)};
    }

  private:
    SecretBytes secret_;
};

}  // namespace

Result<SessionState> initialize_alice_session(const AliceParameters& p) {
    MasterSecret master;
    PP_TRY_VOID(master.add(p.our_identity.private_key, p.their_signed_prekey));
    PP_TRY_VOID(master.add(p.our_base_key.private_key, p.their_identity));
    PP_TRY_VOID(master.add(p.our_base_key.private_key, p.their_signed_prekey));
    if (p.their_one_time_prekey)
        PP_TRY_VOID(master.add(p.our_base_key.private_key, *p.their_one_time_prekey));
    DerivedKeys derived = master.derive();

    SessionState s;
    s.local_identity = p.our_identity.public_key;
    s.remote_identity = p.their_identity;
    s.sender_ratchet = crypto::KeyPair::generate();
    PP_TRY(step, derived.root.create_chain(p.their_signed_prekey, s.sender_ratchet.private_key));
    s.add_receiver_chain(p.their_signed_prekey, std::move(derived.chain));
    s.root_key = std::move(step.root);
    s.sender_chain = std::move(step.chain);
    return s;
}

Result<SessionState> initialize_bob_session(const BobParameters& p) {
    MasterSecret master;
    PP_TRY_VOID(master.add(p.our_signed_prekey.private_key, p.their_identity));
    PP_TRY_VOID(master.add(p.our_identity.private_key, p.their_base_key));
    PP_TRY_VOID(master.add(p.our_signed_prekey.private_key, p.their_base_key));
    if (p.our_one_time_prekey)
        PP_TRY_VOID(master.add(p.our_one_time_prekey->private_key, p.their_base_key));
    DerivedKeys derived = master.derive();

    SessionState s;
    s.local_identity = p.our_identity.public_key;
    s.remote_identity = p.their_identity;
    s.sender_ratchet = p.our_signed_prekey;
    s.sender_chain = std::move(derived.chain);
    s.root_key = std::move(derived.root);
    return s;
}

}  // namespace pp::protocol

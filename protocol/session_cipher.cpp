#include "protocol/session_cipher.hpp"

#include "crypto/aes_cbc.hpp"
#include "protocol/x3dh.hpp"

namespace pp::protocol {
namespace {

// Finds the receiving chain for a sender ratchet key, performing the DH ratchet step (and
// turning our own sending ratchet) when the key is new.
Result<ReceiverChain*> receiver_chain_for(SessionState& s, const crypto::PublicKey& their_ratchet) {
    if (ReceiverChain* c = s.find_receiver_chain(their_ratchet)) return c;

    PP_TRY(receiving, s.root_key.create_chain(their_ratchet, s.sender_ratchet.private_key));
    crypto::KeyPair our_new_ratchet = crypto::KeyPair::generate();
    PP_TRY(sending, receiving.root.create_chain(their_ratchet, our_new_ratchet.private_key));

    s.add_receiver_chain(their_ratchet, std::move(receiving.chain));
    std::uint32_t index = s.sender_chain.index();
    s.previous_counter = index > 0 ? index - 1 : 0;
    s.sender_ratchet = std::move(our_new_ratchet);
    s.sender_chain = std::move(sending.chain);
    s.root_key = std::move(sending.root);
    return s.find_receiver_chain(their_ratchet);
}

// Message keys for `counter` on `chain`: a stored skipped key, or ratchet forward storing the
// keys of the messages we skip (bounded, oldest dropped).
Result<MessageKeys> message_keys_for(ReceiverChain& chain, std::uint32_t counter) {
    if (chain.chain_key.index() > counter) {
        for (auto it = chain.skipped.begin(); it != chain.skipped.end(); ++it) {
            if (it->counter == counter) {
                MessageKeys keys = std::move(*it);
                chain.skipped.erase(it);
                return keys;
            }
        }
        return make_error(ErrorCode::kDuplicateMessage, "message key already used");
    }
    if (counter - chain.chain_key.index() > kMaxForwardJump)
        return make_error(ErrorCode::kTooFarInFuture, "over 2000 messages into the future");

    ChainKey ck = chain.chain_key;
    while (ck.index() < counter) {
        chain.skipped.push_back(ck.message_keys());
        if (chain.skipped.size() > kMaxSkippedMessageKeys) chain.skipped.pop_front();
        ck = ck.next();
    }
    MessageKeys keys = ck.message_keys();
    chain.chain_key = ck.next();
    return keys;
}

// Decrypts with one session state, mutating it; the caller discards it on failure.
Result<Bytes> decrypt_with_state(SessionState& s, const SignalMessage& m) {
    if (s.version != kCurrentVersion)
        return make_error(ErrorCode::kInvalidVersion, "session version");
    PP_TRY(chain, receiver_chain_for(s, m.ratchet_key));
    PP_TRY(keys, message_keys_for(*chain, m.counter));
    if (!m.verify_mac(keys.mac_key.view(), s.remote_identity, s.local_identity))
        return make_error(ErrorCode::kBadMac, "message MAC does not verify");
    PP_TRY(plaintext,
           crypto::aes256_cbc_decrypt(keys.cipher_key.view(), keys.iv.view(), m.ciphertext));
    s.pending_prekey.reset();  // the peer has our session: stop repeating the X3DH header
    return plaintext;
}

// Tries the current session, then the archived ones; a success on an archived session makes it
// current again. Works on copies: `record` changes only on success.
Result<Bytes> decrypt_with_record(SessionRecord& record, const SignalMessage& m) {
    std::optional<Error> first_error;
    if (const SessionState* current = record.current()) {
        SessionState copy = *current;
        auto r = decrypt_with_state(copy, m);
        if (r) {
            *record.current() = std::move(copy);
            return r;
        }
        if (r.error().code == ErrorCode::kDuplicateMessage) return r.error();
        first_error = r.error();
    }
    auto& previous = record.previous();
    for (auto it = previous.begin(); it != previous.end(); ++it) {
        SessionState copy = *it;
        auto r = decrypt_with_state(copy, m);
        if (r) {
            previous.erase(it);
            record.promote(std::move(copy));
            return r;
        }
        if (r.error().code == ErrorCode::kDuplicateMessage) return r.error();
        if (!first_error) first_error = r.error();
    }
    if (first_error) return *first_error;
    return make_error(ErrorCode::kNoSession, "no session for this peer");
}

}  // namespace

Result<void> process_prekey_bundle(SessionRecord& record, const IdentityKeyPair& our_identity,
                                   std::uint32_t our_registration_id, const PreKeyBundle& bundle,
                                   const std::optional<crypto::PublicKey>& trusted_identity) {
    if (trusted_identity && *trusted_identity != bundle.identity_key)
        return make_error(ErrorCode::kUntrustedIdentity,
                          "bundle identity differs from the trusted one");
    if (!verify_signed_prekey(bundle.identity_key, bundle.signed_prekey,
                              bundle.signed_prekey_signature))
        return make_error(ErrorCode::kInvalidSignature, "signed prekey signature does not verify");
    if (bundle.prekey.has_value() != bundle.prekey_id.has_value())
        return make_error(ErrorCode::kMalformed, "one-time prekey without its id, or the reverse");

    crypto::KeyPair base_key = crypto::KeyPair::generate();
    PP_TRY(state,
           initialize_alice_session(AliceParameters{our_identity, base_key, bundle.identity_key,
                                                    bundle.signed_prekey, bundle.prekey}));
    state.pending_prekey =
        PendingPreKey{bundle.prekey_id, bundle.signed_prekey_id, base_key.public_key};
    state.local_registration_id = our_registration_id;
    state.remote_registration_id = bundle.registration_id;
    state.alice_base_key = base_key.public_key;
    record.promote(std::move(state));
    return {};
}

Result<CiphertextMessage> encrypt(SessionRecord& record, ByteView plaintext) {
    SessionState* s = record.current();
    if (!s) return make_error(ErrorCode::kNoSession, "no session for this peer");
    if (plaintext.size() > kMaxMessageSize - 1024)
        return make_error(ErrorCode::kLimitExceeded, "plaintext too large");

    MessageKeys keys = s->sender_chain.message_keys();
    Bytes body = crypto::aes256_cbc_encrypt(keys.cipher_key.view(), keys.iv.view(), plaintext);
    if (body.empty()) return make_error(ErrorCode::kInternal, "AES-CBC encryption failed");
    SignalMessage m = SignalMessage::build(keys.mac_key.view(), s->sender_ratchet.public_key,
                                           s->sender_chain.index(), s->previous_counter,
                                           std::move(body), s->local_identity, s->remote_identity);
    CiphertextMessage out{MessageType::kSignal, {}};
    if (s->pending_prekey) {
        const PendingPreKey& p = *s->pending_prekey;
        auto pm =
            PreKeySignalMessage::build(s->local_registration_id, p.prekey_id, p.signed_prekey_id,
                                       p.base_key, s->local_identity, std::move(m));
        out = {MessageType::kPreKey, std::move(pm.serialized)};
    } else {
        out.bytes = std::move(m.serialized);
    }
    s->sender_chain = s->sender_chain.next();
    return out;
}

Result<Bytes> decrypt_signal_message(SessionRecord& record, ByteView serialized) {
    PP_TRY(m, SignalMessage::parse(serialized));
    return decrypt_with_record(record, m);
}

Result<PreKeyDecryption> decrypt_prekey_message(
    SessionRecord& record, const LocalPreKeys& keys, ByteView serialized,
    const std::optional<crypto::PublicKey>& trusted_identity) {
    PP_TRY(m, PreKeySignalMessage::parse(serialized));
    if (trusted_identity && *trusted_identity != m.identity_key)
        return make_error(ErrorCode::kUntrustedIdentity,
                          "sender identity differs from the trusted one");

    SessionRecord working = record;
    PreKeyDecryption out;
    // A retransmitted first message finds its session already built: decrypt, consume nothing.
    if (!working.has_session_state(kCurrentVersion, m.base_key)) {
        const SignedPreKeyRecord* spk = keys.signed_prekey(m.signed_prekey_id);
        if (!spk) return make_error(ErrorCode::kInvalidPreKeyId, "unknown signed prekey id");
        const PreKeyRecord* opk = nullptr;
        if (m.prekey_id) {
            opk = keys.prekey(*m.prekey_id);
            if (!opk)
                return make_error(ErrorCode::kInvalidPreKeyId,
                                  "unknown or used one-time prekey id");
        }
        PP_TRY(state, initialize_bob_session(BobParameters{keys.identity(), spk->key_pair,
                                                           opk ? &opk->key_pair : nullptr,
                                                           m.identity_key, m.base_key}));
        state.local_registration_id = keys.registration_id();
        state.remote_registration_id = m.registration_id;
        state.alice_base_key = m.base_key;
        working.promote(std::move(state));
        out.consumed_prekey_id = m.prekey_id;
    }
    PP_TRY(plaintext, decrypt_with_record(working, m.message));
    record = std::move(working);
    out.plaintext = std::move(plaintext);
    out.remote_identity = m.identity_key;
    out.remote_registration_id = m.registration_id;
    return out;
}

}  // namespace pp::protocol

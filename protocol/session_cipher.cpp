#include "protocol/session_cipher.hpp"

#include <cstdint>
#include <vector>

#include "crypto/aes_cbc.hpp"
#include "protocol/x3dh.hpp"

namespace pp::protocol {
namespace {

// Everything a successful decryption changes in a session state, computed without touching it:
// a forged message costs key derivations but never a copy of the state, and leaves no trace.
struct ReceivePlan {
    // Set when the sender's ratchet key is new: the DH ratchet step and our next sending ratchet.
    std::optional<RootStep> sending;
    std::optional<crypto::KeyPair> our_new_ratchet;
    // The chain after this message, and the keys of messages it skips (to keep for later).
    ChainKey next_chain_key;
    std::vector<MessageKeys> newly_skipped;
    // Or, for a late message: which stored key it used.
    std::optional<std::size_t> used_skipped;
    MessageKeys keys;
};

// Derives the keys for `counter` starting from `chain` (whose stored keys are `skipped`).
Result<void> plan_message_keys(ReceivePlan& plan, const ChainKey& chain,
                               const std::deque<MessageKeys>* skipped, std::uint32_t counter) {
    if (chain.index() > counter) {
        if (skipped) {
            for (std::size_t i = 0; i < skipped->size(); ++i) {
                if ((*skipped)[i].counter == counter) {
                    plan.used_skipped = i;
                    plan.keys = (*skipped)[i];
                    return {};
                }
            }
        }
        return make_error(ErrorCode::kDuplicateMessage, "message key already used");
    }
    if (counter - chain.index() > kMaxForwardJump)
        return make_error(ErrorCode::kTooFarInFuture, "over 2000 messages into the future");
    if (counter == UINT32_MAX)  // the chain index after it would wrap to 0
        return make_error(ErrorCode::kLimitExceeded, "message counter exhausted");
    ChainKey ck = chain;
    while (ck.index() < counter) {
        plan.newly_skipped.push_back(ck.message_keys());
        ck = ck.next();
    }
    plan.keys = ck.message_keys();
    plan.next_chain_key = ck.next();
    return {};
}

Result<ReceivePlan> plan_receive(const SessionState& s, const SignalMessage& m) {
    if (s.version != kCurrentVersion)
        return make_error(ErrorCode::kInvalidVersion, "session version");
    ReceivePlan plan;
    const ReceiverChain* chain = nullptr;
    for (const auto& c : s.receiver_chains)
        if (c.sender_ratchet_key == m.ratchet_key) chain = &c;
    if (chain) {
        PP_TRY_VOID(plan_message_keys(plan, chain->chain_key, &chain->skipped, m.counter));
        return plan;
    }
    // A new ratchet key from the peer: one DH step to receive, one more for our next reply.
    PP_TRY(receiving, s.root_key.create_chain(m.ratchet_key, s.sender_ratchet.private_key));
    PP_TRY_VOID(plan_message_keys(plan, receiving.chain, nullptr, m.counter));
    crypto::KeyPair ours = crypto::KeyPair::generate();
    PP_TRY(sending, receiving.root.create_chain(m.ratchet_key, ours.private_key));
    plan.sending = std::move(sending);
    plan.our_new_ratchet = std::move(ours);
    return plan;
}

void keep_skipped(std::deque<MessageKeys>& stored, std::vector<MessageKeys>& fresh) {
    for (auto& k : fresh) stored.push_back(std::move(k));
    while (stored.size() > kMaxSkippedMessageKeys) stored.pop_front();
}

void commit(SessionState& s, const crypto::PublicKey& their_ratchet, ReceivePlan& plan) {
    if (plan.sending) {
        s.add_receiver_chain(their_ratchet, std::move(plan.next_chain_key));
        keep_skipped(s.receiver_chains.front().skipped, plan.newly_skipped);
        std::uint32_t index = s.sender_chain.index();
        s.previous_counter = index > 0 ? index - 1 : 0;
        s.sender_ratchet = std::move(*plan.our_new_ratchet);
        s.sender_chain = std::move(plan.sending->chain);
        s.root_key = std::move(plan.sending->root);
    } else {
        ReceiverChain* chain = s.find_receiver_chain(their_ratchet);
        if (plan.used_skipped) {
            chain->skipped.erase(chain->skipped.begin() +
                                 static_cast<std::ptrdiff_t>(*plan.used_skipped));
        } else {
            keep_skipped(chain->skipped, plan.newly_skipped);
            chain->chain_key = std::move(plan.next_chain_key);
        }
    }
    s.pending_prekey.reset();  // the peer has our session: stop repeating the X3DH header
}

// Decrypts with one session state, changing it only on success.
Result<Bytes> decrypt_with_state(SessionState& s, const SignalMessage& m) {
    PP_TRY(plan, plan_receive(s, m));
    if (!m.verify_mac(plan.keys.mac_key.view(), s.remote_identity, s.local_identity))
        return make_error(ErrorCode::kBadMac, "message MAC does not verify");
    PP_TRY(plaintext, crypto::aes256_cbc_decrypt(plan.keys.cipher_key.view(), plan.keys.iv.view(),
                                                 m.ciphertext));
    commit(s, m.ratchet_key, plan);
    return plaintext;
}

// Tries the current session, then the archived ones; a success on an archived session makes it
// current again. Nothing changes unless a session decrypts the message.
Result<Bytes> decrypt_with_record(SessionRecord& record, const SignalMessage& m) {
    std::optional<Error> first_error;
    if (SessionState* current = record.current()) {
        auto r = decrypt_with_state(*current, m);
        if (r || r.error().code == ErrorCode::kDuplicateMessage) return r;
        first_error = r.error();
    }
    auto& previous = record.previous();
    for (auto it = previous.begin(); it != previous.end(); ++it) {
        auto r = decrypt_with_state(*it, m);
        if (r) {
            SessionState revived = std::move(*it);
            previous.erase(it);
            record.promote(std::move(revived));
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

    if (s->sender_chain.index() == UINT32_MAX)  // the next index would wrap to 0
        return make_error(ErrorCode::kLimitExceeded, "sending chain exhausted");
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

    PreKeyDecryption out;
    if (record.has_session_state(kCurrentVersion, m.base_key)) {
        // A retransmitted first message: its session exists; decrypt, consume nothing.
        PP_TRY(plaintext, decrypt_with_record(record, m.message));
        out.plaintext = std::move(plaintext);
    } else {
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
        PP_TRY(plaintext, decrypt_with_state(state, m.message));
        record.promote(std::move(state));
        out.plaintext = std::move(plaintext);
        out.consumed_prekey_id = m.prekey_id;
    }
    out.remote_identity = m.identity_key;
    out.remote_registration_id = m.registration_id;
    return out;
}

}  // namespace pp::protocol

#include "protocol/sender_keys.hpp"

#include <algorithm>
#include <iterator>
#include <limits>

#include "crypto/aes_cbc.hpp"
#include "crypto/kdf.hpp"
#include "crypto/random.hpp"

namespace pp::protocol {
namespace {

constexpr std::size_t kSenderMessageKeyMaterial = 48;  // iv 16 || cipher key 32

// The reference draws ((r & 0x7fffffff) % INT32_MAX): 0 .. 2^31 - 2.
std::uint32_t random_key_id() {
    return (crypto::random_uint32() & kMaxSenderKeyId) % kMaxSenderKeyId;
}

SenderKeyState fresh_own_state(std::optional<std::uint32_t> avoid_id) {
    std::uint32_t id = random_key_id();
    while (avoid_id && id == *avoid_id) id = random_key_id();
    SecretArray<32> chain_key;
    crypto::random_bytes(chain_key.span());
    auto signing = crypto::KeyPair::generate();
    return SenderKeyState(id, SenderChainKey(0, chain_key.view()), signing.public_key,
                          std::move(signing.private_key));
}

SenderKeyDistributionMessage distribution_for(const SenderKeyState& state) {
    const auto& chain = state.chain_key();
    return SenderKeyDistributionMessage::build(state.key_id(), chain.iteration(),
                                               chain.key().view(), state.signing_public());
}

Result<Bytes> decrypt_with(const SenderMessageKey& key, ByteView ciphertext) {
    return crypto::aes256_cbc_decrypt(key.cipher_key().view(), key.iv().view(), ciphertext);
}

}  // namespace

// --- Chain and message keys ---

SenderMessageKey SenderMessageKey::derive(std::uint32_t iteration, ByteView seed) {
    // The reference passes 32 zero bytes as salt; hkdf_sha256 maps an empty salt to exactly
    // that (RFC 5869).
    SecretBytes okm =
        crypto::hkdf_sha256(seed, {}, as_bytes("WhisperGroup"), kSenderMessageKeyMaterial);
    SenderMessageKey k;
    k.iteration_ = iteration;
    k.iv_ = SecretArray<16>(okm.view().subspan(0, 16));
    k.cipher_key_ = SecretArray<32>(okm.view().subspan(16, 32));
    return k;
}

SenderChainKey SenderChainKey::next() const {
    return SenderChainKey(chain_.next());
}

SenderMessageKey SenderChainKey::message_key() const {
    return SenderMessageKey::derive(iteration(), message_seed().view());
}

// --- State ---

SenderKeyState::SenderKeyState(std::uint32_t key_id, SenderChainKey chain,
                               const crypto::PublicKey& signing_public,
                               std::optional<crypto::PrivateKey> signing_private)
    : key_id_(key_id),
      chain_(std::move(chain)),
      signing_public_(signing_public),
      signing_private_(std::move(signing_private)) {}

bool SenderKeyState::has_skipped_key(std::uint32_t iteration) const {
    return std::any_of(skipped_.begin(), skipped_.end(),
                       [&](const SkippedSenderKey& k) { return k.iteration == iteration; });
}

void SenderKeyState::add_skipped_keys(std::vector<SkippedSenderKey> keys) {
    if (keys.size() >= kMaxSenderMessageKeys) {
        // The new keys alone fill the store: keep their newest part.
        skipped_.clear();
        skipped_.insert(skipped_.end(), std::make_move_iterator(keys.end() - kMaxSenderMessageKeys),
                        std::make_move_iterator(keys.end()));
        return;
    }
    std::size_t total = skipped_.size() + keys.size();
    if (total > kMaxSenderMessageKeys) {
        skipped_.erase(skipped_.begin(), skipped_.begin() + static_cast<std::ptrdiff_t>(
                                                                total - kMaxSenderMessageKeys));
    }
    skipped_.insert(skipped_.end(), std::make_move_iterator(keys.begin()),
                    std::make_move_iterator(keys.end()));
}

Result<Bytes> SenderKeyState::decrypt_with_skipped_key(std::uint32_t iteration,
                                                       ByteView ciphertext) {
    auto it = std::find_if(skipped_.begin(), skipped_.end(),
                           [&](const SkippedSenderKey& k) { return k.iteration == iteration; });
    if (it == skipped_.end())
        return make_error(ErrorCode::kDuplicateMessage, "sender key message already received");
    PP_TRY(plaintext,
           decrypt_with(SenderMessageKey::derive(iteration, it->seed.view()), ciphertext));
    skipped_.erase(it);
    return plaintext;
}

// --- Record ---

SenderKeyState* SenderKeyRecord::find(std::uint32_t key_id) {
    for (auto& s : states_)
        if (s.key_id() == key_id) return &s;
    return nullptr;
}

const SenderKeyState* SenderKeyRecord::find(std::uint32_t key_id) const {
    for (const auto& s : states_)
        if (s.key_id() == key_id) return &s;
    return nullptr;
}

void SenderKeyRecord::add_state(SenderKeyState state) {
    states_.insert(states_.begin(), std::move(state));
    if (states_.size() > kMaxSenderKeyStates)
        states_.erase(states_.begin() + kMaxSenderKeyStates, states_.end());
}

void SenderKeyRecord::set_state(SenderKeyState state) {
    states_.clear();
    states_.push_back(std::move(state));
}

// --- Sender side ---

Result<SenderKeyDistributionMessage> create_sender_key_distribution(SenderKeyRecord& own) {
    if (own.empty()) own.set_state(fresh_own_state(std::nullopt));
    const SenderKeyState& state = *own.current();
    if (!state.signing_private())
        return make_error(ErrorCode::kInvalidKey, "sender key state is not our own");
    return distribution_for(state);
}

SenderKeyDistributionMessage rotate_sender_key(SenderKeyRecord& own) {
    std::optional<std::uint32_t> old_id;
    if (const auto* cur = own.current()) old_id = cur->key_id();
    own.set_state(fresh_own_state(old_id));
    return distribution_for(*own.current());
}

Result<Bytes> group_encrypt(SenderKeyRecord& own, ByteView plaintext) {
    SenderKeyState* state = own.current();
    if (!state) return make_error(ErrorCode::kNoSession, "no sender key state");
    if (!state->signing_private())
        return make_error(ErrorCode::kInvalidKey, "sender key state has no signing private key");
    const SenderChainKey& chain = state->chain_key();
    // The iteration travels as uint32; wrapping would reuse message keys.
    if (chain.iteration() == std::numeric_limits<std::uint32_t>::max())
        return make_error(ErrorCode::kLimitExceeded, "sender chain exhausted");
    if (plaintext.size() > kMaxGroupPlaintextSize)
        return make_error(ErrorCode::kLimitExceeded, "plaintext too large");

    SenderMessageKey key = chain.message_key();
    Bytes ciphertext =
        crypto::aes256_cbc_encrypt(key.cipher_key().view(), key.iv().view(), plaintext);
    if (ciphertext.empty()) return make_error(ErrorCode::kInternal, "AES-CBC encryption failed");
    auto message = SenderKeyMessage::build(state->key_id(), key.iteration(), std::move(ciphertext),
                                           *state->signing_private());
    state->set_chain_key(chain.next());
    return std::move(message.serialized);
}

// --- Receiver side ---

Result<void> process_sender_key_distribution(SenderKeyRecord& theirs,
                                             const SenderKeyDistributionMessage& message) {
    std::optional<SenderKeyState> state;
    // Keep the state we follow when the message would not move it forward; this also keeps its
    // stored keys for late messages.
    if (const SenderKeyState* existing = theirs.find(message.key_id)) {
        if (existing->signing_public() == message.signing_key &&
            existing->chain_key().iteration() >= message.iteration)
            state = *existing;
    }
    if (!state) {
        state.emplace(message.key_id, SenderChainKey(message.iteration, message.chain_key.view()),
                      message.signing_key);
    }
    // Any other state with this id goes, so that lookups by id are unambiguous; the result
    // becomes the newest state.
    SenderKeyRecord rebuilt;
    for (auto it = theirs.states().rbegin(); it != theirs.states().rend(); ++it)
        if (it->key_id() != message.key_id) rebuilt.add_state(*it);
    rebuilt.add_state(std::move(*state));
    theirs = std::move(rebuilt);
    return {};
}

Result<void> process_sender_key_distribution(SenderKeyRecord& theirs, ByteView serialized) {
    PP_TRY(message, SenderKeyDistributionMessage::parse(serialized));
    return process_sender_key_distribution(theirs, message);
}

Result<Bytes> group_decrypt(SenderKeyRecord& theirs, ByteView serialized) {
    PP_TRY(message, SenderKeyMessage::parse(serialized));
    SenderKeyState* state = theirs.find(message.key_id);
    if (!state) return make_error(ErrorCode::kNoSession, "no sender key state for this key id");
    if (!message.verify_signature(state->signing_public()))
        return make_error(ErrorCode::kInvalidSignature, "sender key message signature invalid");

    const SenderChainKey& chain = state->chain_key();
    const std::uint32_t target = message.iteration;

    if (target < chain.iteration()) {
        // A late message: its key must still be stored; otherwise it was used already.
        return state->decrypt_with_skipped_key(target, message.ciphertext);
    }

    // Accepting the last iteration would wrap the chain back to 0 (the reference lets it wrap).
    if (target == std::numeric_limits<std::uint32_t>::max())
        return make_error(ErrorCode::kLimitExceeded, "sender chain exhausted");
    if (target - chain.iteration() > kMaxSenderKeyForwardJump)
        return make_error(ErrorCode::kTooFarInFuture, "sender key message too far in the future");

    // Walk forward on a copy, collecting keys for the messages we skip; commit on success.
    std::vector<SkippedSenderKey> skipped;
    skipped.reserve(target - chain.iteration());
    SenderChainKey walk = chain;
    while (walk.iteration() < target) {
        skipped.push_back(SkippedSenderKey{walk.iteration(), walk.message_seed()});
        walk = walk.next();
    }
    SenderMessageKey key = walk.message_key();
    PP_TRY(plaintext, decrypt_with(key, message.ciphertext));
    state->add_skipped_keys(std::move(skipped));
    state->set_chain_key(walk.next());
    return plaintext;
}

}  // namespace pp::protocol

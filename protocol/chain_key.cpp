#include "protocol/chain_key.hpp"

#include <algorithm>

#include "crypto/kdf.hpp"

namespace pp::protocol {
namespace {
constexpr std::uint8_t kMessageKeySeed[1] = {0x01};
constexpr std::uint8_t kChainKeySeed[1] = {0x02};
}  // namespace

MessageKeys MessageKeys::derive(ByteView seed, std::uint32_t counter) {
    SecretBytes okm = crypto::hkdf_sha256(seed, {}, as_bytes("WhisperMessageKeys"), 80);
    MessageKeys k;
    k.cipher_key = SecretArray<32>(okm.view().subspan(0, 32));
    k.mac_key = SecretArray<32>(okm.view().subspan(32, 32));
    k.iv = SecretArray<16>(okm.view().subspan(64, 16));
    k.counter = counter;
    return k;
}

ChainKey ChainKey::next() const {
    auto k = crypto::hmac_sha256(key_.view(), {ByteView(kChainKeySeed, 1)});
    return ChainKey(k.view(), index_ + 1);
}

SecretArray<32> ChainKey::message_seed() const {
    return crypto::hmac_sha256(key_.view(), {ByteView(kMessageKeySeed, 1)});
}

Result<RootStep> RootKey::create_chain(const crypto::PublicKey& their_ratchet,
                                       const crypto::PrivateKey& our_ratchet) const {
    PP_TRY(shared, crypto::agree(our_ratchet, their_ratchet));
    SecretBytes okm =
        crypto::hkdf_sha256(shared.view(), key_.view(), as_bytes("WhisperRatchet"), 64);
    return RootStep{RootKey(okm.view().subspan(0, 32)), ChainKey(okm.view().subspan(32, 32), 0)};
}

}  // namespace pp::protocol

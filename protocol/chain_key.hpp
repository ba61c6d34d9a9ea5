#pragma once
// The symmetric-key ratchet shared by the Double Ratchet and Sender Keys:
//   message seed = HMAC(CK, 0x01), next CK = HMAC(CK, 0x02).
#include <cstdint>

#include "base/bytes.hpp"
#include "base/result.hpp"
#include "crypto/keys.hpp"

namespace pp::protocol {

// Keys for one Double Ratchet message: HKDF(seed, zero salt, "WhisperMessageKeys", 80).
struct MessageKeys {
    SecretArray<32> cipher_key;
    SecretArray<32> mac_key;
    SecretArray<16> iv;
    std::uint32_t counter = 0;

    static MessageKeys derive(ByteView seed, std::uint32_t counter);
};

class ChainKey {
  public:
    ChainKey() = default;
    ChainKey(ByteView key, std::uint32_t index) : key_(key), index_(index) {}

    std::uint32_t index() const { return index_; }
    const SecretArray<32>& key() const { return key_; }
    ChainKey next() const;
    SecretArray<32> message_seed() const;
    MessageKeys message_keys() const { return MessageKeys::derive(message_seed().view(), index_); }

  private:
    SecretArray<32> key_;
    std::uint32_t index_ = 0;
};

struct RootStep;

class RootKey {
  public:
    RootKey() = default;
    explicit RootKey(ByteView key) : key_(key) {}
    const SecretArray<32>& key() const { return key_; }
    // One DH ratchet step: HKDF(DH(ours, theirs), salt = root key, "WhisperRatchet", 64).
    Result<RootStep> create_chain(const crypto::PublicKey& their_ratchet,
                                  const crypto::PrivateKey& our_ratchet) const;

  private:
    SecretArray<32> key_;
};

struct RootStep {
    RootKey root;
    ChainKey chain;
};

}  // namespace pp::protocol

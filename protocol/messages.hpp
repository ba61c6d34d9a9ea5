#pragma once
// The four Signal wire messages, byte-compatible with libsignal (protocol version 3):
//   SignalMessage                 0x33 || protobuf || 8-byte truncated HMAC-SHA256
//   PreKeySignalMessage           0x33 || protobuf (its inner message complete with MAC)
//   SenderKeyMessage              0x33 || protobuf || 64-byte XEdDSA signature
//   SenderKeyDistributionMessage  0x33 || protobuf
// Each parsed message keeps the bytes it was parsed from: MACs and signatures are checked over
// the bytes as received, never over a re-serialization.
#include <cstdint>
#include <optional>

#include "base/bytes.hpp"
#include "base/result.hpp"
#include "crypto/keys.hpp"
#include "crypto/xeddsa.hpp"

namespace pp::protocol {

inline constexpr std::uint8_t kCurrentVersion = 3;
inline constexpr std::uint8_t kVersionByte = (kCurrentVersion << 4) | kCurrentVersion;  // 0x33
inline constexpr std::size_t kMacLength = 8;
inline constexpr std::size_t kSignatureLength = 64;
// No legitimate message is anywhere near this; a bound keeps hostile input cheap to refuse.
inline constexpr std::size_t kMaxMessageSize = 1 << 20;

// Numeric types as libsignal's ciphertext_message constants.
enum class MessageType : std::uint8_t {
    kSignal = 2,
    kPreKey = 3,
    kSenderKey = 4,
    kSenderKeyDistribution = 5,
};

struct SignalMessage {
    crypto::PublicKey ratchet_key;
    std::uint32_t counter = 0;
    std::uint32_t previous_counter = 0;
    Bytes ciphertext;
    Bytes serialized;

    static Result<SignalMessage> parse(ByteView bytes);
    static SignalMessage build(ByteView mac_key, const crypto::PublicKey& ratchet_key,
                               std::uint32_t counter, std::uint32_t previous_counter,
                               Bytes ciphertext, const crypto::PublicKey& sender_identity,
                               const crypto::PublicKey& receiver_identity);
    bool verify_mac(ByteView mac_key, const crypto::PublicKey& sender_identity,
                    const crypto::PublicKey& receiver_identity) const;
};

struct PreKeySignalMessage {
    std::uint32_t registration_id = 0;
    std::optional<std::uint32_t> prekey_id;
    std::uint32_t signed_prekey_id = 0;
    crypto::PublicKey base_key;
    crypto::PublicKey identity_key;
    SignalMessage message;
    Bytes serialized;

    static Result<PreKeySignalMessage> parse(ByteView bytes);
    static PreKeySignalMessage build(std::uint32_t registration_id,
                                     std::optional<std::uint32_t> prekey_id,
                                     std::uint32_t signed_prekey_id,
                                     const crypto::PublicKey& base_key,
                                     const crypto::PublicKey& identity_key, SignalMessage message);
};

struct SenderKeyMessage {
    std::uint32_t key_id = 0;
    std::uint32_t iteration = 0;
    Bytes ciphertext;
    Bytes serialized;

    static Result<SenderKeyMessage> parse(ByteView bytes);
    static SenderKeyMessage build(std::uint32_t key_id, std::uint32_t iteration, Bytes ciphertext,
                                  const crypto::PrivateKey& signing_key);
    bool verify_signature(const crypto::PublicKey& signing_key) const;
};

struct SenderKeyDistributionMessage {
    std::uint32_t key_id = 0;
    std::uint32_t iteration = 0;
    SecretArray<32> chain_key;
    crypto::PublicKey signing_key;
    Bytes serialized;  // set by build() only; send it inside a pairwise session, never in clear

    static Result<SenderKeyDistributionMessage> parse(ByteView bytes);
    static SenderKeyDistributionMessage build(std::uint32_t key_id, std::uint32_t iteration,
                                              ByteView chain_key,
                                              const crypto::PublicKey& signing_key);
};

}  // namespace pp::protocol

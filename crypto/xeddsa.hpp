#pragma once
// XEdDSA (Signal's specification, revision 1): Ed25519-compatible signatures made and checked
// with X25519 keys, so one identity key both agrees and signs.
//
// Verification also accepts the variant produced by libsignal-protocol-c 2.3.3, which signs with
// the unnegated key and carries the Edwards sign bit in bit 7 of the signature's last byte.
// A specification-conformant signature always has that bit clear (s < q), so one verifier
// accepts both without weakening either.
#include <array>

#include "base/bytes.hpp"
#include "crypto/keys.hpp"

namespace pp::crypto {

using Signature = std::array<std::uint8_t, 64>;

Signature xeddsa_sign(const PrivateKey& key, ByteView message);
// `random64` is the 64-byte nonce input Z; exposed so tests can make signatures reproducible.
Signature xeddsa_sign(const PrivateKey& key, ByteView message,
                      std::span<const std::uint8_t, 64> random64);
bool xeddsa_verify(const PublicKey& key, ByteView message, ByteView signature);

}  // namespace pp::crypto

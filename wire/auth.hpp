#pragma once
// The byte strings client and server must agree on outside protobuf: what a device signs to
// authenticate, and the proof-of-work puzzle of "pow" registration. Pure functions, no I/O.
#include <cstdint>

#include "base/bytes.hpp"

namespace pp::wire {

// "paperplane-auth-v1" || nonce || account id (16) || device id (4 bytes, big-endian).
Bytes auth_message(ByteView nonce, ByteView account, std::uint32_t device);

// True when SHA-256(challenge || nonce) starts with `difficulty` zero bits.
bool pow_satisfied(ByteView challenge, ByteView nonce, unsigned difficulty);
// Searches for such a nonce (8 bytes); expected 2^difficulty hashes.
Bytes solve_pow(ByteView challenge, unsigned difficulty);

}  // namespace pp::wire

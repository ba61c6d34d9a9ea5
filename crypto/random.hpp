#pragma once
// Cryptographically secure randomness (libsodium's randombytes, seeded by the kernel).
#include <cstdint>
#include <span>

namespace pp::crypto {

void random_bytes(std::span<std::uint8_t> out);
std::uint32_t random_uint32();

}  // namespace pp::crypto

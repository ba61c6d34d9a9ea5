#include "crypto/random.hpp"

#include <sodium.h>

#include "crypto/init.hpp"

namespace pp::crypto {

void random_bytes(std::span<std::uint8_t> out) {
    // An empty span may carry a null pointer, which randombytes_buf declares it never takes.
    if (out.empty()) return;
    ensure_initialized();
    randombytes_buf(out.data(), out.size());
}

std::uint32_t random_uint32() {
    ensure_initialized();
    return randombytes_random();
}

}  // namespace pp::crypto

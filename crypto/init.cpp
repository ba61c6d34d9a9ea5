#include "crypto/init.hpp"

#include <sodium.h>

#include <cstdlib>
#include <mutex>

namespace pp::crypto {

void ensure_initialized() {
    static std::once_flag once;
    std::call_once(once, [] {
        // -1 means libsodium cannot work at all (no entropy source): continuing would be unsafe.
        if (sodium_init() < 0) std::abort();
    });
}

}  // namespace pp::crypto

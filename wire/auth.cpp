#include "wire/auth.hpp"

#include <sodium.h>

#include <algorithm>
#include <string_view>

namespace pp::wire {

Bytes auth_message(ByteView nonce, ByteView account, std::uint32_t device) {
    static constexpr std::string_view kContext = "paperplane-auth-v1";
    // Sized up front and filled in place (GCC 12 at -O3 misreads growing inserts here).
    Bytes m(kContext.size() + nonce.size() + account.size() + 4);
    auto out = std::copy(kContext.begin(), kContext.end(), m.begin());
    out = std::copy(nonce.begin(), nonce.end(), out);
    out = std::copy(account.begin(), account.end(), out);
    for (int shift = 24; shift >= 0; shift -= 8)
        *out++ = static_cast<std::uint8_t>(device >> shift);
    return m;
}

bool pow_satisfied(ByteView challenge, ByteView nonce, unsigned difficulty) {
    if (difficulty > 256) return false;
    crypto_hash_sha256_state st;
    std::uint8_t digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, challenge.data(), challenge.size());
    crypto_hash_sha256_update(&st, nonce.data(), nonce.size());
    crypto_hash_sha256_final(&st, digest);
    for (unsigned bit = 0; bit < difficulty; ++bit)
        if (digest[bit / 8] & (0x80 >> (bit % 8))) return false;
    return true;
}

Bytes solve_pow(ByteView challenge, unsigned difficulty) {
    Bytes nonce(8, 0);
    for (std::uint64_t counter = 0;; ++counter) {
        for (std::size_t i = 0; i < nonce.size(); ++i)
            nonce[i] = static_cast<std::uint8_t>(counter >> (8 * i));
        if (pow_satisfied(challenge, nonce, difficulty)) return nonce;
    }
}

}  // namespace pp::wire

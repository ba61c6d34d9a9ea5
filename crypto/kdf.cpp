#include "crypto/kdf.hpp"

#include <sodium.h>

#include <algorithm>
#include <cassert>

namespace pp::crypto {

Mac32 hmac_sha256(ByteView key, std::initializer_list<ByteView> parts) {
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key.data(), key.size());
    for (auto p : parts) crypto_auth_hmacsha256_update(&st, p.data(), p.size());
    Mac32 out;
    crypto_auth_hmacsha256_final(&st, out.data());
    sodium_memzero(&st, sizeof st);
    return out;
}

SecretBytes hkdf_sha256(ByteView ikm, ByteView salt, ByteView info, std::size_t out_len) {
    assert(out_len <= 255 * 32);
    static const std::uint8_t kZeroSalt[32] = {};
    // Extract: PRK = HMAC(salt, IKM).
    Mac32 prk = hmac_sha256(salt.empty() ? ByteView(kZeroSalt, 32) : salt, {ikm});
    // Expand: T(i) = HMAC(PRK, T(i-1) || info || i).
    SecretBytes out(out_len);
    Mac32 t;
    std::size_t t_len = 0;
    std::size_t done = 0;
    for (std::uint8_t i = 1; done < out_len; ++i) {
        const std::uint8_t counter[1] = {i};
        t = hmac_sha256(prk.view(), {ByteView(t.data(), t_len), info, ByteView(counter, 1)});
        t_len = 32;
        std::size_t n = std::min<std::size_t>(32, out_len - done);
        std::copy_n(t.data(), n, out.data() + done);
        done += n;
    }
    return out;
}

std::array<std::uint8_t, 64> sha512(std::initializer_list<ByteView> parts) {
    crypto_hash_sha512_state st;
    crypto_hash_sha512_init(&st);
    for (auto p : parts) crypto_hash_sha512_update(&st, p.data(), p.size());
    std::array<std::uint8_t, 64> out{};
    crypto_hash_sha512_final(&st, out.data());
    return out;
}

}  // namespace pp::crypto

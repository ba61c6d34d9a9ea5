#include "crypto/xeddsa.hpp"

#include <openssl/bn.h>
#include <sodium.h>

#include <algorithm>
#include <cassert>
#include <memory>

#include "crypto/init.hpp"
#include "crypto/random.hpp"

namespace pp::crypto {
namespace {

constexpr std::size_t kScalar = crypto_core_ed25519_SCALARBYTES;

// Reduces a 64-byte little-endian value modulo the group order q.
void reduce64(std::uint8_t out[kScalar], const std::uint8_t in[64]) {
    std::uint8_t tmp[64];
    std::copy_n(in, 64, tmp);
    crypto_core_ed25519_scalar_reduce(out, tmp);
    sodium_memzero(tmp, sizeof tmp);
}

struct BnCtxDeleter {
    void operator()(BN_CTX* c) const { BN_CTX_free(c); }
};
struct BnDeleter {
    void operator()(BIGNUM* b) const { BN_free(b); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnDeleter>;

// The prime p = 2^255 - 19, built once.
const BIGNUM* field_prime() {
    static BIGNUM* p = [] {
        BIGNUM* v = BN_new();
        BN_set_word(v, 1);
        BN_lshift(v, v, 255);
        BN_sub_word(v, 19);
        return v;
    }();
    return p;
}

// Birational map from the Montgomery u-coordinate to the Edwards y-coordinate:
// y = (u - 1) / (u + 1) mod p. Operates on public data only, so BIGNUM's timing is harmless.
bool montgomery_u_to_edwards_y(const std::uint8_t u_le[32], std::uint8_t y_le[32]) {
    std::uint8_t u_be[32];
    for (int i = 0; i < 32; ++i) u_be[i] = u_le[31 - i];
    u_be[0] &= 0x7f;  // the u-coordinate is a 255-bit field element

    std::unique_ptr<BN_CTX, BnCtxDeleter> ctx(BN_CTX_new());
    BnPtr u(BN_bin2bn(u_be, 32, nullptr)), num(BN_new()), den(BN_new()), y(BN_new());
    if (!ctx || !u || !num || !den || !y) return false;
    const BIGNUM* p = field_prime();
    if (BN_cmp(u.get(), p) >= 0) return false;  // non-canonical encoding
    if (!BN_mod_sub(num.get(), u.get(), BN_value_one(), p, ctx.get())) return false;
    if (!BN_mod_add(den.get(), u.get(), BN_value_one(), p, ctx.get())) return false;
    if (BN_is_zero(den.get())) return false;  // u = -1 has no Edwards image
    if (!BN_mod_inverse(den.get(), den.get(), p, ctx.get())) return false;
    if (!BN_mod_mul(y.get(), num.get(), den.get(), p, ctx.get())) return false;
    return BN_bn2lebinpad(y.get(), y_le, 32) == 32;
}

}  // namespace

Signature xeddsa_sign(const PrivateKey& key, ByteView message) {
    std::array<std::uint8_t, 64> z{};
    random_bytes(z);
    Signature s = xeddsa_sign(key, message, z);
    sodium_memzero(z.data(), z.size());
    return s;
}

Signature xeddsa_sign(const PrivateKey& key, ByteView message,
                      std::span<const std::uint8_t, 64> random64) {
    ensure_initialized();
    // calculate_key_pair(k): E = kB; A = E with its sign bit cleared; a = -k if E's sign bit set.
    std::uint8_t k_wide[64] = {};
    std::copy_n(key.secret().data(), 32, k_wide);
    std::uint8_t a[kScalar];
    reduce64(a, k_wide);
    sodium_memzero(k_wide, sizeof k_wide);

    std::uint8_t edwards[32];
    if (crypto_scalarmult_ed25519_base_noclamp(edwards, a) != 0) {
        // Only the zero scalar fails here, and a clamped key is never zero mod q.
        sodium_memzero(a, sizeof a);
        return {};
    }
    if (edwards[31] & 0x80) {
        crypto_core_ed25519_scalar_negate(a, a);
        edwards[31] &= 0x7f;
    }

    // r = hash1(a || M || Z) mod q, where hash1 prefixes 2^256 - 2 (0xFE then 31 0xFF bytes).
    std::uint8_t prefix[32];
    std::fill_n(prefix, 32, 0xff);
    prefix[0] = 0xfe;
    crypto_hash_sha512_state st;
    std::uint8_t digest[64];
    crypto_hash_sha512_init(&st);
    crypto_hash_sha512_update(&st, prefix, sizeof prefix);
    crypto_hash_sha512_update(&st, a, sizeof a);
    crypto_hash_sha512_update(&st, message.data(), message.size());
    crypto_hash_sha512_update(&st, random64.data(), random64.size());
    crypto_hash_sha512_final(&st, digest);
    std::uint8_t r[kScalar];
    reduce64(r, digest);

    // R = rB; h = SHA-512(R || A || M) mod q; s = r + h a mod q.
    Signature sig{};
    crypto_scalarmult_ed25519_base_noclamp(sig.data(), r);
    crypto_hash_sha512_init(&st);
    crypto_hash_sha512_update(&st, sig.data(), 32);
    crypto_hash_sha512_update(&st, edwards, 32);
    crypto_hash_sha512_update(&st, message.data(), message.size());
    crypto_hash_sha512_final(&st, digest);
    std::uint8_t h[kScalar];
    reduce64(h, digest);
    std::uint8_t ha[kScalar];
    crypto_core_ed25519_scalar_mul(ha, h, a);
    crypto_core_ed25519_scalar_add(sig.data() + 32, r, ha);

    sodium_memzero(a, sizeof a);
    sodium_memzero(r, sizeof r);
    sodium_memzero(ha, sizeof ha);
    sodium_memzero(digest, sizeof digest);
    sodium_memzero(&st, sizeof st);
    return sig;
}

bool xeddsa_verify(const PublicKey& key, ByteView message, ByteView signature) {
    if (signature.size() != 64) return false;
    ensure_initialized();
    std::uint8_t edwards[32];
    if (!montgomery_u_to_edwards_y(key.raw().data(), edwards)) return false;
    std::uint8_t sig[64];
    std::copy_n(signature.data(), 64, sig);
    edwards[31] = static_cast<std::uint8_t>((edwards[31] & 0x7f) | (sig[63] & 0x80));
    sig[63] &= 0x7f;
    return crypto_sign_ed25519_verify_detached(sig, message.data(), message.size(), edwards) == 0;
}

}  // namespace pp::crypto

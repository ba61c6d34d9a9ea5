#include "crypto/aes_cbc.hpp"

#include <openssl/evp.h>

#include <cassert>
#include <memory>

namespace pp::crypto {
namespace {

// Fetched once: an implicit fetch on every init costs more than encrypting a short message.
const EVP_CIPHER* aes256_cbc() {
    static EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);
    return cipher;
}

struct CtxDeleter {
    void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

// One context per thread, reset between uses, to avoid an allocation per message.
EVP_CIPHER_CTX* thread_ctx() {
    thread_local Ctx ctx(EVP_CIPHER_CTX_new());
    return ctx.get();
}

}  // namespace

Bytes aes256_cbc_encrypt(ByteView key32, ByteView iv16, ByteView plaintext) {
    assert(key32.size() == 32 && iv16.size() == 16);
    EVP_CIPHER_CTX* ctx = thread_ctx();
    if (!ctx || !aes256_cbc()) return {};
    Bytes out(plaintext.size() + 16);
    int n1 = 0, n2 = 0;
    if (EVP_EncryptInit_ex2(ctx, aes256_cbc(), key32.data(), iv16.data(), nullptr) != 1 ||
        EVP_EncryptUpdate(ctx, out.data(), &n1, plaintext.data(),
                          static_cast<int>(plaintext.size())) != 1 ||
        EVP_EncryptFinal_ex(ctx, out.data() + n1, &n2) != 1) {
        EVP_CIPHER_CTX_reset(ctx);
        return {};
    }
    EVP_CIPHER_CTX_reset(ctx);
    out.resize(static_cast<std::size_t>(n1 + n2));
    return out;
}

Result<Bytes> aes256_cbc_decrypt(ByteView key32, ByteView iv16, ByteView ciphertext) {
    assert(key32.size() == 32 && iv16.size() == 16);
    if (ciphertext.empty() || ciphertext.size() % 16 != 0)
        return make_error(ErrorCode::kMalformed, "ciphertext is not a whole number of AES blocks");
    EVP_CIPHER_CTX* ctx = thread_ctx();
    if (!ctx || !aes256_cbc())
        return make_error(ErrorCode::kInternal, "OpenSSL cipher unavailable");
    Bytes out(ciphertext.size());
    int n1 = 0, n2 = 0;
    bool ok = EVP_DecryptInit_ex2(ctx, aes256_cbc(), key32.data(), iv16.data(), nullptr) == 1 &&
              EVP_DecryptUpdate(ctx, out.data(), &n1, ciphertext.data(),
                                static_cast<int>(ciphertext.size())) == 1 &&
              EVP_DecryptFinal_ex(ctx, out.data() + n1, &n2) == 1;
    EVP_CIPHER_CTX_reset(ctx);
    if (!ok) return make_error(ErrorCode::kMalformed, "bad padding");
    out.resize(static_cast<std::size_t>(n1 + n2));
    return out;
}

}  // namespace pp::crypto

#pragma once
// AES-256-CBC with PKCS#7 padding (OpenSSL EVP). Used exactly where the Signal wire format uses
// it; integrity always comes from a MAC or signature checked before decryption.
#include "base/bytes.hpp"
#include "base/result.hpp"

namespace pp::crypto {

Bytes aes256_cbc_encrypt(ByteView key32, ByteView iv16, ByteView plaintext);
Result<Bytes> aes256_cbc_decrypt(ByteView key32, ByteView iv16, ByteView ciphertext);

}  // namespace pp::crypto

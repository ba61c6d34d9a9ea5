#pragma once
// HMAC-SHA256, HKDF-SHA256 (RFC 5869) and SHA-512.
#include <array>
#include <cstddef>

#include "base/bytes.hpp"
#include "base/result.hpp"

namespace pp::crypto {

using Mac32 = SecretArray<32>;

// HMAC-SHA256 over the concatenation of `parts`; any key length.
Mac32 hmac_sha256(ByteView key, std::initializer_list<ByteView> parts);

// RFC 5869 extract-then-expand. An empty salt means HashLen zero bytes, as the RFC says.
// `out_len` is at most 255 * 32.
SecretBytes hkdf_sha256(ByteView ikm, ByteView salt, ByteView info, std::size_t out_len);

std::array<std::uint8_t, 64> sha512(std::initializer_list<ByteView> parts);

}  // namespace pp::crypto

#pragma once
// The server's endpoint list key: an Ed25519 key kept in <data-dir>/endpoint-signing.key, made
// on first start and loaded ever after. Clients pin its public half at registration, so a
// lost or replaced key strands every client's cached list: a file that does not hold a valid
// key is an error for the operator to look at, never something to silently write over.
//
// File: the 32-byte seed followed by the 32-byte public key (libsodium's secret key form), mode
// 0600. The public half lets a load notice a corrupted seed.
#include <filesystem>

#include "base/result.hpp"
#include "crypto/signing.hpp"

namespace pp::server {

inline constexpr const char* kEndpointKeyFile = "endpoint-signing.key";

// Loads the key, or creates it (atomically, 0600) when the file does not exist. kMalformed for
// a file of the wrong size or whose halves do not match; kInternal for I/O errors.
Result<crypto::SigningKey> load_or_create_endpoint_key(const std::filesystem::path& data_dir);
// Loads only: a missing file is kNoSession ("no key yet"), for tools that must create nothing.
Result<crypto::SigningKey> load_endpoint_key(const std::filesystem::path& data_dir);

}  // namespace pp::server

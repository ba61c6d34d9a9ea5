#pragma once
// Files a program keeps its identity in (TLS keys, link secrets): written to a temporary name
// with the final mode from the start (a key is never readable by others, not even for a
// moment), synced, then renamed into place, so a crash leaves the old file or the new one,
// never a torn one.
#include <sys/types.h>

#include <filesystem>

#include "base/bytes.hpp"
#include "base/result.hpp"

namespace pp::net {

Result<void> write_file_durably(const std::filesystem::path& path, ByteView content, mode_t mode);

}  // namespace pp::net

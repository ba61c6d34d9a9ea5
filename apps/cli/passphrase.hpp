#pragma once
// Passphrases for profiles: from PAPERPLANE_PASSPHRASE (scripts), else asked on the terminal
// with echo off. Never taken from the command line, where `ps` and shell history would see it.
#include <filesystem>
#include <optional>
#include <string>

#include "base/result.hpp"

namespace pp::cli {

std::optional<std::string> passphrase_from_env();
// For `init --passphrase`: asked twice.
Result<std::optional<std::string>> new_passphrase();
// For opening: only when the profile was made with one (it has no key file).
std::optional<std::string> existing_passphrase(const std::filesystem::path& dir);

}  // namespace pp::cli

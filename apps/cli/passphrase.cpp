#include "apps/cli/passphrase.hpp"

#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

namespace pp::cli {

namespace {

// Reads one line from the terminal with echo off. nullopt when there is no terminal.
std::optional<std::string> ask(const char* prompt) {
    if (!isatty(STDIN_FILENO)) return std::nullopt;
    std::fprintf(stderr, "%s", prompt);
    std::fflush(stderr);
    termios old{};
    const bool have_tty = tcgetattr(STDIN_FILENO, &old) == 0;
    if (have_tty) {
        termios quiet = old;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    std::string line;
    std::getline(std::cin, line);
    if (have_tty) tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::fprintf(stderr, "\n");
    return line;
}

}  // namespace

std::optional<std::string> passphrase_from_env() {
    if (const char* p = std::getenv("PAPERPLANE_PASSPHRASE"); p && *p) return std::string(p);
    return std::nullopt;
}

Result<std::optional<std::string>> new_passphrase() {
    if (auto env = passphrase_from_env()) return std::optional<std::string>(*env);
    auto first = ask("new passphrase: ");
    if (!first)
        return make_error(ErrorCode::kMalformed,
                          "no terminal to ask for a passphrase: set PAPERPLANE_PASSPHRASE");
    if (first->size() < 8)
        return make_error(ErrorCode::kMalformed, "a passphrase needs at least 8 characters");
    auto again = ask("repeat passphrase: ");
    if (!again || *again != *first)
        return make_error(ErrorCode::kMalformed, "the passphrases differ");
    return std::optional<std::string>(*first);
}

std::optional<std::string> existing_passphrase(const std::filesystem::path& dir) {
    // A profile with a key file has no passphrase, whatever the environment says.
    std::error_code ec;
    if (std::filesystem::exists(dir / "profile.key", ec)) return std::nullopt;
    if (auto env = passphrase_from_env()) return env;
    if (!std::filesystem::exists(dir / "profile.db", ec)) return std::nullopt;
    return ask("passphrase: ");
}

}  // namespace pp::cli

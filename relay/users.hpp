#pragma once
// SOCKS5 users from the operator's file: one "user:password" per line, '#' comments and blank
// lines ignored, each field 1..255 bytes (RFC 1929). Passwords are kept only as BLAKE2b digests
// (wiped on destruction) and compared in constant time. reload() swaps the whole table at once;
// a file that does not parse leaves the current table in place.
#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace pp::relay {

// One line of the users file. The password is a secret: wiped when the entry goes away.
struct UserEntry {
    std::string name;
    std::string password;
    UserEntry() = default;
    UserEntry(const UserEntry&) = default;
    UserEntry& operator=(const UserEntry&) = default;
    ~UserEntry();
};

// The file's rules, shared by the server and by `paperplane-relay link` (which prints each
// user's links): every line valid, no name twice, or an error and nothing.
Result<std::vector<UserEntry>> parse_users_text(std::string_view text);
Result<std::vector<UserEntry>> read_users_file(const std::string& path);

class Users {
  public:
    // Reads `path` and replaces the table only if every line is valid.
    Result<void> load(const std::string& path);
    // Parses file contents; the same rules as load(). Exposed for tests.
    Result<void> load_text(std::string_view text);
    // True if `user` exists and `password` matches. Takes the same time whether the user exists
    // or not, and whatever the password's length.
    bool authenticate(std::string_view user, std::string_view password) const;
    std::size_t size() const;

  private:
    struct Digest {
        std::array<unsigned char, 32> bytes{};
        Digest() = default;
        Digest(const Digest&) = default;
        Digest& operator=(const Digest&) = default;
        ~Digest();
    };
    using Table = std::map<std::string, Digest, std::less<>>;
    static Digest digest(std::string_view password);
    void install(const std::vector<UserEntry>& entries);

    mutable std::mutex mutex_;
    std::shared_ptr<const Table> table_ = std::make_shared<const Table>();
};

}  // namespace pp::relay

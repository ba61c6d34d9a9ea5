#include "relay/users.hpp"

#include <sodium.h>

#include <fstream>
#include <sstream>

namespace pp::relay {

namespace {
// A users file is a handful of lines; anything much bigger is a mistake, not a table.
constexpr std::size_t kMaxFileBytes = 4 << 20;
}  // namespace

Users::Digest::~Digest() {
    sodium_memzero(bytes.data(), bytes.size());
}

Users::Digest Users::digest(std::string_view password) {
    Digest d;
    crypto_generichash(d.bytes.data(), d.bytes.size(),
                       reinterpret_cast<const unsigned char*>(password.data()), password.size(),
                       nullptr, 0);
    return d;
}

UserEntry::~UserEntry() {
    sodium_memzero(password.data(), password.size());
}

Result<std::vector<UserEntry>> parse_users_text(std::string_view text) {
    std::vector<UserEntry> entries;
    while (!text.empty()) {
        auto nl = text.find('\n');
        auto line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty() || line.front() == '#') continue;
        // The first ':' splits: names cannot hold one, passwords can.
        const auto colon = line.find(':');
        if (colon == std::string_view::npos)
            return make_error(ErrorCode::kMalformed, "socks5 users line without ':'");
        auto user = line.substr(0, colon);
        auto pass = line.substr(colon + 1);
        if (user.empty() || user.size() > 255 || pass.empty() || pass.size() > 255)
            return make_error(ErrorCode::kMalformed,
                              "socks5 user name and password must be 1..255 bytes");
        for (const auto& e : entries)
            if (e.name == user)
                return make_error(ErrorCode::kMalformed, "socks5 user listed twice");
        UserEntry& e = entries.emplace_back();
        e.name = user;
        e.password = pass;
    }
    return entries;
}

Result<std::vector<UserEntry>> read_users_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return make_error(ErrorCode::kInternal, "cannot open the socks5 users file");
    std::string text;
    text.resize(kMaxFileBytes + 1);
    f.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(f.gcount()));
    if (f.bad()) {
        sodium_memzero(text.data(), text.size());
        return make_error(ErrorCode::kInternal, "cannot read the socks5 users file");
    }
    if (text.size() > kMaxFileBytes) {
        sodium_memzero(text.data(), text.size());
        return make_error(ErrorCode::kLimitExceeded, "socks5 users file is too large");
    }
    auto r = parse_users_text(text);
    sodium_memzero(text.data(), text.size());
    return r;
}

Result<void> Users::load(const std::string& path) {
    auto entries = read_users_file(path);
    if (!entries) return entries.error();
    install(*entries);
    return {};
}

Result<void> Users::load_text(std::string_view text) {
    auto entries = parse_users_text(text);
    if (!entries) return entries.error();
    install(*entries);
    return {};
}

void Users::install(const std::vector<UserEntry>& entries) {
    auto table = std::make_shared<Table>();
    for (const auto& e : entries) table->emplace(e.name, digest(e.password));
    std::lock_guard lock(mutex_);
    table_ = std::move(table);
}

bool Users::authenticate(std::string_view user, std::string_view password) const {
    std::shared_ptr<const Table> table;
    {
        std::lock_guard lock(mutex_);
        table = table_;
    }
    const Digest given = digest(password);
    static const Digest kNobody = digest("\x01 no such user \x01");
    auto it = table->find(user);
    const Digest& expected = it == table->end() ? kNobody : it->second;
    const bool match = sodium_memcmp(given.bytes.data(), expected.bytes.data(), 32) == 0;
    return match && it != table->end();
}

std::size_t Users::size() const {
    std::lock_guard lock(mutex_);
    return table_->size();
}

}  // namespace pp::relay

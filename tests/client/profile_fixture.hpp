#pragma once
// A fresh temporary directory per test, file helpers, and builders for profile records.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "client/profile_store.hpp"
#include "protocol/session_cipher.hpp"

namespace pp::client::testing {

class TempDir {
  public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "pp_client_XXXXXX").string();
        if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        if (!path_.empty()) std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    // The profile directory itself does not exist yet: create() makes it.
    std::filesystem::path profile() const { return path_ / "profile"; }

  private:
    std::filesystem::path path_;
};

inline Bytes read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline unsigned mode_of(const std::filesystem::path& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return 0xffffffffu;
    return static_cast<unsigned>(st.st_mode & 07777);
}

inline std::array<std::uint8_t, 16> id16(std::uint8_t n) {
    std::array<std::uint8_t, 16> a{};
    a.fill(n);
    return a;
}

inline Bytes key33(std::uint8_t n) {
    Bytes b(33, n);
    b[0] = 0x05;
    return b;
}

inline std::unique_ptr<ProfileStore> must(Result<std::unique_ptr<ProfileStore>> r) {
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().detail);
    return r.ok() ? std::move(r).value() : nullptr;
}

// A real Double Ratchet session (Alice's side after processing Bob's bundle).
inline protocol::SessionRecord make_session() {
    auto alice = crypto::KeyPair::generate();
    auto bob = crypto::KeyPair::generate();
    auto spk = protocol::generate_signed_prekey(bob, 7, 1000);
    auto prekeys = protocol::generate_prekeys(100, 1);
    auto bundle = protocol::make_bundle(bob, 1234, spk, &prekeys[0]);
    protocol::SessionRecord record;
    auto r = protocol::process_prekey_bundle(record, alice, 4321, bundle, std::nullopt);
    EXPECT_TRUE(r.ok());
    return record;
}

// Our own sender-key state for a group (with its signing private key).
inline protocol::SenderKeyRecord make_sender_key() {
    protocol::SenderKeyRecord record;
    auto r = protocol::create_sender_key_distribution(record);
    EXPECT_TRUE(r.ok());
    return record;
}

inline bool contains(ByteView haystack, ByteView needle) {
    if (needle.empty()) return true;
    return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
           haystack.end();
}

inline Message make_message(std::uint8_t sender, std::uint8_t n, ConversationId c, Direction d,
                            std::int64_t received_ms, std::string text) {
    Message m;
    m.id = id16(n);
    m.conversation = c;
    m.direction = d;
    m.sender = id16(sender);
    m.text = std::move(text);
    m.sent_ms = received_ms - 5;
    m.received_ms = received_ms;
    m.status = d == Direction::kIncoming ? MessageStatus::kReceived : MessageStatus::kPending;
    return m;
}

}  // namespace pp::client::testing

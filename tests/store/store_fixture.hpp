#pragma once
// A fresh temporary directory per test, and small builders for accounts and sends.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "store/sqlite/sqlite_store.hpp"

namespace pp::store::testing {

class TempDir {
  public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "pp_store_XXXXXX").string();
        if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        if (!path_.empty()) std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

// pending() without a byte budget: tests that count messages.
constexpr std::size_t kAnyBytes = SIZE_MAX;

inline AccountId account_id(std::uint8_t n) {
    AccountId a{};
    a.fill(n);
    return a;
}

inline MessageId message_id(std::uint32_t n) {
    MessageId m{};
    for (std::size_t i = 0; i < 4; ++i) m[i] = static_cast<std::uint8_t>(n >> (8 * i));
    return m;
}

inline Bytes bytes(std::size_t n, std::uint8_t fill) {
    return Bytes(n, fill);
}

inline NewAccount new_account(std::uint8_t n, std::uint32_t prekeys = 0) {
    NewAccount a;
    a.account = account_id(n);
    a.identity_key = bytes(33, n);
    a.registration_id = 1000u + n;
    a.signed_prekey = SignedPreKey{7, bytes(33, 0x51), bytes(64, 0x52)};
    for (std::uint32_t i = 1; i <= prekeys; ++i) {
        a.prekeys.push_back(OneTimePreKey{i, bytes(33, static_cast<std::uint8_t>(i))});
    }
    a.now_ms = 1'000;
    return a;
}

inline DeviceAddress primary(std::uint8_t n) {
    return DeviceAddress{account_id(n), kPrimaryDevice};
}

// A 1:1 send from account `from` to account `to`'s primary device.
inline Send direct(std::uint32_t id, std::uint8_t from, std::uint8_t to, Bytes content,
                   std::int64_t now_ms = 1'000, std::int64_t expires_ms = 1'000'000) {
    Send s;
    s.id = message_id(id);
    s.sender = primary(from);
    s.now_ms = now_ms;
    s.expires_ms = expires_ms;
    s.contents.push_back(std::move(content));
    s.deliveries.push_back(Send::Delivery{primary(to), 1, 0});
    return s;
}

// The seqs of a device's queued rows with these ids, as the server learns them from `pending`
// when it pushes; what acknowledge() takes. Empty for an unknown device.
inline std::vector<std::uint64_t> seqs_of(Store& store, const DeviceAddress& d,
                                          const std::vector<MessageId>& ids) {
    std::vector<std::uint64_t> out;
    auto rows = store.pending(d, 0, 1'000'000, kAnyBytes, 0);
    if (!rows) return out;
    for (const MessageId& id : ids)
        for (const QueuedMessage& m : *rows)
            if (m.id == id) out.push_back(m.seq);
    return out;
}

// Acknowledges every queued row of the device with these ids.
inline Result<void> ack_ids(Store& store, const DeviceAddress& d,
                            const std::vector<MessageId>& ids) {
    return store.acknowledge(d, seqs_of(store, d, ids));
}

class StoreTest : public ::testing::Test {
  protected:
    std::string db_path() const { return (dir_.path() / "server.db").string(); }

    std::unique_ptr<SqliteStore> open(StoreLimits limits = {}) {
        auto s = SqliteStore::open(db_path(), limits);
        EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().detail);
        return s.ok() ? std::move(s).value() : nullptr;
    }

    TempDir dir_;
};

}  // namespace pp::store::testing

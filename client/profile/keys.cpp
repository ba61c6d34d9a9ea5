// This device: identity, account record, signed and one-time prekeys, counters.
#include "client/profile/codec.hpp"
#include "client/profile/store.hpp"

namespace pp::client::profile {
namespace {

constexpr std::uint8_t kAccountV1 = 1;

void encode_account(Writer& w, const AccountRecord& a) {
    w.str(a.server.host)
        .u32(a.server.port)
        .str(a.server.pin)
        .bytes(a.account)
        .u32(a.device)
        .u32(a.registration_id)
        .str(a.username);
}

Result<AccountRecord> decode_account(ByteView v) {
    Reader r(v, kAccountV1);
    AccountRecord a;
    a.server.host = r.str();
    auto port = r.u32();
    a.server.pin = r.str();
    Bytes id = r.bytes();
    a.device = r.u32();
    a.registration_id = r.u32();
    a.username = r.str();
    if (!r.done() || port > 0xffff || id.size() != a.account.size()) {
        return make_error(ErrorCode::kMalformed, "profile account record is malformed");
    }
    a.server.port = static_cast<std::uint16_t>(port);
    std::copy(id.begin(), id.end(), a.account.begin());
    return a;
}

}  // namespace

Result<void> SqliteProfileStore::set_identity(const protocol::IdentityKeyPair& identity,
                                              std::uint32_t registration_id) {
    SecretBytes plain = protocol::serialize_identity(identity);
    Bytes sealed = seal_value(plain.view(), Ad("identity"));
    PP_TRY(s, db_->prepare("INSERT OR REPLACE INTO identity (id, registration_id, sealed) "
                           "VALUES (1, ?1, ?2)"));
    return s.bind(1, registration_id).bind_blob(2, sealed).run();
}

Result<protocol::IdentityKeyPair> SqliteProfileStore::identity() {
    PP_TRY(s, db_->prepare("SELECT sealed FROM identity WHERE id = 1"));
    PP_TRY(row, s.step());
    if (!row) return make_error(ErrorCode::kNoSession, "no identity yet");
    PP_TRY(plain, open_value(s.blob(0), Ad("identity")));
    return protocol::deserialize_identity(plain.view());
}

Result<std::uint32_t> SqliteProfileStore::registration_id() {
    PP_TRY(s, db_->prepare("SELECT registration_id FROM identity WHERE id = 1"));
    PP_TRY(row, s.step());
    if (!row) return make_error(ErrorCode::kNoSession, "no identity yet");
    return static_cast<std::uint32_t>(s.int64(0));
}

Result<void> SqliteProfileStore::set_account(const AccountRecord& account) {
    Writer w(kAccountV1);
    encode_account(w, account);
    Bytes sealed = seal_value(w.view(), Ad("account"));
    PP_TRY(s, db_->prepare("INSERT OR REPLACE INTO account (id, sealed) VALUES (1, ?1)"));
    return s.bind_blob(1, sealed).run();
}

Result<std::optional<AccountRecord>> SqliteProfileStore::account() {
    PP_TRY(s, db_->prepare("SELECT sealed FROM account WHERE id = 1"));
    PP_TRY(row, s.step());
    if (!row) return std::optional<AccountRecord>{};
    PP_TRY(plain, open_value(s.blob(0), Ad("account")));
    PP_TRY(a, decode_account(plain.view()));
    return std::optional<AccountRecord>(std::move(a));
}

Result<void> SqliteProfileStore::put_signed_prekey(const protocol::SignedPreKeyRecord& record) {
    SecretBytes plain = protocol::serialize_signed_prekey(record);
    Bytes sealed = seal_value(plain.view(), Ad("signed_prekeys").num(record.id));
    PP_TRY(s, db_->prepare("INSERT OR REPLACE INTO signed_prekeys (id, timestamp_ms, sealed) "
                           "VALUES (?1, ?2, ?3)"));
    return s.bind(1, record.id)
        .bind(2, static_cast<std::int64_t>(record.timestamp_ms))
        .bind_blob(3, sealed)
        .run();
}

Result<std::optional<protocol::SignedPreKeyRecord>> SqliteProfileStore::signed_prekey(
    std::uint32_t id) {
    PP_TRY(s, db_->prepare("SELECT sealed FROM signed_prekeys WHERE id = ?1"));
    PP_TRY(row, s.bind(1, id).step());
    if (!row) return std::optional<protocol::SignedPreKeyRecord>{};
    PP_TRY(plain, open_value(s.blob(0), Ad("signed_prekeys").num(id)));
    PP_TRY(record, protocol::deserialize_signed_prekey(plain.view()));
    if (record.id != id) return make_error(ErrorCode::kMalformed, "signed prekey id mismatch");
    return std::optional<protocol::SignedPreKeyRecord>(std::move(record));
}

Result<std::vector<protocol::SignedPreKeyRecord>> SqliteProfileStore::signed_prekeys() {
    PP_TRY(s, db_->prepare("SELECT id, sealed FROM signed_prekeys "
                           "ORDER BY timestamp_ms DESC, id DESC"));
    std::vector<protocol::SignedPreKeyRecord> out;
    for (;;) {
        PP_TRY(row, s.step());
        if (!row) break;
        auto id = static_cast<std::uint64_t>(s.int64(0));
        PP_TRY(plain, open_value(s.blob(1), Ad("signed_prekeys").num(id)));
        PP_TRY(record, protocol::deserialize_signed_prekey(plain.view()));
        out.push_back(std::move(record));
    }
    return out;
}

Result<void> SqliteProfileStore::remove_signed_prekey(std::uint32_t id) {
    PP_TRY(s, db_->prepare("DELETE FROM signed_prekeys WHERE id = ?1"));
    return s.bind(1, id).run();
}

Result<void> SqliteProfileStore::put_prekeys(const std::vector<protocol::PreKeyRecord>& records) {
    return write<void>([&]() -> Result<void> {
        for (const auto& record : records) {
            SecretBytes plain = protocol::serialize_prekey(record);
            Bytes sealed = seal_value(plain.view(), Ad("prekeys").num(record.id));
            // A Stmt resets when it goes out of scope: one per row.
            PP_TRY(s, db_->prepare("INSERT OR REPLACE INTO prekeys (id, sealed) VALUES (?1, ?2)"));
            PP_TRY_VOID(s.bind(1, record.id).bind_blob(2, sealed).run());
        }
        return {};
    });
}

Result<std::optional<protocol::PreKeyRecord>> SqliteProfileStore::prekey(std::uint32_t id) {
    PP_TRY(s, db_->prepare("SELECT sealed FROM prekeys WHERE id = ?1"));
    PP_TRY(row, s.bind(1, id).step());
    if (!row) return std::optional<protocol::PreKeyRecord>{};
    PP_TRY(plain, open_value(s.blob(0), Ad("prekeys").num(id)));
    PP_TRY(record, protocol::deserialize_prekey(plain.view()));
    if (record.id != id) return make_error(ErrorCode::kMalformed, "prekey id mismatch");
    return std::optional<protocol::PreKeyRecord>(std::move(record));
}

Result<void> SqliteProfileStore::remove_prekey(std::uint32_t id) {
    PP_TRY(s, db_->prepare("DELETE FROM prekeys WHERE id = ?1"));
    return s.bind(1, id).run();
}

Result<std::size_t> SqliteProfileStore::prekey_count() {
    PP_TRY(s, db_->prepare("SELECT count(*) FROM prekeys"));
    PP_TRY(row, s.step());
    if (!row) return make_error(ErrorCode::kInternal, "count returned nothing");
    return static_cast<std::size_t>(s.int64(0));
}

Result<std::int64_t> SqliteProfileStore::counter(std::string_view name, std::int64_t fallback) {
    PP_TRY(s, db_->prepare("SELECT value FROM counters WHERE name = ?1"));
    PP_TRY(row, s.bind_text(1, name).step());
    return row ? s.int64(0) : fallback;
}

Result<void> SqliteProfileStore::set_counter(std::string_view name, std::int64_t value) {
    PP_TRY(s, db_->prepare("INSERT OR REPLACE INTO counters (name, value) VALUES (?1, ?2)"));
    return s.bind_text(1, name).bind(2, value).run();
}

}  // namespace pp::client::profile

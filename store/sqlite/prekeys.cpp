// SqliteStore: signed and one-time prekeys, and bundles for starting sessions.
#include "store/sqlite/db.hpp"
#include "store/sqlite/reader_pool.hpp"
#include "store/sqlite/rows.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace pp::store {

using sqlite::Connection;
using sqlite::Transaction;
using sqlite::view;

Result<void> SqliteStore::set_signed_prekey(const DeviceAddress& d, const SignedPreKey& k) {
    std::lock_guard lock(write_mu_);
    PP_TRY(s, writer_->prepare("UPDATE devices SET spk_id = ?3, spk_public = ?4, "
                               "spk_signature = ?5 WHERE account = ?1 AND device = ?2"));
    s.bind_blob(1, view(d.account))
        .bind(2, d.device)
        .bind(3, k.id)
        .bind_blob(4, k.public_key)
        .bind_blob(5, k.signature);
    PP_TRY_VOID(s.run());
    if (writer_->changes() != 1) return sqlite::no_device();
    return {};
}

Result<void> SqliteStore::add_prekeys(const DeviceAddress& d, const std::vector<OneTimePreKey>& k) {
    if (k.size() > limits_.max_prekeys_per_device) {
        return make_error(ErrorCode::kLimitExceeded, "too many one-time prekeys");
    }
    std::lock_guard lock(write_mu_);
    Connection& c = *writer_;
    PP_TRY(tx, Transaction::begin(c, Transaction::Kind::kWrite));
    PP_TRY(did, sqlite::find_device(c, d));
    if (!did) return sqlite::no_device();
    for (const OneTimePreKey& key : k) {
        PP_TRY(s, c.prepare("INSERT OR REPLACE INTO prekeys (did, id, public_key) "
                            "VALUES (?1, ?2, ?3)"));
        s.bind(1, *did).bind(2, key.id).bind_blob(3, key.public_key);
        PP_TRY_VOID(s.run());
    }
    // Counted after the insert so replaced ids are not counted twice; over the cap the
    // transaction rolls back and nothing is stored.
    PP_TRY(s, c.prepare("SELECT count(*) FROM prekeys WHERE did = ?1"));
    s.bind(1, *did);
    PP_TRY(row, s.step());
    if (!row || sqlite::to_size(s.int64(0)) > limits_.max_prekeys_per_device) {
        return make_error(ErrorCode::kLimitExceeded, "too many one-time prekeys");
    }
    return tx.commit();
}

Result<std::size_t> SqliteStore::count_prekeys(const DeviceAddress& d) {
    auto reader = readers_->acquire();
    Connection& c = *reader;
    PP_TRY(tx, Transaction::begin(c, Transaction::Kind::kRead));
    PP_TRY(did, sqlite::find_device(c, d));
    if (!did) return sqlite::no_device();
    PP_TRY(s, c.prepare("SELECT count(*) FROM prekeys WHERE did = ?1"));
    s.bind(1, *did);
    PP_TRY(row, s.step());
    if (!row) return make_error(ErrorCode::kInternal, "sqlite: count returned nothing");
    return sqlite::to_size(s.int64(0));
}

Result<std::vector<Bundle>> SqliteStore::take_bundles(const AccountId& id, bool take_prekeys) {
    std::lock_guard lock(write_mu_);
    Connection& c = *writer_;
    // A write transaction even for the reads: BEGIN IMMEDIATE holds the database's write lock
    // from the first select to the last delete, so no other connection (in this process or
    // another) can take the same prekey in between.
    PP_TRY(tx, Transaction::begin(c, Transaction::Kind::kWrite));
    Bytes identity;
    {
        PP_TRY(s, c.prepare("SELECT identity_key FROM accounts WHERE id = ?1"));
        s.bind_blob(1, view(id));
        PP_TRY(row, s.step());
        if (!row) return make_error(ErrorCode::kNoSession, "unknown account");
        identity = s.blob(0);
    }
    std::vector<Bundle> bundles;
    std::vector<std::int64_t> dids;
    {
        PP_TRY(s, c.prepare("SELECT did, device, registration_id, spk_id, spk_public, "
                            "spk_signature FROM devices WHERE account = ?1 ORDER BY device"));
        s.bind_blob(1, view(id));
        for (;;) {
            PP_TRY(row, s.step());
            if (!row) break;
            dids.push_back(s.int64(0));
            Bundle b;
            b.device = sqlite::to_u32(s.int64(1));
            b.registration_id = sqlite::to_u32(s.int64(2));
            b.identity_key = identity;
            b.signed_prekey = SignedPreKey{sqlite::to_u32(s.int64(3)), s.blob(4), s.blob(5)};
            bundles.push_back(std::move(b));
        }
    }
    for (std::size_t i = 0; take_prekeys && i < bundles.size(); ++i) {
        PP_TRY(s,
               c.prepare("DELETE FROM prekeys WHERE did = ?1 AND id = (SELECT id FROM "
                         "prekeys WHERE did = ?1 ORDER BY id LIMIT 1) RETURNING id, public_key"));
        s.bind(1, dids[i]);
        PP_TRY(row, s.step());
        if (row) bundles[i].prekey = OneTimePreKey{sqlite::to_u32(s.int64(0)), s.blob(1)};
    }
    PP_TRY_VOID(tx.commit());
    return bundles;
}

}  // namespace pp::store

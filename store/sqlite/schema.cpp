#include "store/sqlite/schema.hpp"

#include <algorithm>
#include <array>
#include <cstdio>

namespace pp::store::sqlite {
namespace {

// Append-only: a released migration is never edited, only followed by a new one. Each runs
// inside the transaction migrate() opens, so a step that fails leaves the previous version.
constexpr std::array kMigrations = {
    // 1: accounts, devices, prekeys, queues with shared contents, idempotency, invites.
    R"sql(
PRAGMA application_id = 1347439694;

CREATE TABLE accounts (
    id           BLOB PRIMARY KEY NOT NULL,
    identity_key BLOB NOT NULL,
    username     TEXT UNIQUE,
    created_ms   INTEGER NOT NULL
) WITHOUT ROWID;

-- `did` is a compact local key for the hot tables; (account, device) is the public address.
-- next_seq and depth are kept here so a send never counts or scans a queue.
CREATE TABLE devices (
    did             INTEGER PRIMARY KEY,
    account         BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    device          INTEGER NOT NULL,
    registration_id INTEGER NOT NULL,
    spk_id          INTEGER NOT NULL,
    spk_public      BLOB NOT NULL,
    spk_signature   BLOB NOT NULL,
    next_seq        INTEGER NOT NULL DEFAULT 1,
    depth           INTEGER NOT NULL DEFAULT 0,
    UNIQUE (account, device)
);

CREATE TABLE prekeys (
    did        INTEGER NOT NULL REFERENCES devices (did) ON DELETE CASCADE,
    id         INTEGER NOT NULL,
    public_key BLOB NOT NULL,
    PRIMARY KEY (did, id)
) WITHOUT ROWID;

-- A group message's ciphertext, stored once; `refs` counts the queue rows that point at it.
CREATE TABLE contents (
    cid  INTEGER PRIMARY KEY,
    refs INTEGER NOT NULL,
    data BLOB NOT NULL
);

-- No foreign key on cid: deleting a contents row would then scan the whole queue for
-- children (there is no index on cid, on purpose: it would slow every send). The refcount is
-- the invariant. No cascade on did either: a device must be emptied through the store so
-- refcounts stay right.
CREATE TABLE queue (
    did            INTEGER NOT NULL REFERENCES devices (did),
    seq            INTEGER NOT NULL,
    msg_id         BLOB NOT NULL,
    sender_account BLOB NOT NULL,
    sender_device  INTEGER NOT NULL,
    type           INTEGER NOT NULL,
    cid            INTEGER NOT NULL,
    server_time_ms INTEGER NOT NULL,
    expires_ms     INTEGER NOT NULL,
    PRIMARY KEY (did, seq)
) WITHOUT ROWID;
CREATE INDEX queue_by_msg_id ON queue (did, msg_id);
CREATE INDEX queue_by_expiry ON queue (expires_ms);

-- Idempotency: every (sender, message id) stored, kept until the message expires, so a
-- retry after the recipient already acknowledged is still recognised.
CREATE TABLE sent (
    sender_account BLOB NOT NULL,
    sender_device  INTEGER NOT NULL,
    msg_id         BLOB NOT NULL,
    expires_ms     INTEGER NOT NULL,
    PRIMARY KEY (sender_account, sender_device, msg_id)
) WITHOUT ROWID;
CREATE INDEX sent_by_expiry ON sent (expires_ms);

-- An invite is open while used_ms is NULL; used_by only records who took it.
CREATE TABLE invites (
    code       TEXT PRIMARY KEY NOT NULL,
    created_ms INTEGER NOT NULL,
    used_by    BLOB REFERENCES accounts (id) ON DELETE SET NULL,
    used_ms    INTEGER
) WITHOUT ROWID;
)sql",
    // 2: lighter writes per message. queue_by_msg_id went unused once acks named rows by seq,
    // yet every send and every ack paid a page write for it. The queue counters move out of
    // `devices` (wide rows: keys and signatures) into a narrow table, so a batch that touches
    // many devices' counters dirties a few pages instead of most of `devices`.
    R"sql(
DROP INDEX queue_by_msg_id;

CREATE TABLE queue_heads (
    did      INTEGER PRIMARY KEY REFERENCES devices (did) ON DELETE CASCADE,
    next_seq INTEGER NOT NULL,
    depth    INTEGER NOT NULL
);
INSERT INTO queue_heads (did, next_seq, depth) SELECT did, next_seq, depth FROM devices;
ALTER TABLE devices DROP COLUMN next_seq;
ALTER TABLE devices DROP COLUMN depth;
)sql",
    // 3: the idempotency rows keyed by message id first. Senders put their clock at the front
    // of the id (docs/protocol.md), so a batch of sends lands on the newest pages of this
    // B-tree, and the expiry sweep deletes from its oldest. Keyed by sender first, every send
    // dirtied a page of its own, and read one too once the table (kept for the whole queue
    // TTL) outgrew the page cache.
    R"sql(
CREATE TABLE sent_by_id (
    msg_id         BLOB NOT NULL,
    sender_account BLOB NOT NULL,
    sender_device  INTEGER NOT NULL,
    expires_ms     INTEGER NOT NULL,
    PRIMARY KEY (msg_id, sender_account, sender_device)
) WITHOUT ROWID;
INSERT INTO sent_by_id (msg_id, sender_account, sender_device, expires_ms)
    SELECT msg_id, sender_account, sender_device, expires_ms FROM sent
    ORDER BY msg_id, sender_account, sender_device;  -- in key order: appends, not random pages
DROP TABLE sent;
ALTER TABLE sent_by_id RENAME TO sent;
CREATE INDEX sent_by_expiry ON sent (expires_ms);
)sql",
};

Result<std::int64_t> read_int(Connection& c, const char* sql) {
    PP_TRY(s, c.prepare(sql));
    PP_TRY(row, s.step());
    if (!row) return make_error(ErrorCode::kInternal, "sqlite: pragma returned nothing");
    return s.int64(0);
}

}  // namespace

std::int64_t schema_version() {
    return static_cast<std::int64_t>(kMigrations.size());
}

Result<std::int64_t> read_user_version(Connection& c) {
    return read_int(c, "PRAGMA user_version");
}

Result<void> migrate(Connection& c, std::int64_t up_to) {
    up_to = std::clamp<std::int64_t>(up_to, 1, schema_version());
    PP_TRY(tx, Transaction::begin(c, Transaction::Kind::kWrite));
    PP_TRY(version, read_user_version(c));
    if (version > schema_version()) {
        return make_error(ErrorCode::kInvalidVersion,
                          "database schema is newer than this server: upgrade the server");
    }
    PP_TRY(app_id, read_int(c, "PRAGMA application_id"));
    if (version == 0) {
        PP_TRY(objects, read_int(c, "SELECT count(*) FROM sqlite_schema"));
        if (objects != 0 || (app_id != 0 && app_id != kApplicationId)) {
            return make_error(ErrorCode::kMalformed, "database file belongs to another program");
        }
    } else if (app_id != kApplicationId) {
        return make_error(ErrorCode::kMalformed, "database file belongs to another program");
    }
    if (version >= up_to) return {};  // nothing to do; the read transaction ends

    for (auto v = version; v < up_to; ++v) {
        PP_TRY_VOID(c.exec(kMigrations[static_cast<std::size_t>(v)]));
    }
    // PRAGMA takes no bound parameters; the value is our own integer.
    char set_version[48];
    std::snprintf(set_version, sizeof set_version, "PRAGMA user_version = %lld",
                  static_cast<long long>(up_to));
    PP_TRY_VOID(c.exec(set_version));
    return tx.commit();
}

}  // namespace pp::store::sqlite

#include "client/profile/schema.hpp"

#include <array>

namespace pp::client::profile {
namespace {

using store::sqlite::Connection;

// Append-only: a released migration is never edited, only followed by a new one. `meta` is read
// before migrating (it holds what opens the profile), so its columns must never change meaning.
//
// Columns named `sealed` hold XChaCha20-Poly1305 boxes under the profile key (client/at_rest.hpp)
// whose associated data names the table and the row key. Everything else is clear on purpose:
// ids, device ids, timestamps, statuses, counters: what the queries select and sort by.
constexpr std::array kMigrations = {
    // 1: the whole profile.
    R"sql(
CREATE TABLE schema_version (
    version INTEGER NOT NULL
);
INSERT INTO schema_version (version) VALUES (0);

-- How the profile key is obtained. kind 0: random key in profile.key; kind 1: Argon2id13 of the
-- passphrase with salt, opslimit and memlimit. check_value is a constant sealed under the key:
-- it tells a wrong key from a right one before anything else is read or written.
CREATE TABLE meta (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    kind        INTEGER NOT NULL,
    salt        BLOB,
    opslimit    INTEGER,
    memlimit    INTEGER,
    check_value BLOB NOT NULL
);

CREATE TABLE identity (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    registration_id INTEGER NOT NULL,
    sealed          BLOB NOT NULL
);

CREATE TABLE account (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    sealed BLOB NOT NULL
);

CREATE TABLE signed_prekeys (
    id           INTEGER PRIMARY KEY,
    timestamp_ms INTEGER NOT NULL,
    sealed       BLOB NOT NULL
);

CREATE TABLE prekeys (
    id     INTEGER PRIMARY KEY,
    sealed BLOB NOT NULL
);

CREATE TABLE counters (
    name  TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE sessions (
    account BLOB NOT NULL,
    device  INTEGER NOT NULL,
    sealed  BLOB NOT NULL,
    PRIMARY KEY (account, device)
) WITHOUT ROWID;

CREATE TABLE sender_keys (
    group_id BLOB NOT NULL,
    sender   BLOB NOT NULL,
    device   INTEGER NOT NULL,
    sealed   BLOB NOT NULL,
    PRIMARY KEY (group_id, sender, device)
) WITHOUT ROWID;

CREATE TABLE sender_key_ids (
    sender   BLOB NOT NULL,
    device   INTEGER NOT NULL,
    key_id   INTEGER NOT NULL,
    group_id BLOB NOT NULL,
    PRIMARY KEY (sender, device, key_id)
) WITHOUT ROWID;
CREATE INDEX sender_key_ids_by_group ON sender_key_ids (group_id);

CREATE TABLE sender_key_shared (
    group_id BLOB NOT NULL,
    key_id   INTEGER NOT NULL,
    member   BLOB NOT NULL,
    PRIMARY KEY (group_id, key_id, member)
) WITHOUT ROWID;

CREATE TABLE contacts (
    account  BLOB PRIMARY KEY NOT NULL,
    added_ms INTEGER NOT NULL,
    sealed   BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE chat_groups (
    id       BLOB PRIMARY KEY NOT NULL,
    revision INTEGER NOT NULL,
    has_left INTEGER NOT NULL,
    sealed   BLOB NOT NULL
) WITHOUT ROWID;

-- seq orders messages that share a timestamp by arrival.
CREATE TABLE messages (
    seq         INTEGER PRIMARY KEY,
    sender      BLOB NOT NULL,
    id          BLOB NOT NULL,
    conv_kind   INTEGER NOT NULL,
    conv_id     BLOB NOT NULL,
    direction   INTEGER NOT NULL,
    sent_ms     INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    status      INTEGER NOT NULL,
    sealed      BLOB NOT NULL,
    UNIQUE (sender, id)
);
CREATE INDEX messages_by_conversation ON messages (conv_kind, conv_id, received_ms, seq);
CREATE INDEX messages_unread ON messages (received_ms, seq) WHERE status = 4;

CREATE TABLE processed (
    sender      BLOB NOT NULL,
    device      INTEGER NOT NULL,
    envelope_id BLOB NOT NULL,
    PRIMARY KEY (sender, device, envelope_id)
) WITHOUT ROWID;

CREATE TABLE outbox (
    seq    INTEGER PRIMARY KEY,
    id     BLOB NOT NULL UNIQUE,
    sealed BLOB NOT NULL
);

CREATE TABLE held_envelopes (
    seq    INTEGER PRIMARY KEY,
    sender BLOB NOT NULL,
    sealed BLOB NOT NULL
);
CREATE INDEX held_envelopes_by_sender ON held_envelopes (sender, seq);
)sql",
    // 2: ways around a block. Route links carry proxy passwords and relay secrets; settings
    // hold the server's endpoint key, its signed endpoint list and the route that last won.
    R"sql(
CREATE TABLE routes (
    id       INTEGER PRIMARY KEY,
    added_ms INTEGER NOT NULL,
    sealed   BLOB NOT NULL
);

CREATE TABLE settings (
    name   TEXT PRIMARY KEY NOT NULL,
    sealed BLOB NOT NULL
) WITHOUT ROWID;
)sql",
    // 3: outbox entries may wait without an envelope id, for the first attempt to stamp
    // (client/outgoing.cpp). No table changes: the version alone keeps an older client, which
    // would send such an entry with no id and drop it when refused, from opening the profile.
    R"sql(
SELECT 1;
)sql",
};

}  // namespace

std::int64_t schema_version() {
    return static_cast<std::int64_t>(kMigrations.size());
}

Result<std::int64_t> read_schema_version(Connection& c) {
    {
        PP_TRY(s, c.prepare("PRAGMA application_id"));
        PP_TRY(row, s.step());
        if (!row || s.int64(0) != kApplicationId) {
            return make_error(ErrorCode::kMalformed, "not a profile database");
        }
    }
    PP_TRY(s, c.prepare("SELECT version FROM schema_version"));
    PP_TRY(row, s.step());
    if (!row) return make_error(ErrorCode::kMalformed, "profile schema version missing");
    return s.int64(0);
}

Result<void> upgrade(Connection& c, std::int64_t from) {
    if (from == 0) PP_TRY_VOID(c.exec("PRAGMA application_id = 1347445612"));
    for (auto v = from; v < schema_version(); ++v) {
        PP_TRY_VOID(c.exec(kMigrations[static_cast<std::size_t>(v)]));
    }
    PP_TRY(s, c.prepare("UPDATE schema_version SET version = ?1"));
    return s.bind(1, schema_version()).run();
}

}  // namespace pp::client::profile

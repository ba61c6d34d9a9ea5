// Ways to the server: the routes the user added and small sealed settings (the server's
// endpoint-list key, the cached signed list, the route that won last).
#include "base/unix_time.hpp"
#include "client/profile/store.hpp"

namespace pp::client::profile {

Result<std::optional<Bytes>> SqliteProfileStore::setting(std::string_view name) {
    PP_TRY(s, db_->prepare("SELECT sealed FROM settings WHERE name = ?1"));
    PP_TRY(row, s.bind_text(1, name).step());
    if (!row) return std::optional<Bytes>{};
    PP_TRY(plain, open_value(s.blob(0), Ad("settings").id(as_bytes(name))));
    return std::optional<Bytes>(Bytes(plain.view().begin(), plain.view().end()));
}

Result<void> SqliteProfileStore::set_setting(std::string_view name, ByteView value) {
    Bytes sealed = seal_value(value, Ad("settings").id(as_bytes(name)));
    PP_TRY(s, db_->prepare("INSERT OR REPLACE INTO settings (name, sealed) VALUES (?1, ?2)"));
    return s.bind_text(1, name).bind_blob(2, sealed).run();
}

// The id is chosen before the insert so the seal can name it, from a counter so that an id
// is never given to a second route ("won last" names routes by id).
Result<std::int64_t> SqliteProfileStore::add_route(std::string_view link) {
    return write<std::int64_t>([&]() -> Result<std::int64_t> {
        PP_TRY(id, counter("next_route_id", 1));
        PP_TRY_VOID(set_counter("next_route_id", id + 1));
        Bytes sealed = seal_value(as_bytes(link), Ad("routes").num(static_cast<std::uint64_t>(id)));
        PP_TRY(s, db_->prepare("INSERT INTO routes (id, added_ms, sealed) VALUES (?1, ?2, ?3)"));
        PP_TRY_VOID(s.bind(1, id).bind(2, unix_ms_now()).bind_blob(3, sealed).run());
        return id;
    });
}

Result<std::vector<ProfileStore::RouteEntry>> SqliteProfileStore::routes() {
    PP_TRY(s, db_->prepare("SELECT id, sealed FROM routes ORDER BY id"));
    std::vector<RouteEntry> out;
    for (;;) {
        PP_TRY(row, s.step());
        if (!row) break;
        RouteEntry e;
        e.id = s.int64(0);
        PP_TRY(plain, open_value(s.blob(1), Ad("routes").num(static_cast<std::uint64_t>(e.id))));
        e.link.assign(plain.view().begin(), plain.view().end());
        out.push_back(std::move(e));
    }
    return out;
}

Result<bool> SqliteProfileStore::remove_route(std::int64_t id) {
    PP_TRY(s, db_->prepare("DELETE FROM routes WHERE id = ?1"));
    PP_TRY_VOID(s.bind(1, id).run());
    return db_->changes() == 1;
}

}  // namespace pp::client::profile

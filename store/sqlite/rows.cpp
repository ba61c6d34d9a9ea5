#include "store/sqlite/rows.hpp"

namespace pp::store::sqlite {

Result<std::optional<std::int64_t>> find_device(Connection& c, const DeviceAddress& d) {
    PP_TRY(s, c.prepare("SELECT did FROM devices WHERE account = ?1 AND device = ?2"));
    s.bind_blob(1, view(d.account)).bind(2, d.device);
    PP_TRY(row, s.step());
    if (!row) return std::optional<std::int64_t>{};
    return std::optional<std::int64_t>{s.int64(0)};
}

Result<void> release_content(Connection& c, std::int64_t cid, std::int64_t n) {
    // Read first: a 1:1 message's content (the common case) goes with its only reference,
    // one DELETE and no UPDATE. (UPDATE ... RETURNING would need a statement journal, which is
    // much slower inside a long transaction.)
    std::int64_t refs = 0;
    {
        PP_TRY(s, c.prepare("SELECT refs FROM contents WHERE cid = ?1"));
        s.bind(1, cid);
        PP_TRY(row, s.step());
        if (!row) return {};  // already gone: nothing to release
        refs = s.int64(0);
    }
    if (refs > n) {
        PP_TRY(s, c.prepare("UPDATE contents SET refs = refs - ?2 WHERE cid = ?1"));
        s.bind(1, cid).bind(2, n);
        return s.run();
    }
    PP_TRY(del, c.prepare("DELETE FROM contents WHERE cid = ?1"));
    del.bind(1, cid);
    return del.run();
}

}  // namespace pp::store::sqlite

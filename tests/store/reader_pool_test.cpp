// The store's pool of read-only connections: a held connection never makes another reader
// wait while one is idle, and a reader waits only when every connection is held.
#include <chrono>
#include <future>
#include <set>

#include "store/sqlite/db.hpp"
#include "store/sqlite/reader_pool.hpp"
#include "tests/store/store_fixture.hpp"

namespace pp::store::testing {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<sqlite::ReaderPool> pool_of(const std::string& path, int n) {
    std::vector<std::unique_ptr<sqlite::Connection>> readers;
    for (int i = 0; i < n; ++i) {
        auto c = sqlite::Connection::open(path);
        EXPECT_TRUE(c.ok());
        if (!c) return nullptr;
        readers.push_back(std::move(c).value());
    }
    return std::make_unique<sqlite::ReaderPool>(std::move(readers));
}

TEST(ReaderPool, IdleConnectionsAreTakenBeforeAnyoneWaits) {
    TempDir dir;
    auto pool = pool_of((dir.path() / "r.db").string(), 3);
    ASSERT_TRUE(pool);
    // Declared before the leases, so it is destroyed after them: a failed assertion below
    // frees the connections its task waits for instead of hanging on it.
    std::future<sqlite::Connection*> waiter;
    auto a = pool->acquire();
    auto b = pool->acquire();
    auto c = pool->acquire();
    std::set<sqlite::Connection*> held{&*a, &*b, &*c};
    EXPECT_EQ(held.size(), 3u) << "three leases, three connections";

    // All held: the next reader waits until one is given back, then gets that one.
    sqlite::Connection* freed = &*b;
    waiter = std::async(std::launch::async, [&] {
        auto d = pool->acquire();
        return &*d;
    });
    EXPECT_EQ(waiter.wait_for(100ms), std::future_status::timeout);
    { auto gone = std::move(b); }
    ASSERT_EQ(waiter.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(waiter.get(), freed);
}

TEST(ReaderPool, ALongReadDoesNotHoldUpOthers) {
    TempDir dir;
    auto pool = pool_of((dir.path() / "r.db").string(), 2);
    ASSERT_TRUE(pool);
    std::future<sqlite::Connection*> quick;  // destroyed after `slow`, as above
    auto slow = pool->acquire();             // say, the housekeeper counting every row
    for (int i = 0; i < 100; ++i) {
        quick = std::async(std::launch::async, [&] {
            auto r = pool->acquire();
            return &*r;
        });
        ASSERT_EQ(quick.wait_for(10s), std::future_status::ready);
        EXPECT_NE(quick.get(), &*slow);
    }
}

}  // namespace
}  // namespace pp::store::testing

// Accounts, usernames, invites and prekeys, including concurrent bundle fetches.
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <thread>

#include "tests/store/store_fixture.hpp"

namespace pp::store::testing {
namespace {

class SqliteAccounts : public StoreTest {};

TEST_F(SqliteAccounts, CreateAndLookUp) {
    auto store = open();
    ASSERT_TRUE(store);
    NewAccount a = new_account(1, 2);
    a.username = "alice";
    ASSERT_TRUE(store->create_account(a).ok());

    auto acc = store->account(account_id(1));
    ASSERT_TRUE(acc.ok());
    EXPECT_EQ(acc->id, account_id(1));
    EXPECT_EQ(acc->identity_key, a.identity_key);
    EXPECT_EQ(acc->username, std::optional<std::string>("alice"));
    ASSERT_EQ(acc->devices.size(), 1u);
    EXPECT_EQ(acc->devices[0].id, kPrimaryDevice);
    EXPECT_EQ(acc->devices[0].registration_id, a.registration_id);

    auto id = store->account_by_username("alice");
    ASSERT_TRUE(id.ok());
    EXPECT_EQ(*id, account_id(1));

    auto missing = store->account(account_id(9));
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code, ErrorCode::kNoSession);
    auto missing_name = store->account_by_username("bob");
    ASSERT_FALSE(missing_name.ok());
    EXPECT_EQ(missing_name.error().code, ErrorCode::kNoSession);
}

TEST_F(SqliteAccounts, UsernamesAreUniqueAndIdsTooNothingStoredOnFailure) {
    auto store = open();
    ASSERT_TRUE(store);
    NewAccount a = new_account(1);
    a.username = "alice";
    ASSERT_TRUE(store->create_account(a).ok());

    NewAccount b = new_account(2, 5);
    b.username = "alice";
    auto taken = store->create_account(b);
    ASSERT_FALSE(taken.ok());
    EXPECT_EQ(taken.error().code, ErrorCode::kLimitExceeded);
    EXPECT_FALSE(store->account(account_id(2)).ok());

    auto again = store->create_account(new_account(1));
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, ErrorCode::kLimitExceeded);

    // Accounts without a username never collide with each other.
    ASSERT_TRUE(store->create_account(new_account(3)).ok());
    ASSERT_TRUE(store->create_account(new_account(4)).ok());
    EXPECT_EQ(store->stats()->accounts, 3u);
    EXPECT_EQ(store->stats()->devices, 3u);
}

TEST_F(SqliteAccounts, InvitesAreConsumedWithTheRegistration) {
    auto store = open();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->add_invite("code-1", 5).ok());
    auto dup = store->add_invite("code-1", 6);
    ASSERT_FALSE(dup.ok());
    EXPECT_EQ(dup.error().code, ErrorCode::kLimitExceeded);
    EXPECT_EQ(store->stats()->invites_open, 1u);

    NewAccount unknown = new_account(1);
    unknown.invite_code = "no-such-code";
    auto r = store->create_account(unknown);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kLimitExceeded);
    EXPECT_FALSE(store->account(account_id(1)).ok());  // rolled back with the invite check

    // A registration that fails for another reason leaves the code open.
    NewAccount x = new_account(7);
    x.username = "xavier";
    ASSERT_TRUE(store->create_account(x).ok());
    NewAccount clash = new_account(8);
    clash.username = "xavier";
    clash.invite_code = "code-1";
    ASSERT_FALSE(store->create_account(clash).ok());
    EXPECT_EQ(store->stats()->invites_open, 1u);

    NewAccount a = new_account(1);
    a.invite_code = "code-1";
    ASSERT_TRUE(store->create_account(a).ok());
    EXPECT_EQ(store->stats()->invites_open, 0u);

    NewAccount b = new_account(2);
    b.invite_code = "code-1";
    auto used = store->create_account(b);
    ASSERT_FALSE(used.ok());
    EXPECT_EQ(used.error().code, ErrorCode::kLimitExceeded);
    EXPECT_FALSE(store->account(account_id(2)).ok());
}

TEST_F(SqliteAccounts, PrekeysCountTakeAndRefill) {
    StoreLimits limits;
    limits.max_prekeys_per_device = 5;
    auto store = open(limits);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->create_account(new_account(1, 2)).ok());
    EXPECT_EQ(*store->count_prekeys(primary(1)), 2u);

    auto b1 = store->take_bundles(account_id(1), true);
    ASSERT_TRUE(b1.ok());
    ASSERT_EQ(b1->size(), 1u);
    const Bundle& bundle = (*b1)[0];
    EXPECT_EQ(bundle.device, kPrimaryDevice);
    EXPECT_EQ(bundle.identity_key, bytes(33, 1));
    EXPECT_EQ(bundle.signed_prekey.id, 7u);
    EXPECT_EQ(bundle.signed_prekey.signature, bytes(64, 0x52));
    ASSERT_TRUE(bundle.prekey.has_value());
    EXPECT_EQ(bundle.prekey->id, 1u);  // lowest id first
    EXPECT_EQ(bundle.prekey->public_key, bytes(33, 1));
    EXPECT_EQ(*store->count_prekeys(primary(1)), 1u);

    // Without taking: the same bundle, no one-time prekey handed out or consumed.
    auto kept = store->take_bundles(account_id(1), false);
    ASSERT_TRUE(kept.ok());
    ASSERT_EQ(kept->size(), 1u);
    EXPECT_EQ((*kept)[0].signed_prekey.id, 7u);
    EXPECT_FALSE((*kept)[0].prekey.has_value());
    EXPECT_EQ(*store->count_prekeys(primary(1)), 1u);

    ASSERT_TRUE(store->take_bundles(account_id(1), true).ok());
    auto empty = store->take_bundles(account_id(1), true);
    ASSERT_TRUE(empty.ok());
    EXPECT_FALSE((*empty)[0].prekey.has_value());  // out of prekeys: signed prekey only

    ASSERT_TRUE(store->add_prekeys(primary(1), {{10, bytes(33, 10)}, {11, bytes(33, 11)}}).ok());
    EXPECT_EQ(*store->count_prekeys(primary(1)), 2u);
    // Over the cap: refused whole.
    std::vector<OneTimePreKey> many;
    for (std::uint32_t i = 20; i < 24; ++i) many.push_back({i, bytes(33, 1)});
    auto over = store->add_prekeys(primary(1), many);
    ASSERT_FALSE(over.ok());
    EXPECT_EQ(over.error().code, ErrorCode::kLimitExceeded);
    EXPECT_EQ(*store->count_prekeys(primary(1)), 2u);

    ASSERT_TRUE(store->set_signed_prekey(primary(1), {8, bytes(33, 8), bytes(64, 8)}).ok());
    EXPECT_EQ((*store->take_bundles(account_id(1), true))[0].signed_prekey.id, 8u);

    EXPECT_EQ(store->count_prekeys(primary(9)).error().code, ErrorCode::kNoSession);
    EXPECT_EQ(store->add_prekeys(primary(9), many).error().code, ErrorCode::kNoSession);
    EXPECT_EQ(store->set_signed_prekey(primary(9), {}).error().code, ErrorCode::kNoSession);
    EXPECT_EQ(store->take_bundles(account_id(9), true).error().code, ErrorCode::kNoSession);
}

// Many threads over two independent stores on the same file (as two server processes would
// be) fetch bundles at once: every prekey goes out exactly once.
TEST_F(SqliteAccounts, ConcurrentTakeBundlesNeverShareAPrekey) {
    constexpr std::uint32_t kPrekeys = 400;
    StoreLimits limits;
    limits.max_prekeys_per_device = kPrekeys;
    auto first = open(limits);
    ASSERT_TRUE(first);
    ASSERT_TRUE(first->create_account(new_account(1, kPrekeys)).ok());
    auto second = open(limits);
    ASSERT_TRUE(second);

    std::mutex mu;
    std::vector<std::uint32_t> taken;
    std::size_t without = 0;
    std::size_t errors = 0;
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        SqliteStore* store = (t % 2 == 0) ? first.get() : second.get();
        threads.emplace_back([&, store] {
            for (std::uint32_t i = 0; i < kPrekeys / 8 + 10; ++i) {
                auto b = store->take_bundles(account_id(1), true);
                std::lock_guard lock(mu);
                if (!b.ok()) {
                    ++errors;
                } else if ((*b)[0].prekey) {
                    taken.push_back((*b)[0].prekey->id);
                } else {
                    ++without;
                }
            }
        });
    }
    for (auto& th : threads) th.join();

    EXPECT_EQ(errors, 0u);
    EXPECT_EQ(taken.size(), kPrekeys);
    EXPECT_EQ(std::set<std::uint32_t>(taken.begin(), taken.end()).size(), taken.size());
    EXPECT_EQ(without, 8u * 10u);
    EXPECT_EQ(*first->count_prekeys(primary(1)), 0u);
}

}  // namespace
}  // namespace pp::store::testing

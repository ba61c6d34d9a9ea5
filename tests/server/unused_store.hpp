#pragma once
// A Store for tests of one server part: every call fails with "not used by this test", so a
// test double overrides only the calls its part makes, and any other call shows up as an error.
#include "store/store.hpp"

namespace pp::server::test_doubles {

class UnusedStore : public store::Store {
  public:
    Result<void> create_account(const store::NewAccount&) override { return unused(); }
    Result<store::Account> account(const store::AccountId&) override { return unused(); }
    Result<store::AccountId> account_by_username(const std::string&) override { return unused(); }
    Result<void> set_signed_prekey(const store::DeviceAddress&,
                                   const store::SignedPreKey&) override {
        return unused();
    }
    Result<void> add_prekeys(const store::DeviceAddress&,
                             const std::vector<store::OneTimePreKey>&) override {
        return unused();
    }
    Result<std::size_t> count_prekeys(const store::DeviceAddress&) override { return unused(); }
    Result<std::vector<store::Bundle>> take_bundles(const store::AccountId&, bool) override {
        return unused();
    }
    Result<std::vector<store::SendResult>> commit(const std::vector<store::Send>&,
                                                  const std::vector<DeviceAcks>&) override {
        return unused();
    }
    Result<std::vector<store::QueuedMessage>> pending(const store::DeviceAddress&, std::uint64_t,
                                                      std::size_t, std::size_t,
                                                      std::int64_t) override {
        return unused();
    }
    Result<void> acknowledge(const store::DeviceAddress&,
                             const std::vector<std::uint64_t>&) override {
        return unused();
    }
    Result<std::size_t> queue_depth(const store::DeviceAddress&) override { return unused(); }
    Result<bool> was_sent(const store::DeviceAddress&, const store::MessageId&) override {
        return unused();
    }
    Result<std::size_t> expire(std::int64_t, const KeepGoing&) override { return unused(); }
    Result<void> add_invite(const std::string&, std::int64_t) override { return unused(); }
    Result<store::Stats> stats() override { return unused(); }

  protected:
    static Error unused() { return make_error(ErrorCode::kInternal, "not used by this test"); }
};

}  // namespace pp::server::test_doubles

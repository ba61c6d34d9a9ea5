// The service when its store fails: a device whose queue could not be read when it signed in
// (a transient error) still gets its messages and its QueueEmpty while it stays connected,
// without an ack, a new message or a reconnect to prompt it (the housekeeping tick retries the
// drain); and a full disk is answered and logged as a store error, never as "server busy".
// Runs the real Service on a real SQLite store, behind connections that record what the
// service does with them.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "crypto/keys.hpp"
#include "crypto/xeddsa.hpp"
#include "protocol/prekeys.hpp"
#include "server/service.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "wire/auth.hpp"
#include "wire/frame_codec.hpp"

namespace pp::server {
namespace {

namespace v1 = wire::v1;

// The real store, except that the next `fail_pending` reads of a queue fail as a transient
// error would.
class FlakyStore final : public store::Store {
  public:
    explicit FlakyStore(std::unique_ptr<store::SqliteStore> real) : real_(std::move(real)) {}
    std::atomic<int> fail_pending{0};
    std::atomic<int> pending_calls{0};

    Result<void> create_account(const store::NewAccount& a) override {
        return real_->create_account(a);
    }
    Result<store::Account> account(const store::AccountId& id) override {
        auto a = real_->account(id);
        if (a && second_device.load()) a->devices.push_back({store::kPrimaryDevice + 1, 8});
        return a;
    }
    // Accounts read as having a second device (the store itself holds one per account).
    std::atomic<bool> second_device{false};
    Result<store::AccountId> account_by_username(const std::string& name) override {
        return real_->account_by_username(name);
    }
    Result<void> set_signed_prekey(const store::DeviceAddress& d,
                                   const store::SignedPreKey& k) override {
        return real_->set_signed_prekey(d, k);
    }
    Result<void> add_prekeys(const store::DeviceAddress& d,
                             const std::vector<store::OneTimePreKey>& k) override {
        return real_->add_prekeys(d, k);
    }
    Result<std::size_t> count_prekeys(const store::DeviceAddress& d) override {
        return real_->count_prekeys(d);
    }
    Result<std::vector<store::Bundle>> take_bundles(const store::AccountId& id,
                                                    bool take_prekeys) override {
        return real_->take_bundles(id, take_prekeys);
    }
    Result<std::vector<store::SendResult>> commit(const std::vector<store::Send>& sends,
                                                  const std::vector<DeviceAcks>& acks) override {
        if (!acks.empty()) {
            std::unique_lock lock(gate_mutex_);
            ++ack_commits_started_;
            gate_changed_.notify_all();
            gate_changed_.wait(lock, [&] { return !hold_acks_; });
            if (fail_acks > 0) {
                --fail_acks;
                return make_error(ErrorCode::kInternal, "sqlite: disk I/O error");
            }
        }
        auto r = real_->commit(sends, acks);
        if (!sends.empty() && throw_after_send_commits.load() > 0) {
            throw_after_send_commits.fetch_sub(1);
            throw std::bad_alloc();  // out of memory once the transaction was durable
        }
        return r;
    }
    // The next commits with sends are made durable, then throw.
    std::atomic<int> throw_after_send_commits{0};
    // Commits that carry acks wait while held; the next `fail_acks` of them then fail whole.
    int fail_acks = 0;  // under gate_mutex_ once a commit may run
    void hold_acks() {
        std::lock_guard lock(gate_mutex_);
        hold_acks_ = true;
    }
    void release_acks(int then_fail) {
        std::lock_guard lock(gate_mutex_);
        fail_acks = then_fail;
        hold_acks_ = false;
        gate_changed_.notify_all();
    }
    bool wait_for_ack_commit() {
        std::unique_lock lock(gate_mutex_);
        return gate_changed_.wait_for(lock, std::chrono::seconds(10),
                                      [&] { return ack_commits_started_ > 0; });
    }
    Result<std::vector<store::QueuedMessage>> pending(const store::DeviceAddress& d,
                                                      std::uint64_t after_seq, std::size_t limit,
                                                      std::size_t max_bytes,
                                                      std::int64_t now_ms) override {
        pending_calls.fetch_add(1);
        if (fail_pending.load() > 0) {
            fail_pending.fetch_sub(1);
            return make_error(ErrorCode::kInternal, "sqlite: disk I/O error");
        }
        return real_->pending(d, after_seq, limit, max_bytes, now_ms);
    }
    Result<void> acknowledge(const store::DeviceAddress& d,
                             const std::vector<std::uint64_t>& seqs) override {
        return real_->acknowledge(d, seqs);
    }
    Result<std::size_t> queue_depth(const store::DeviceAddress& d) override {
        return real_->queue_depth(d);
    }
    Result<bool> was_sent(const store::DeviceAddress& sender, const store::MessageId& id) override {
        return real_->was_sent(sender, id);
    }
    Result<std::size_t> expire(std::int64_t now_ms, const KeepGoing& keep_going) override {
        return real_->expire(now_ms, keep_going);
    }
    Result<void> add_invite(const std::string& code, std::int64_t now_ms) override {
        return real_->add_invite(code, now_ms);
    }
    Result<store::Stats> stats() override { return real_->stats(); }

  private:
    std::unique_ptr<store::SqliteStore> real_;
    std::mutex gate_mutex_;
    std::condition_variable gate_changed_;
    bool hold_acks_ = false;
    int ack_commits_started_ = 0;
};

// A connection that keeps the frames sent to it and runs posted work when the test pumps it,
// one job at a time, as a strand would.
class RecordingConnection final : public net::Connection {
  public:
    explicit RecordingConnection(std::uint64_t id) : id_(id) {}

    void send(Bytes frame) override {
        auto decoded = wire::decode_frame(frame);
        std::lock_guard lock(mutex_);
        if (decoded) frames_.push_back(std::move(*decoded));
    }
    void post(std::function<void()> fn) override {
        std::lock_guard lock(mutex_);
        jobs_.push_back(std::move(fn));
    }
    void close() override { closed_ = true; }
    std::uint64_t id() const override { return id_; }
    std::string peer() const override { return "127.0.0.1:40000"; }

    // Runs the posted jobs (and those they post) until `done` holds or 10 s pass.
    bool pump_until(const std::function<bool()>& done) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::chrono::steady_clock::now() < deadline) {
            if (done()) return true;
            std::function<void()> job;
            {
                std::lock_guard lock(mutex_);
                if (!jobs_.empty()) {
                    job = std::move(jobs_.front());
                    jobs_.pop_front();
                }
            }
            if (job)
                job();
            else
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        return done();
    }
    // Runs jobs until none has been posted or run for 200 ms (the committer posts from its
    // thread), or 10 s pass.
    void settle() {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        auto quiet_since = std::chrono::steady_clock::now();
        while (std::chrono::steady_clock::now() - quiet_since < std::chrono::milliseconds(200) &&
               std::chrono::steady_clock::now() < deadline) {
            std::function<void()> job;
            {
                std::lock_guard lock(mutex_);
                if (!jobs_.empty()) {
                    job = std::move(jobs_.front());
                    jobs_.pop_front();
                }
            }
            if (job) {
                job();
                quiet_since = std::chrono::steady_clock::now();
            } else {
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
        }
    }
    std::vector<v1::Frame> frames() {
        std::lock_guard lock(mutex_);
        return frames_;
    }
    std::size_t count(const std::function<bool(const v1::Frame&)>& pred) {
        std::size_t n = 0;
        for (const auto& f : frames()) n += pred(f) ? 1 : 0;
        return n;
    }
    bool closed() const { return closed_; }

  private:
    const std::uint64_t id_;
    std::mutex mutex_;
    std::deque<std::function<void()>> jobs_;
    std::vector<v1::Frame> frames_;
    std::atomic<bool> closed_{false};
};

bool is_envelope(const v1::Frame& f) {
    return f.has_push() && f.push().has_envelope();
}
bool is_queue_empty(const v1::Frame& f) {
    return f.has_push() && f.push().has_queue_empty();
}
// A copy, so no caller can hold a pointer into a list of frames that is gone.
std::optional<v1::Response> response_to(const std::vector<v1::Frame>& frames, std::uint64_t id) {
    for (const auto& f : frames)
        if (f.has_response() && f.response().id() == id) return f.response();
    return std::nullopt;
}

std::string as_string(ByteView b) {
    return std::string(b.begin(), b.end());
}

class ServiceStoreErrors : public ::testing::Test {
  protected:
    void SetUp() override { start(); }
    void start(store::StoreLimits limits = {}) {
        if (service_) service_->shutdown();
        service_.reset();
        store_.reset();
        dir_ = std::filesystem::temp_directory_path() /
               ("pp-service-store-errors-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_);
        auto real = store::SqliteStore::open((dir_ / "server.db").string(), limits);
        ASSERT_TRUE(real.ok());
        store_ = std::make_unique<FlakyStore>(std::move(*real));
        service_ = std::make_unique<Service>(*store_, Config{}, metrics_, 1);
    }
    void TearDown() override {
        // A test that failed while acks were held must not leave the committer waiting.
        if (store_) store_->release_acks(0);
        if (service_) service_->shutdown();
        service_.reset();
        store_.reset();
        std::filesystem::remove_all(dir_);
    }

    // An account made in the store directly, with one message queued for its device.
    void make_recipient_with_mail() {
        make_account();
        auto r = queue_for_account(0x11, Bytes{1, 2, 3});
        ASSERT_TRUE(r.ok());
        ASSERT_EQ((*r)[0].outcome, store::SendOutcome::kStored);
    }
    void make_account() {
        store::NewAccount a;
        a.account.fill(0xB0);
        const auto ik = identity_.public_key.serialize();
        a.identity_key.assign(ik.begin(), ik.end());
        a.registration_id = 7;
        const auto spk = protocol::generate_signed_prekey(identity_, 1, 0);
        const auto spk_pub = spk.key_pair.public_key.serialize();
        a.signed_prekey = {1, Bytes(spk_pub.begin(), spk_pub.end()),
                           Bytes(spk.signature.begin(), spk.signature.end())};
        ASSERT_TRUE(store_->create_account(a).ok());
        account_ = a.account;
    }
    // Commits one message for the account's device straight into the store.
    Result<std::vector<store::SendResult>> queue_for_account(std::uint8_t id, Bytes content) {
        store::Send send;
        send.id.fill(id);
        send.sender = {store::AccountId{}, store::kPrimaryDevice};
        send.sender.account.fill(0xA0);
        send.now_ms = 1;
        send.expires_ms = INT64_MAX;
        send.contents.push_back(std::move(content));
        send.deliveries.push_back({{account_, store::kPrimaryDevice}, 2, 0});
        return store_->commit({send}, {});
    }

    // Challenge, sign, authenticate, as a client does; pumps until the answer is in.
    void sign_in(const std::shared_ptr<RecordingConnection>& conn) {
        service_->on_open(conn);
        v1::Frame ch;
        ch.set_version(wire::kProtocolVersion);
        ch.mutable_request()->set_id(1);
        ch.mutable_request()->mutable_challenge();
        service_->on_frame(conn, wire::encode_frame(ch));
        ASSERT_TRUE(conn->pump_until([&] { return response_to(conn->frames(), 1).has_value(); }));
        const std::string nonce = response_to(conn->frames(), 1)->challenge().nonce();

        const Bytes nonce_bytes(nonce.begin(), nonce.end());
        const Bytes message = wire::auth_message(
            nonce_bytes, ByteView(account_.data(), account_.size()), store::kPrimaryDevice);
        const auto sig = crypto::xeddsa_sign(identity_.private_key, message);
        v1::Frame au;
        au.set_version(wire::kProtocolVersion);
        au.mutable_request()->set_id(2);
        auto* a = au.mutable_request()->mutable_authenticate();
        a->set_account_id(as_string(ByteView(account_.data(), account_.size())));
        a->set_device_id(store::kPrimaryDevice);
        a->set_nonce(nonce);
        a->set_signature(as_string(ByteView(sig.data(), sig.size())));
        service_->on_frame(conn, wire::encode_frame(au));
        ASSERT_TRUE(conn->pump_until([&] { return response_to(conn->frames(), 2).has_value(); }));
        ASSERT_EQ(response_to(conn->frames(), 2)->status(), v1::OK);
    }

    // A send from the account to its own devices 1..`devices`, with the message id `id_byte`
    // x 16.
    void send_to_self(const std::shared_ptr<RecordingConnection>& conn, std::uint64_t request_id,
                      const std::string& content, char id_byte = '\x42',
                      store::DeviceId devices = 1) {
        v1::Frame f;
        f.set_version(wire::kProtocolVersion);
        f.mutable_request()->set_id(request_id);
        auto* send = f.mutable_request()->mutable_send();
        send->set_message_id(std::string(16, id_byte));
        send->set_recipient(as_string(ByteView(account_.data(), account_.size())));
        for (store::DeviceId d = store::kPrimaryDevice; d < store::kPrimaryDevice + devices; ++d) {
            auto* m = send->add_messages();
            m->set_device_id(d);
            m->set_type(2);
            m->set_content(content);
        }
        service_->on_frame(conn, wire::encode_frame(f));
    }

    std::filesystem::path dir_;
    Metrics metrics_;
    std::unique_ptr<FlakyStore> store_;
    std::unique_ptr<Service> service_;
    crypto::KeyPair identity_ = crypto::KeyPair::generate();
    store::AccountId account_{};
};

TEST_F(ServiceStoreErrors, TheHousekeepingTickRetriesADrainThatFailed) {
    make_recipient_with_mail();
    store_->fail_pending = 1;
    auto conn = std::make_shared<RecordingConnection>(1);
    sign_in(conn);
    // The drain at sign-in failed: nothing pushed, no QueueEmpty, and nothing else pending
    // would bring them (no push in flight to be acked, no new message).
    conn->settle();
    EXPECT_EQ(store_->pending_calls.load(), 1);
    EXPECT_EQ(conn->count(is_envelope), 0u);
    EXPECT_EQ(conn->count(is_queue_empty), 0u);

    service_->retry_stalled_drains();
    ASSERT_TRUE(conn->pump_until([&] { return conn->count(is_queue_empty) == 1; }));
    EXPECT_EQ(conn->count(is_envelope), 1u);
    const auto frames = conn->frames();
    EXPECT_TRUE(is_envelope(frames[frames.size() - 2]));  // the message, then the QueueEmpty
    EXPECT_EQ(frames[frames.size() - 2].push().envelope().content(), std::string("\x01\x02\x03"));

    // Retried once: a second tick reads nothing more and pushes nothing again.
    service_->retry_stalled_drains();
    conn->settle();
    EXPECT_EQ(store_->pending_calls.load(), 2);
    EXPECT_EQ(conn->count(is_envelope), 1u);
    EXPECT_EQ(conn->count(is_queue_empty), 1u);
    EXPECT_FALSE(conn->closed());
    service_->on_close(conn);
}

// A retry that fails again stays owed, and the tick after it delivers.
TEST_F(ServiceStoreErrors, ARetryThatFailsIsRetriedAtTheNextTick) {
    make_recipient_with_mail();
    store_->fail_pending = 2;
    auto conn = std::make_shared<RecordingConnection>(1);
    sign_in(conn);
    service_->retry_stalled_drains();
    ASSERT_TRUE(conn->pump_until([&] { return store_->pending_calls.load() == 2; }));
    conn->settle();
    EXPECT_EQ(conn->count(is_queue_empty), 0u);

    service_->retry_stalled_drains();
    ASSERT_TRUE(conn->pump_until([&] { return conn->count(is_queue_empty) == 1; }));
    EXPECT_EQ(conn->count(is_envelope), 1u);
    service_->on_close(conn);
}

// A connection that closed before the tick is skipped: the retry neither resurrects it nor
// touches a session that is gone.
TEST_F(ServiceStoreErrors, AClosedConnectionIsNotRetried) {
    make_recipient_with_mail();
    store_->fail_pending = 1;
    auto conn = std::make_shared<RecordingConnection>(1);
    sign_in(conn);
    service_->on_close(conn);
    conn->settle();
    service_->retry_stalled_drains();
    conn->settle();
    EXPECT_EQ(store_->pending_calls.load(), 1);
    EXPECT_EQ(conn->count(is_envelope), 0u);
}

// A send that finds the disk full is answered as not stored (the client keeps it and retries
// with the same id) and counted and logged as a store error; "server busy" would tell the
// operator nothing was wrong but load.
TEST_F(ServiceStoreErrors, AFullDiskIsAStoreErrorNotBusy) {
    store::StoreLimits limits;
    limits.max_database_bytes = 512 * 1024;
    start(limits);
    make_account();
    // Fill the database to its bound straight through the store.
    bool full = false;
    for (int i = 1; i < 200 && !full; ++i) {
        auto r = queue_for_account(static_cast<std::uint8_t>(i), Bytes(16 * 1024, 0x5A));
        full = !r.ok();
    }
    ASSERT_TRUE(full);
    auto conn = std::make_shared<RecordingConnection>(1);
    sign_in(conn);
    conn->settle();
    const auto errors_before = metrics_.store_errors.load();

    send_to_self(conn, 3, std::string(16 * 1024, 'x'));
    ASSERT_TRUE(conn->pump_until([&] { return response_to(conn->frames(), 3).has_value(); }));
    const auto r = response_to(conn->frames(), 3);
    EXPECT_EQ(r->status(), v1::INTERNAL) << r->detail();
    EXPECT_NE(r->detail().find("retry with the same message id"), std::string::npos);
    EXPECT_GT(metrics_.store_errors.load(), errors_before);
    EXPECT_EQ(metrics_.rate_limited.load(), 0u);
    service_->on_close(conn);
}

// An ack repeated while the first ack of the same envelope is still being committed is not
// answered OK: there is nothing left for it to claim, but the first one's delete may yet fail.
// It is refused like a busy server; after the first fails, the retry claims the row again and
// deletes it.
TEST_F(ServiceStoreErrors, ARepeatedAckWaitsForTheFirstOnesCommit) {
    make_recipient_with_mail();
    auto conn = std::make_shared<RecordingConnection>(1);
    sign_in(conn);
    ASSERT_TRUE(conn->pump_until([&] { return conn->count(is_queue_empty) == 1; }));
    std::string id;
    for (const auto& f : conn->frames())
        if (is_envelope(f)) id = f.push().envelope().message_id();
    ASSERT_EQ(id.size(), 16u);
    auto ack = [&](std::uint64_t rid) {
        v1::Frame f;
        f.set_version(wire::kProtocolVersion);
        f.mutable_request()->set_id(rid);
        f.mutable_request()->mutable_ack()->add_message_ids(id);
        service_->on_frame(conn, wire::encode_frame(f));
    };

    store_->hold_acks();
    ack(10);
    ASSERT_TRUE(store_->wait_for_ack_commit());
    ack(11);  // the same envelope, its first ack still in the store's hands
    ASSERT_TRUE(conn->pump_until([&] { return response_to(conn->frames(), 11).has_value(); }));
    EXPECT_EQ(response_to(conn->frames(), 11)->status(), v1::RATE_LIMITED);
    EXPECT_FALSE(response_to(conn->frames(), 10).has_value());

    store_->release_acks(/*then_fail=*/1);
    ASSERT_TRUE(conn->pump_until([&] { return response_to(conn->frames(), 10).has_value(); }));
    EXPECT_EQ(response_to(conn->frames(), 10)->status(), v1::INTERNAL);
    conn->settle();  // the failed ack gives its row back
    auto depth = store_->queue_depth({account_, store::kPrimaryDevice});
    ASSERT_TRUE(depth.ok());
    EXPECT_EQ(*depth, 1u);

    ack(12);
    ASSERT_TRUE(conn->pump_until([&] { return response_to(conn->frames(), 12).has_value(); }));
    EXPECT_EQ(response_to(conn->frames(), 12)->status(), v1::OK);
    // Runs the settling job posted after the answer: left queued, it would hold the session,
    // and the session this connection.
    conn->settle();
    depth = store_->queue_depth({account_, store::kPrimaryDevice});
    ASSERT_TRUE(depth.ok());
    EXPECT_EQ(*depth, 0u);
    EXPECT_FALSE(conn->closed());
    service_->on_close(conn);
}

// Out of memory after a send's transaction was durable: the sender is told "not confirmed",
// and the connected recipient never got the wake-up for the row. Which recipients missed one
// is not known then, so the next housekeeping tick drains every session, and the row is
// pushed without waiting for a reconnect. The sender's retry is a duplicate, pushed no more.
TEST_F(ServiceStoreErrors, AWakeUpLostAfterACommitIsMadeUpAtTheNextTick) {
    make_account();
    auto conn = std::make_shared<RecordingConnection>(1);
    sign_in(conn);
    ASSERT_TRUE(conn->pump_until([&] { return conn->count(is_queue_empty) == 1; }));

    store_->throw_after_send_commits = 1;
    send_to_self(conn, 3, "hello");
    ASSERT_TRUE(conn->pump_until([&] { return response_to(conn->frames(), 3).has_value(); }));
    EXPECT_EQ(response_to(conn->frames(), 3)->status(), v1::INTERNAL);
    EXPECT_NE(response_to(conn->frames(), 3)->detail().find("not confirmed"), std::string::npos);
    conn->settle();
    EXPECT_EQ(conn->count(is_envelope), 0u);  // stored, announced to no one
    const int reads_before = store_->pending_calls.load();

    service_->retry_stalled_drains();
    ASSERT_TRUE(conn->pump_until([&] { return conn->count(is_envelope) == 1; }));
    std::string pushed;
    for (const auto& f : conn->frames())
        if (is_envelope(f)) pushed = f.push().envelope().content();
    EXPECT_EQ(pushed, "hello");

    send_to_self(conn, 4, "hello");  // the client's retry, with the same id
    ASSERT_TRUE(conn->pump_until([&] { return response_to(conn->frames(), 4).has_value(); }));
    const auto retry = response_to(conn->frames(), 4);
    EXPECT_EQ(retry->status(), v1::OK);
    EXPECT_TRUE(retry->send().duplicate());
    // Once: a second tick reads no queue again, and the duplicate is pushed to no one.
    EXPECT_EQ(store_->pending_calls.load(), reads_before + 1);
    service_->retry_stalled_drains();
    conn->settle();
    EXPECT_EQ(store_->pending_calls.load(), reads_before + 1);
    EXPECT_EQ(conn->count(is_envelope), 1u);
    EXPECT_FALSE(conn->closed());
    service_->on_close(conn);
}

// A retry of a send stored before the recipient's device list changed is a duplicate, as the
// commit would have found it, not STALE_DEVICES: the message was stored for the devices it
// named, and the client must not take it for lost and send it again under a new id. A send
// with a new id to the old list is still refused.
TEST_F(ServiceStoreErrors, ARetryAfterTheDeviceListChangedIsADuplicate) {
    make_account();
    auto conn = std::make_shared<RecordingConnection>(1);
    sign_in(conn);
    send_to_self(conn, 3, "hello");
    ASSERT_TRUE(conn->pump_until([&] { return response_to(conn->frames(), 3).has_value(); }));
    ASSERT_EQ(response_to(conn->frames(), 3)->status(), v1::OK);
    conn->settle();

    // A second device appears. A send naming both makes the server read the new list (the
    // store itself, holding one device, then refuses it).
    store_->second_device = true;
    send_to_self(conn, 4, "to both", '\x44', /*devices=*/2);
    ASSERT_TRUE(conn->pump_until([&] { return response_to(conn->frames(), 4).has_value(); }));
    ASSERT_EQ(response_to(conn->frames(), 4)->status(), v1::STALE_DEVICES);

    send_to_self(conn, 5, "hello");  // the first send's retry: the same id and device list
    ASSERT_TRUE(conn->pump_until([&] { return response_to(conn->frames(), 5).has_value(); }));
    const auto retry = response_to(conn->frames(), 5);
    EXPECT_EQ(retry->status(), v1::OK) << retry->detail();
    EXPECT_TRUE(retry->send().duplicate());
    EXPECT_EQ(metrics_.sends_duplicate.load(), 1u);

    send_to_self(conn, 6, "another", '\x43');
    ASSERT_TRUE(conn->pump_until([&] { return response_to(conn->frames(), 6).has_value(); }));
    const auto fresh = response_to(conn->frames(), 6);
    EXPECT_EQ(fresh->status(), v1::STALE_DEVICES);
    EXPECT_EQ(fresh->stale_devices().current_devices_size(), 2);
    conn->settle();
    EXPECT_EQ(conn->count(is_envelope), 1u);
    service_->on_close(conn);
}

}  // namespace
}  // namespace pp::server

#include "server/service.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <deque>
#include <list>
#include <thread>
#include <utility>

#include "base/unix_time.hpp"
#include "crypto/compare.hpp"
#include "crypto/random.hpp"
#include "crypto/xeddsa.hpp"
#include "server/auth.hpp"
#include "server/client_address.hpp"

namespace pp::server {

namespace v1 = wire::v1;
using store::AccountId;
using store::DeviceAddress;

struct Service::Session {
    explicit Session(std::shared_ptr<net::Connection> c, const Config& cfg)
        : conn(std::move(c)), bucket(cfg.requests_per_second, cfg.request_burst) {}

    std::shared_ptr<net::Connection> conn;
    std::string ip = peer_ip(conn->peer());           // without the port; for opt-in logs only
    std::string address = address_key(conn->peer());  // rate-limit key: IPv4, or IPv6 /64
    std::chrono::steady_clock::time_point opened = std::chrono::steady_clock::now();
    // Everything below is touched only on the connection's strand (the network thread running
    // its callbacks, or a conn->post), except where a field says otherwise.
    TokenBucket bucket;
    // A request running on a worker (see Service::slow): later frames wait in `waiting`, in
    // order, and the strand leaves the fields the worker may touch (nonce, device,
    // identity_key: the request fields) alone until it is done.
    bool busy = false;
    struct Waiting {
        Bytes frame;
        std::chrono::steady_clock::time_point arrived;  // request_latency counts from here
    };
    std::list<Waiting> waiting;  // a list: empty, it allocates nothing (a deque takes ~600 bytes)
    Bytes nonce;                 // the latest challenge on this connection
    std::optional<DeviceAddress> device;
    Bytes identity_key;
    std::uint64_t last_pushed_seq = 0;
    // Pushed on this connection and not yet claimed by an ack, by message id, oldest first.
    // Ids are the senders' choice and may repeat (two senders, one id), so each row is kept
    // with its queue seq: an ack deletes exactly the rows pushed here, never a namesake.
    struct Pushed {
        std::uint64_t seq = 0;
        std::size_t bytes = 0;
    };
    std::map<store::MessageId, std::deque<Pushed>> in_flight;
    // Rows claimed by an ack still being committed, counted by id: another ack of the same
    // envelope must not be answered OK before that commit is settled.
    std::map<store::MessageId, std::size_t> claiming;
    // The push window: pushed rows not yet durably acknowledged (including those claimed by
    // an ack still being committed) and their bytes.
    std::size_t in_flight_count = 0;
    std::size_t in_flight_bytes = 0;
    // The store may hold rows for this device that were never pushed here: true from
    // authentication until a drain reaches the end of the queue, and again whenever a just-
    // committed message could not be pushed at once. Only then does drain() read the store;
    // otherwise new messages arrive from the committer in seq order and are pushed from memory.
    bool backlog = true;
    // Refusals on this connection (logged on close); a worker's registration counts here too.
    std::atomic<std::uint64_t> rate_limited{0};
    // QueueEmpty frames owed once the backlog is pushed: one for authenticating and one per
    // DrainRequest, so a client can count them and know which one answers which request.
    unsigned queue_empty_owed = 0;
    bool closed = false;
    // A drain could not finish (a store error, out of memory) and this session waits in
    // stalled_ for the next housekeeping tick to try again (see retry_later).
    bool retry_owed = false;
};

namespace {
// A connection with more frames waiting behind a worker's request than this is flooding: it
// is closed.
constexpr std::size_t kMaxQueuedFrames = 256;
// Recipients' device lists are read from the store again after this long (see DeviceDirectory).
constexpr auto kDeviceListTtl = std::chrono::seconds(60);
constexpr std::size_t kDeviceListEntries = 1 << 16;
}  // namespace

namespace {

v1::Frame error(std::uint64_t id, v1::Status status, std::string_view detail) {
    return wire::make_response(id, status, detail);
}

std::optional<AccountId> account_id(const std::string& bytes) {
    if (bytes.size() != AccountId{}.size()) return std::nullopt;
    AccountId id{};
    std::copy(bytes.begin(), bytes.end(), id.begin());
    return id;
}

std::optional<store::MessageId> message_id(const std::string& bytes) {
    if (bytes.size() != store::MessageId{}.size()) return std::nullopt;
    store::MessageId id{};
    std::copy(bytes.begin(), bytes.end(), id.begin());
    return id;
}

Bytes to_bytes(const std::string& s) {
    return Bytes(s.begin(), s.end());
}
std::string to_string_bytes(ByteView b) {
    return std::string(b.begin(), b.end());
}

bool is_public_key(const std::string& b) {
    return b.size() == crypto::kSerializedPublicKeySize &&
           static_cast<std::uint8_t>(b[0]) == crypto::kDjbKeyType;
}

crypto::PublicKey public_key(const std::string& b) {
    return *crypto::PublicKey::deserialize(as_bytes(b));
}

bool valid_signed_prekey(const v1::SignedPreKey& spk, const std::string& identity) {
    return is_public_key(spk.public_key()) && spk.signature().size() == 64 &&
           crypto::xeddsa_verify(public_key(identity), as_bytes(spk.public_key()),
                                 as_bytes(spk.signature()));
}

bool valid_username(const std::string& u) {
    if (u.size() < 3 || u.size() > 32) return false;
    return std::all_of(u.begin(), u.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
    });
}

store::SignedPreKey to_store(const v1::SignedPreKey& k) {
    return {k.id(), to_bytes(k.public_key()), to_bytes(k.signature())};
}

}  // namespace

Service::Service(store::Store& store, Config config, Metrics& metrics, unsigned worker_threads)
    : store_(store),
      config_(config),
      metrics_(metrics),
      workers_(worker_threads != 0 ? worker_threads
                                   : std::max(2u, std::thread::hardware_concurrency() / 2)),
      directory_(store, kDeviceListTtl, kDeviceListEntries),
      account_limiter_(config.account_requests_per_second, config.account_request_burst,
                       config.rate_limit_max_keys),
      address_limiter_(config.address_requests_per_second, config.address_request_burst,
                       config.rate_limit_max_keys),
      registration_limiter_(config.registrations_per_address_per_second, config.registration_burst,
                            config.rate_limit_max_keys),
      prekey_pair_limiter_(config.prekey_fetches_per_target_per_hour / 3600.0,
                           config.prekey_fetch_burst_per_target, config.rate_limit_max_keys),
      prekey_requester_limiter_(config.prekey_fetches_per_hour / 3600.0, config.prekey_fetch_burst,
                                config.rate_limit_max_keys),
      events_(config.log_client_addresses),
      decoy_identity_(crypto::KeyPair::generate().public_key) {
    GroupCommitter::Bounds bounds;
    bounds.max_batch = config_.max_batch;
    bounds.max_pending_sends = config_.max_pending_sends;
    bounds.max_pending_send_bytes = config_.max_pending_send_bytes;
    bounds.max_pending_acks = config_.max_pending_acks;
    committer_ = std::make_unique<GroupCommitter>(
        store_, metrics_, bounds,
        [this](std::vector<CommittedDelivery> stored) { wake(std::move(stored)); },
        [this] { drain_everyone_owed_.store(true, std::memory_order_relaxed); });
}

Service::~Service() {
    shutdown();
}

void Service::shutdown() {
    // Order matters: stop taking frames, let the workers finish their requests, then commit
    // everything already submitted and answer. Frames are handled as they arrive, so the only
    // ones left unanswered are those still waiting behind a worker's request, and a request
    // that passed the stopped_ check just as the pool was joined (its job never runs): none
    // was acknowledged, and the client sends them again. A send or ack reaching the committer
    // after it stopped is answered "shutting down". Committer callbacks post nothing once
    // stopped_ is set.
    stopped_ = true;
    workers_.join();
    if (committer_) committer_->stop();
}

void Service::sweep_rate_limiters() {
    const auto now = std::chrono::steady_clock::now();
    for (auto* l : {&account_limiter_, &address_limiter_, &registration_limiter_,
                    &prekey_pair_limiter_, &prekey_requester_limiter_})
        l->sweep(now);
}

void Service::retry_later(const SessionPtr& s) noexcept {
    if (s->retry_owed) return;
    try {
        std::lock_guard lock(mutex_);
        stalled_.push_back(s);
    } catch (...) {
        return;  // out of memory: left for the next ack, wake or reconnect
    }
    s->retry_owed = true;  // only once listed, so a failed push_back leaves it retryable
}

void Service::retry_stalled_drains() {
    if (stopped_) return;
    if (drain_everyone_owed_.exchange(false, std::memory_order_relaxed)) drain_everyone();
    std::vector<std::weak_ptr<Session>> stalled;
    {
        std::lock_guard lock(mutex_);
        stalled.swap(stalled_);
    }
    for (const auto& weak : stalled) {
        auto s = weak.lock();
        if (!s) continue;  // the connection is gone; its device drains on the next one
        try {
            s->conn->post([this, s] {
                s->retry_owed = false;
                drain_or_defer(s);
            });
        } catch (const std::exception&) {
            close_quietly(s);  // out of memory: a reconnect drains the queue instead
        }
    }
}

void Service::drain_everyone() {
    events_.pushes_lost();
    std::vector<SessionPtr> all;
    try {
        std::lock_guard lock(mutex_);
        all.reserve(sessions_.size());
        for (const auto& [id, s] : sessions_) all.push_back(s);
    } catch (const std::exception&) {
        drain_everyone_owed_.store(true, std::memory_order_relaxed);  // the next tick, then
        return;
    }
    for (const auto& s : all) {
        try {
            s->conn->post([this, s] {
                s->backlog = true;  // the store may hold rows no wake-up announced
                drain_or_defer(s);
            });
        } catch (const std::exception&) {
            close_quietly(s);  // out of memory: a reconnect drains the queue instead
        }
    }
}

void Service::on_open(const std::shared_ptr<net::Connection>& conn) {
    auto s = std::make_shared<Session>(conn, config_);
    metrics_.connections_total.fetch_add(1, std::memory_order_relaxed);
    metrics_.connections_open.fetch_add(1, std::memory_order_relaxed);
    events_.connection_open(conn->id(), s->ip);
    std::lock_guard lock(mutex_);
    sessions_[conn->id()] = std::move(s);
}

void Service::on_close(const std::shared_ptr<net::Connection>& conn) {
    SessionPtr s;
    {
        std::lock_guard lock(mutex_);
        auto it = sessions_.find(conn->id());
        if (it == sessions_.end()) return;
        s = std::move(it->second);
        sessions_.erase(it);
    }
    metrics_.connections_open.fetch_sub(1, std::memory_order_relaxed);
    // On the connection's strand: a worker may still be running one of its requests, which
    // answers into the closed connection and changes nothing here.
    s->closed = true;
    drop_waiting(*s);
    events_.connection_close(s->conn->id(), std::chrono::steady_clock::now() - s->opened,
                             s->device.has_value(), s->rate_limited.load());
    if (!s->device) return;
    metrics_.connections_authenticated.fetch_sub(1, std::memory_order_relaxed);
    std::lock_guard lock(mutex_);
    auto it = by_device_.find({s->device->account, s->device->device});
    if (it != by_device_.end()) {
        it->second.erase(s->conn->id());
        if (it->second.empty()) by_device_.erase(it);
    }
}

void Service::on_frame(const std::shared_ptr<net::Connection>& conn, Bytes frame) {
    SessionPtr s;
    {
        std::lock_guard lock(mutex_);
        auto it = sessions_.find(conn->id());
        if (it == sessions_.end()) return;
        s = it->second;
    }
    metrics_.frames_in.fetch_add(1, std::memory_order_relaxed);
    if (stopped_) return;  // shutting down: the frame is dropped, its connection is closing
    const auto arrived = std::chrono::steady_clock::now();
    if (s->busy) {
        if (s->waiting.size() >= kMaxQueuedFrames) {
            // Backpressure: requests arrive faster than they can be handled. Rather than
            // buffer without bound, drop the connection; the client reconnects and retries.
            metrics_.rate_limited.fetch_add(1, std::memory_order_relaxed);
            events_.backpressure_close(conn->id(), static_cast<int>(s->waiting.size()));
            conn->close();
            return;
        }
        s->waiting.push_back({std::move(frame), arrived});
        metrics_.frames_waiting.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    handle(s, std::move(frame), arrived);
}

void Service::close_quietly(const SessionPtr& s) noexcept {
    try {
        s->conn->close();
    } catch (const std::exception&) {
        // The network's connections do not throw here (see net::Connection::close); another
        // Connection might, and an error path must not.
    }
}

void Service::drain_or_defer(const SessionPtr& s) noexcept {
    try {
        drain(s);
    } catch (const std::exception&) {
        // Out of memory mid-push: what was not pushed stays queued in the store, and the next
        // wake, ack, drain or housekeeping tick pushes it and sends the QueueEmpty still owed.
        // The request that asked was already answered, or is answered OK: it must not get a
        // second answer.
        s->backlog = true;
        retry_later(s);
        metrics_.frames_rejected.fetch_add(1, std::memory_order_relaxed);
    }
}

void Service::drop_waiting(Session& s) {
    metrics_.frames_waiting.fetch_sub(static_cast<std::int64_t>(s.waiting.size()),
                                      std::memory_order_relaxed);
    s.waiting.clear();
}

void Service::answer_internal(const SessionPtr& s, std::uint64_t request_id) noexcept {
    metrics_.frames_rejected.fetch_add(1, std::memory_order_relaxed);
    try {
        respond(s, error(request_id, v1::INTERNAL, "internal error"));
    } catch (const std::exception&) {
        // Out of memory even for the answer: the client's request times out.
    }
}

void Service::respond(const SessionPtr& s, const v1::Frame& frame) {
    s->conn->send(wire::encode_frame(frame));
}

bool Service::slow(const v1::Request& req) {
    // These write the store outside the group committer, so they wait for its write lock,
    // which the committer holds through its fsync: a worker waits, not a network thread.
    // Everything else runs where the frame arrived, reads included: SQLite in WAL mode never
    // makes a reader wait for the writer, the store keeps a pool of readers so they do not
    // wait for each other, and drain() reads no more than the push window holds. (A store
    // whose reads cross a network would move them here too.)
    switch (req.body_case()) {
        case v1::Request::kRegister:
        case v1::Request::kUploadPrekeys:
        case v1::Request::kFetchBundles:
            return true;
        default:
            return false;
    }
}

void Service::handle(const SessionPtr& s, Bytes bytes,
                     std::chrono::steady_clock::time_point arrived) {
    // On the connection's strand, inside the network layer's callback: nothing may escape.
    std::uint64_t request_id = 0;  // known once the frame parsed; the INTERNAL answer names it
    try {
        if (s->closed) return;
        const auto started = std::chrono::steady_clock::now();
        auto frame = wire::decode_frame(bytes);
        if (!frame || !frame->has_request()) {
            metrics_.frames_rejected.fetch_add(1, std::memory_order_relaxed);
            const bool version = !frame && frame.error().code == ErrorCode::kInvalidVersion;
            respond(s, error(0, version ? v1::UNSUPPORTED_VERSION : v1::BAD_REQUEST,
                             frame ? "expected a request" : frame.error().detail));
            return;
        }
        const v1::Request& req = frame->request();
        request_id = req.id();
        const char* limit = nullptr;
        if (!s->bucket.take(started))
            limit = "connection";
        else if (!address_limiter_.take(s->address, started))
            limit = "address";
        else if (s->device &&
                 !account_limiter_.take(
                     std::string(s->device->account.begin(), s->device->account.end()), started))
            limit = "account";
        if (limit != nullptr) {
            note_rate_limited(s, limit);
            respond(s, error(req.id(), v1::RATE_LIMITED, "slow down"));
            return;
        }
        if (slow(req)) {
            run_on_worker(s, std::move(*frame), arrived);
            return;
        }
        if (auto reply = dispatch(s, req)) respond(s, *reply);
        metrics_.request_latency.observe(std::chrono::steady_clock::now() - arrived);
    } catch (const std::exception&) {
        answer_internal(s, request_id);
    }
}

namespace {

// Counts a worker job on the requests_on_workers gauge from before it is queued, and takes it
// off once: when it is done, when posting it fails, or when the pool destroys it unrun (a job
// queued just as shutdown joined the pool).
class WorkerGaugeTicket {
  public:
    explicit WorkerGaugeTicket(std::atomic<std::int64_t>& gauge) : gauge_(&gauge) {
        gauge.fetch_add(1, std::memory_order_relaxed);
    }
    WorkerGaugeTicket(WorkerGaugeTicket&& o) noexcept : gauge_(std::exchange(o.gauge_, nullptr)) {}
    WorkerGaugeTicket(const WorkerGaugeTicket&) = delete;
    WorkerGaugeTicket& operator=(const WorkerGaugeTicket&) = delete;
    WorkerGaugeTicket& operator=(WorkerGaugeTicket&&) = delete;
    ~WorkerGaugeTicket() { done(); }
    void done() {
        if (gauge_ != nullptr)
            std::exchange(gauge_, nullptr)->fetch_sub(1, std::memory_order_relaxed);
    }

  private:
    std::atomic<std::int64_t>* gauge_;
};

}  // namespace

void Service::run_on_worker(const SessionPtr& s, v1::Frame frame,
                            std::chrono::steady_clock::time_point arrived) {
    // busy only once the job is queued: if posting throws, handle() answers INTERNAL and the
    // connection goes on. (resume() runs on this strand, so it cannot come first.)
    boost::asio::post(
        workers_, [this, s, frame = std::move(frame), arrived,
                   ticket = WorkerGaugeTicket(metrics_.requests_on_workers)]() mutable {
            // The worker pool's boundary: nothing may escape into it.
            try {
                if (auto reply = dispatch(s, frame.request())) respond(s, *reply);
                metrics_.request_latency.observe(std::chrono::steady_clock::now() - arrived);
            } catch (const std::exception&) {
                answer_internal(s, frame.request().id());
            }
            // Before resume is posted: the gauge never counts this job and the connection's
            // next one at once.
            ticket.done();
            // Posted after the answer was queued, so the frames that waited are answered after it.
            try {
                s->conn->post([this, s] { resume(s); });
            } catch (const std::exception&) {
                // Out of memory: the connection stays busy and its client's requests time out;
                // closing lets it reconnect instead.
                close_quietly(s);
            }
        });
    s->busy = true;
}

void Service::resume(const SessionPtr& s) {
    s->busy = false;
    // After shutdown began, waiting frames are dropped like any frame arriving then.
    if (stopped_) drop_waiting(*s);
    while (!s->busy && !s->waiting.empty()) {
        Session::Waiting next = std::move(s->waiting.front());
        s->waiting.pop_front();
        metrics_.frames_waiting.fetch_sub(1, std::memory_order_relaxed);
        handle(s, std::move(next.frame), next.arrived);
    }
}

std::optional<v1::Frame> Service::dispatch(const SessionPtr& s, const v1::Request& req) {
    switch (req.body_case()) {
        case v1::Request::kRegister:
            return on_register(s, req);
        case v1::Request::kChallenge:
            return on_challenge(s, req);
        case v1::Request::kAuthenticate:
            return on_authenticate(s, req);
        case v1::Request::kLookupUsername:
            return on_lookup_username(s, req);
        default:
            break;
    }
    if (!s->device) return error(req.id(), v1::UNAUTHENTICATED, "authenticate first");
    switch (req.body_case()) {
        case v1::Request::kUploadPrekeys:
            return on_upload_prekeys(s, req);
        case v1::Request::kFetchBundles:
            return on_fetch_bundles(s, req);
        case v1::Request::kPrekeyCount:
            return on_prekey_count(s, req);
        case v1::Request::kAck:
            return on_ack(s, req);
        case v1::Request::kSend:
            return on_send(s, req);
        case v1::Request::kGetEndpoints:
            return on_get_endpoints(req);
        case v1::Request::kDrain: {
            // The answer is built first: once the drain ran (and maybe sent the QueueEmpty),
            // nothing may throw and turn this request's answer into INTERNAL.
            auto ok = wire::make_response(req.id(), v1::OK);
            ++s->queue_empty_owed;
            drain_or_defer(s);
            return ok;
        }
        default:
            return error(req.id(), v1::BAD_REQUEST, "unknown request");
    }
}

v1::Frame Service::on_challenge(const SessionPtr& s, const v1::Request& req) {
    s->nonce.assign(kNonceBytes, 0);
    crypto::random_bytes(s->nonce);
    auto f = wire::make_response(req.id(), v1::OK);
    auto* c = f.mutable_response()->mutable_challenge();
    c->set_nonce(to_string_bytes(s->nonce));
    c->set_pow_difficulty(
        config_.registration == RegistrationPolicy::kProofOfWork ? config_.pow_difficulty : 0);
    return f;
}

v1::Frame Service::on_register(const SessionPtr& s, const v1::Request& req) {
    if (!registration_limiter_.take(s->address, std::chrono::steady_clock::now())) {
        note_rate_limited(s, "registration");
        return error(req.id(), v1::RATE_LIMITED, "too many registrations from this address");
    }
    const auto& r = req.register_();
    if (!is_public_key(r.identity_key()) || !r.has_signed_prekey() ||
        !valid_signed_prekey(r.signed_prekey(), r.identity_key()))
        return error(req.id(), v1::BAD_REQUEST, "identity key or signed prekey invalid");
    if (static_cast<std::size_t>(r.prekeys_size()) > config_.max_prekeys_per_upload)
        return error(req.id(), v1::TOO_LARGE, "too many prekeys");
    if (!r.username().empty() && !valid_username(r.username()))
        return error(req.id(), v1::BAD_REQUEST, "username must be 3-32 of a-z 0-9 _ .");
    switch (config_.registration) {
        case RegistrationPolicy::kOpen:
            break;
        case RegistrationPolicy::kInvite:
            if (r.invite_code().empty())
                return error(req.id(), v1::FORBIDDEN, "an invite code is required");
            break;
        case RegistrationPolicy::kProofOfWork:
            if (s->nonce.empty() ||
                !crypto::constant_time_equal(as_bytes(r.pow_challenge()), s->nonce) ||
                !pow_satisfied(s->nonce, as_bytes(r.pow_nonce()), config_.pow_difficulty))
                return error(req.id(), v1::FORBIDDEN, "proof of work missing or wrong");
            s->nonce.clear();  // one registration per solved challenge
            break;
    }
    store::NewAccount a;
    crypto::random_bytes(a.account);
    a.identity_key = to_bytes(r.identity_key());
    a.registration_id = r.registration_id();
    if (!r.username().empty()) a.username = r.username();
    a.signed_prekey = to_store(r.signed_prekey());
    for (const auto& pk : r.prekeys()) {
        if (!is_public_key(pk.public_key())) return error(req.id(), v1::BAD_REQUEST, "bad prekey");
        a.prekeys.push_back({pk.id(), to_bytes(pk.public_key())});
    }
    if (config_.registration == RegistrationPolicy::kInvite) a.invite_code = r.invite_code();
    a.now_ms = unix_ms_now();
    auto created = store_.create_account(a);
    if (!created) {
        if (created.error().code == ErrorCode::kLimitExceeded)
            return error(
                req.id(),
                config_.registration == RegistrationPolicy::kInvite ? v1::FORBIDDEN : v1::CONFLICT,
                "username taken or invite code not valid");
        store_failed("create_account", created.error());
        return error(req.id(), v1::INTERNAL, "could not store the account");
    }
    metrics_.registrations.fetch_add(1, std::memory_order_relaxed);
    events_.registration(s->conn->id(), config_.registration == RegistrationPolicy::kOpen ? "open"
                                        : config_.registration == RegistrationPolicy::kInvite
                                            ? "invite"
                                            : "pow");
    auto f = wire::make_response(req.id(), v1::OK);
    auto* body = f.mutable_response()->mutable_register_();
    body->set_account_id(to_string_bytes(a.account));
    body->set_device_id(1);
    // Over the TLS connection the client already pins: the one moment it can learn this key
    // without trusting anything new.
    if (config_.endpoints.keyed)
        body->set_endpoint_key(to_string_bytes(config_.endpoints.key.view()));
    return f;
}

// Authenticated devices only (dispatch checks): the full list carries relay secrets.
v1::Frame Service::on_get_endpoints(const v1::Request& req) const {
    if (config_.endpoints.empty())
        return error(req.id(), v1::NOT_FOUND, "this server publishes no endpoint list");
    auto f = wire::make_response(req.id(), v1::OK);
    auto* body = f.mutable_response()->mutable_get_endpoints();
    body->set_signed_list(to_string_bytes(config_.endpoints.full));
    body->set_endpoint_key(to_string_bytes(config_.endpoints.key.view()));
    return f;
}

std::optional<v1::Frame> Service::on_authenticate(const SessionPtr& s, const v1::Request& req) {
    const auto& a = req.authenticate();
    auto id = account_id(a.account_id());
    const bool nonce_ok =
        !s->nonce.empty() && crypto::constant_time_equal(as_bytes(a.nonce()), s->nonce);
    if (!id || !nonce_ok) {
        metrics_.auth_failures.fetch_add(1, std::memory_order_relaxed);
        events_.auth_failed(s->conn->id(), "no_challenge");
        return error(req.id(), v1::FORBIDDEN, "request a challenge and sign its nonce");
    }
    // One device per connection: its queue position and in-flight set belong to that device.
    if (s->device) {
        s->nonce.clear();
        events_.auth_failed(s->conn->id(), "already");
        return error(req.id(), v1::CONFLICT, "this connection is already authenticated");
    }
    auto account = store_.account(*id);
    if (!account && account.error().code != ErrorCode::kNoSession) {
        store_failed("account", account.error());
        return error(req.id(), v1::INTERNAL, "try again");
    }
    const bool device_known =
        account && std::any_of(account->devices.begin(), account->devices.end(),
                               [&](const store::Device& d) { return d.id == a.device_id(); });
    auto identity = device_known ? crypto::PublicKey::deserialize(account->identity_key)
                                 : Result<crypto::PublicKey>(decoy_identity_);
    // Unknown accounts are checked against the decoy key too (and always fail), so both
    // refusals cost one signature verification.
    const bool signature_ok =
        identity &&
        verify_auth_signature(*identity, s->nonce, *id, a.device_id(), as_bytes(a.signature()));
    if (!device_known || !signature_ok) {
        metrics_.auth_failures.fetch_add(1, std::memory_order_relaxed);
        events_.auth_failed(s->conn->id(), "refused");
        s->nonce.clear();
        // One answer for unknown accounts and bad signatures: no account enumeration.
        return error(req.id(), v1::FORBIDDEN, "authentication failed");
    }
    s->nonce.clear();
    // What may throw (allocations) comes before the session changes, so a failure leaves it
    // unauthenticated and answered INTERNAL; once it is authenticated, it is answered OK or
    // closed, never both authenticated and refused.
    auto ok = wire::make_response(req.id(), v1::OK);
    // The client stamps its message ids with this clock rather than its own (docs/protocol.md).
    ok.mutable_response()->mutable_authenticate()->set_server_time_ms(
        static_cast<std::uint64_t>(unix_ms_now()));
    Bytes identity_key = account->identity_key;
    {
        std::lock_guard lock(mutex_);
        auto [entry, created] = by_device_.try_emplace({*id, a.device_id()});
        try {
            entry->second.insert(s->conn->id());
        } catch (...) {
            if (created) by_device_.erase(entry);  // no empty set left behind
            throw;
        }
    }
    metrics_.connections_authenticated.fetch_add(1, std::memory_order_relaxed);
    s->device = DeviceAddress{*id, a.device_id()};
    s->identity_key = std::move(identity_key);
    // Answer first, then push the backlog, so the client sees them in that order.
    try {
        respond(s, ok);
        events_.auth_ok(s->conn->id(), a.device_id());
    } catch (const std::exception&) {
        close_quietly(s);
        return std::nullopt;
    }
    ++s->queue_empty_owed;
    drain_or_defer(s);
    return std::nullopt;
}

v1::Frame Service::on_upload_prekeys(const SessionPtr& s, const v1::Request& req) {
    const auto& u = req.upload_prekeys();
    if (static_cast<std::size_t>(u.prekeys_size()) > config_.max_prekeys_per_upload)
        return error(req.id(), v1::TOO_LARGE, "too many prekeys");
    if (u.has_signed_prekey()) {
        if (!valid_signed_prekey(u.signed_prekey(), to_string_bytes(s->identity_key)))
            return error(req.id(), v1::BAD_REQUEST, "signed prekey signature invalid");
        if (auto set = store_.set_signed_prekey(*s->device, to_store(u.signed_prekey())); !set) {
            store_failed("set_signed_prekey", set.error());
            return error(req.id(), v1::INTERNAL, "could not store the signed prekey");
        }
    }
    std::vector<store::OneTimePreKey> keys;
    for (const auto& pk : u.prekeys()) {
        if (!is_public_key(pk.public_key())) return error(req.id(), v1::BAD_REQUEST, "bad prekey");
        keys.push_back({pk.id(), to_bytes(pk.public_key())});
    }
    if (!keys.empty()) {
        auto added = store_.add_prekeys(*s->device, keys);
        if (!added && added.error().code == ErrorCode::kLimitExceeded)
            return error(req.id(), v1::TOO_LARGE, "too many stored prekeys; upload fewer");
        if (!added) {
            store_failed("add_prekeys", added.error());
            return error(req.id(), v1::INTERNAL, "could not store prekeys");
        }
    }
    return wire::make_response(req.id(), v1::OK);
}

bool Service::may_take_prekeys(const SessionPtr& s, const AccountId& target) {
    const auto now = std::chrono::steady_clock::now();
    std::string requester(s->device->account.begin(), s->device->account.end());
    std::string pair = requester;
    pair.append(target.begin(), target.end());
    // The pair first: a requester stuck on one target does not spend its allowance for others.
    return prekey_pair_limiter_.take(pair, now) && prekey_requester_limiter_.take(requester, now);
}

v1::Frame Service::on_fetch_bundles(const SessionPtr& s, const v1::Request& req) {
    auto id = account_id(req.fetch_bundles().account_id());
    if (!id) return error(req.id(), v1::BAD_REQUEST, "account id must be 16 bytes");
    // Past the prekey limits the bundles still go out, only without one-time prekeys, rather
    // than RATE_LIMITED: X3DH works without one (the first messages then rest on the signed
    // prekey, which rotates, instead of a single-use key), so an honest client that fetches a
    // lot still starts its sessions, while nobody can drain another account's finite one-time
    // prekeys faster than the limits, leaving them for the contacts who need them. The answer
    // looks exactly like a target that has run out, which a client must handle anyway.
    const bool take = may_take_prekeys(s, *id);
    if (!take) metrics_.prekey_fetches_limited.fetch_add(1, std::memory_order_relaxed);
    auto bundles = store_.take_bundles(*id, take);
    if (!bundles && bundles.error().code != ErrorCode::kNoSession) {
        store_failed("take_bundles", bundles.error());
        return error(req.id(), v1::INTERNAL, "try again");
    }
    if (!bundles || bundles->empty()) return error(req.id(), v1::NOT_FOUND, "no such account");
    auto f = wire::make_response(req.id(), v1::OK);
    auto* body = f.mutable_response()->mutable_fetch_bundles();
    for (const auto& b : *bundles) {
        auto* out = body->add_bundles();
        out->set_device_id(b.device);
        out->set_registration_id(b.registration_id);
        out->set_identity_key(to_string_bytes(b.identity_key));
        out->mutable_signed_prekey()->set_id(b.signed_prekey.id);
        out->mutable_signed_prekey()->set_public_key(to_string_bytes(b.signed_prekey.public_key));
        out->mutable_signed_prekey()->set_signature(to_string_bytes(b.signed_prekey.signature));
        if (b.prekey) {
            out->mutable_prekey()->set_id(b.prekey->id);
            out->mutable_prekey()->set_public_key(to_string_bytes(b.prekey->public_key));
        }
    }
    return f;
}

v1::Frame Service::on_prekey_count(const SessionPtr& s, const v1::Request& req) {
    auto n = store_.count_prekeys(*s->device);
    if (!n) {
        store_failed("count_prekeys", n.error());
        return error(req.id(), v1::INTERNAL, "could not count prekeys");
    }
    auto f = wire::make_response(req.id(), v1::OK);
    f.mutable_response()->mutable_prekey_count()->set_count(static_cast<std::uint32_t>(*n));
    return f;
}

v1::Frame Service::send_answer(std::uint64_t request_id, bool duplicate) {
    (duplicate ? metrics_.sends_duplicate : metrics_.sends).fetch_add(1, std::memory_order_relaxed);
    auto f = wire::make_response(request_id, v1::OK);
    auto* body = f.mutable_response()->mutable_send();
    body->set_duplicate(duplicate);
    // Refreshes the sender's estimate of this clock, which stamps its ids.
    body->set_server_time_ms(static_cast<std::uint64_t>(unix_ms_now()));
    return f;
}

std::optional<v1::Frame> Service::on_send(const SessionPtr& s, const v1::Request& req) {
    const auto& r = req.send();
    auto id = message_id(r.message_id());
    if (!id) return error(req.id(), v1::BAD_REQUEST, "message id must be 16 bytes");
    store::Send send;
    send.id = *id;
    send.sender = *s->device;
    send.now_ms = unix_ms_now();
    send.expires_ms =
        send.now_ms +
        std::chrono::duration_cast<std::chrono::milliseconds>(config_.message_ttl).count();

    if (r.has_group()) {
        const auto& g = r.group();
        if (g.recipients_size() == 0 ||
            static_cast<std::size_t>(g.recipients_size()) > config_.max_recipients_per_send)
            return error(req.id(), v1::BAD_REQUEST, "a group send names 1 to max recipients");
        send.contents.push_back(to_bytes(g.shared_content()));
        for (const auto& rc : g.recipients()) {
            auto to = account_id(rc.account_id());
            if (!to)
                return error(req.id(), v1::BAD_REQUEST, "recipient account id must be 16 bytes");
            send.deliveries.push_back({DeviceAddress{*to, rc.device_id()}, g.type(), 0});
        }
    } else {
        auto to = account_id(r.recipient());
        if (!to || r.messages_size() == 0)
            return error(req.id(), v1::BAD_REQUEST, "recipient and messages required");
        std::vector<store::DeviceId> named;
        named.reserve(static_cast<std::size_t>(r.messages_size()));
        for (const auto& m : r.messages()) named.push_back(m.device_id());
        std::sort(named.begin(), named.end());
        // A device named twice never matches: the current list has each once.
        bool read = false;
        auto current = directory_.devices(*to, false, &read);
        if (current && named != *current && !read)
            current = directory_.devices(*to, true);  // a cached list may be stale: read it
        if (!current && current.error().code != ErrorCode::kNoSession) {
            store_failed("account", current.error());
            return error(req.id(), v1::INTERNAL, "try again");
        }
        if (!current) return error(req.id(), v1::NOT_FOUND, "no such account");
        if (named != *current) {
            // A retry of a send stored before the list changed is a duplicate, as the commit
            // would have found it. The store is asked only on this rare path. (A first attempt
            // still waiting for its commit is not seen: its retry gets STALE_DEVICES.)
            auto sent = store_.was_sent(send.sender, send.id);
            if (!sent) {
                store_failed("was_sent", sent.error());
                return error(req.id(), v1::INTERNAL, "try again");
            }
            if (*sent) return send_answer(req.id(), /*duplicate=*/true);
            auto f = error(req.id(), v1::STALE_DEVICES, "the recipient's device list changed");
            for (auto d : *current)
                f.mutable_response()->mutable_stale_devices()->add_current_devices(d);
            return f;
        }
        for (const auto& m : r.messages()) {
            send.contents.push_back(to_bytes(m.content()));
            send.deliveries.push_back(
                {DeviceAddress{*to, m.device_id()}, m.type(), send.contents.size() - 1});
        }
    }
    const std::uint64_t rid = req.id();
    committer_->submit(std::move(send), [this, s, rid](Result<store::SendOutcome> outcome) {
        if (!outcome && outcome.error().code == ErrorCode::kLimitExceeded) {
            events_.busy("send");
            respond(s, error(rid, v1::RATE_LIMITED, "server busy; retry with the same message id"));
            return;
        }
        if (!outcome && outcome.error().detail == GroupCommitter::kNotConfirmed) {
            // A batch that failed part way (out of memory, not the store): it may have been
            // committed after all. The housekeeping tick logs it (pushes_lost).
            respond(s, error(rid, v1::INTERNAL, "not confirmed; retry with the same message id"));
            return;
        }
        if (!outcome) {
            store_failed("commit_sends", outcome.error());
            respond(s, error(rid, v1::INTERNAL, "not stored; retry with the same message id"));
            return;
        }
        switch (*outcome) {
            case store::SendOutcome::kStored:
            case store::SendOutcome::kDuplicate:
                respond(s, send_answer(rid, *outcome == store::SendOutcome::kDuplicate));
                break;
            case store::SendOutcome::kQueueFull:
                respond(s, error(rid, v1::QUEUE_FULL, "a recipient's queue is full"));
                break;
            case store::SendOutcome::kUnknownDevice:
                // The device list changed between our check and the commit (or a group names
                // a device that is gone): nothing was stored.
                respond(s, error(rid, v1::STALE_DEVICES, "a recipient device does not exist"));
                break;
        }
    });
    return std::nullopt;
}

std::optional<v1::Frame> Service::on_ack(const SessionPtr& s, const v1::Request& req) {
    if (static_cast<std::size_t>(req.ack().message_ids_size()) > config_.push_window)
        return error(req.id(), v1::TOO_LARGE, "acknowledge at most one push window at a time");
    std::vector<store::MessageId> ids;
    ids.reserve(static_cast<std::size_t>(req.ack().message_ids_size()));
    for (const auto& raw : req.ack().message_ids()) {
        auto id = message_id(raw);
        if (!id) return error(req.id(), v1::BAD_REQUEST, "message ids are 16 bytes");
        ids.push_back(*id);
    }
    // An ack of envelopes whose rows here are all claimed by an earlier ack still being
    // committed: answering it OK now (there is nothing left to delete) would confirm a delete
    // that may yet fail. Refused like a busy server, with nothing claimed, so the client sends
    // it again once that commit is settled.
    if (!s->claiming.empty()) {
        for (const auto& id : ids) {
            if (!s->claiming.contains(id)) continue;
            // How many rows of this id the ack takes, against how many are left to claim (an
            // ack of an id being committed is rare: counted only then).
            const auto n = static_cast<std::size_t>(std::count(ids.begin(), ids.end(), id));
            const auto it = s->in_flight.find(id);
            if (n > (it == s->in_flight.end() ? 0 : it->second.size())) {
                return error(req.id(), v1::RATE_LIMITED,
                             "an earlier ack of these messages is still being stored; send it "
                             "again");
            }
        }
    }
    // Each id acknowledges one row pushed on this connection with that id, the oldest still
    // unacknowledged: a client acks every envelope it got, so two envelopes with one id (from
    // two senders) take two entries. Ids not pushed here (unknown, already acknowledged, or
    // pushed on an earlier connection) delete nothing: those rows are pushed again and acked
    // then. The rows are claimed now, so a concurrent ack cannot claim them twice, and given
    // back if the commit fails.
    using Claimed = std::vector<std::pair<store::MessageId, Session::Pushed>>;
    Claimed claimed;
    for (const auto& id : ids) {
        auto it = s->in_flight.find(id);
        if (it == s->in_flight.end()) continue;
        claimed.emplace_back(id, it->second.front());
        it->second.pop_front();
        if (it->second.empty()) s->in_flight.erase(it);
    }
    std::vector<std::uint64_t> seqs;
    seqs.reserve(claimed.size());
    for (const auto& c : claimed) seqs.push_back(c.second.seq);
    try {
        // Counted until `settle` below, which uncounts them on every outcome.
        for (const auto& c : claimed) ++s->claiming[c.first];
    } catch (const std::exception&) {
        close_quietly(s);  // out of memory: as for a failed submit below
        throw;
    }
    // Through the group committer: one transaction (one fsync) carries the acks of every
    // connection, and this strand is free meanwhile. The answer comes once it is durable.
    const std::uint64_t rid = req.id();
    auto done = [this, s, rid, claimed = std::move(claimed)](Result<void> r) mutable {
        // A lost answer (out of memory) is retried by the client; the window must be settled
        // whatever happens to it.
        try {
            if (r) {
                metrics_.acks.fetch_add(claimed.size(), std::memory_order_relaxed);
                respond(s, wire::make_response(rid, v1::OK));
            } else if (r.error().code == ErrorCode::kLimitExceeded) {
                events_.busy("ack");
                respond(s, error(rid, v1::RATE_LIMITED, "server busy; send the ack again"));
            } else if (r.error().detail == GroupCommitter::kNotConfirmed) {
                respond(s, error(rid, v1::INTERNAL, "ack not confirmed; send it again"));
            } else {
                store_failed("acknowledge_batch", r.error());
                respond(s, error(rid, v1::INTERNAL, "ack not stored; send it again"));
            }
        } catch (const std::exception&) {
            metrics_.frames_rejected.fetch_add(1, std::memory_order_relaxed);
        }
        if (stopped_) return;
        const bool ok = r.ok();
        // On the strand: settle the window with the claimed rows.
        auto settle = [this, s, ok, claimed = std::move(claimed)] {
            for (const auto& c : claimed) {
                auto it = s->claiming.find(c.first);
                if (it != s->claiming.end() && --it->second == 0) s->claiming.erase(it);
            }
            if (ok) {
                for (const auto& c : claimed) {
                    s->in_flight_count -= 1;
                    s->in_flight_bytes -= c.second.bytes;
                }
                drain_or_defer(s);  // the window has room again; reads the store if it holds more
                return;
            }
            try {
                // Not deleted: claimable again by the client's retry, in seq order.
                for (const auto& [id, pushed] : claimed) {
                    auto& rows = s->in_flight[id];
                    auto at = std::find_if(rows.begin(), rows.end(), [&](const Session::Pushed& p) {
                        return p.seq > pushed.seq;
                    });
                    rows.insert(at, pushed);
                }
            } catch (const std::exception&) {
                close_quietly(s);  // rows lost from in_flight would fill the window for good
            }
        };
        try {
            s->conn->post(std::move(settle));
        } catch (const std::exception&) {
            // Out of memory: the window would stay full of rows already answered. Closing
            // resets it; unacknowledged rows are pushed again on the next connection.
            close_quietly(s);
        }
    };
    try {
        committer_->submit_acks(*s->device, std::move(seqs), std::move(done));
    } catch (const std::exception&) {
        // Not queued (out of memory): the claimed rows left in_flight but still fill the
        // window. Closing resets this connection's window; the client acks them again on the
        // next one, where they are pushed again.
        close_quietly(s);
        throw;
    }
    return std::nullopt;
}

v1::Frame Service::on_lookup_username(const SessionPtr&, const v1::Request& req) {
    auto id = store_.account_by_username(req.lookup_username().username());
    if (!id && id.error().code != ErrorCode::kNoSession) {
        store_failed("account_by_username", id.error());
        return error(req.id(), v1::INTERNAL, "try again");
    }
    if (!id) return error(req.id(), v1::NOT_FOUND, "no such username");
    auto f = wire::make_response(req.id(), v1::OK);
    f.mutable_response()->mutable_lookup_username()->set_account_id(to_string_bytes(*id));
    return f;
}

bool Service::window_open(const Session& s) const {
    // Bounded in messages and in bytes, so a backlog of large messages never overruns the
    // connection's send queue.
    return s.in_flight_count < config_.push_window && s.in_flight_bytes < config_.push_window_bytes;
}

void Service::push(const SessionPtr& s, std::uint64_t seq, const store::MessageId& id,
                   const DeviceAddress& sender, std::uint32_t type, ByteView content,
                   std::int64_t server_time_ms) {
    v1::Frame f;
    f.set_version(wire::kProtocolVersion);
    auto* e = f.mutable_push()->mutable_envelope();
    e->set_message_id(id.data(), id.size());
    e->set_sender_account(sender.account.data(), sender.account.size());
    e->set_sender_device(sender.device);
    e->set_type(type);
    e->set_content(content.data(), content.size());
    e->set_server_time_ms(static_cast<std::uint64_t>(server_time_ms));
    respond(s, f);
    s->last_pushed_seq = seq;
    s->in_flight[id].push_back({seq, content.size()});  // ids may repeat
    s->in_flight_count += 1;
    s->in_flight_bytes += content.size();
    metrics_.deliveries.fetch_add(1, std::memory_order_relaxed);
}

void Service::drain(const SessionPtr& s) {
    if (!s->device || s->closed) return;
    // Nothing unpushed in the store and no QueueEmpty owed: new messages come from the
    // committer (push_committed), so there is nothing to read. (Rows another process wrote
    // send no wake here: they are found at the next gap in seqs, DrainRequest or reconnect.)
    if (!s->backlog && s->queue_empty_owed == 0) return;
    s->backlog = true;  // until this drain reaches the end of the queue
    while (window_open(*s)) {
        const std::size_t room = config_.push_window - s->in_flight_count;
        // The window's bytes too: on a network thread, read no more than can be pushed.
        const std::size_t room_bytes = config_.push_window_bytes - s->in_flight_bytes;
        auto batch =
            store_.pending(*s->device, s->last_pushed_seq, room, room_bytes, unix_ms_now());
        if (!batch) {
            // A transient store error. An ack or a wake would try again, but a device with
            // nothing in flight and no new mail gets neither: it would sit with its queue
            // unpushed and its QueueEmpty owed. So the next housekeeping tick retries too.
            store_failed("pending", batch.error());
            retry_later(s);
            return;
        }
        std::size_t pushed = 0;
        std::size_t pushed_bytes = 0;
        for (const auto& m : *batch) {
            if (!window_open(*s)) break;
            push(s, m.seq, m.id, m.sender, m.type, m.content, m.server_time_ms);
            ++pushed;
            pushed_bytes += m.content.size();
        }
        // The end of the queue only when neither budget cut the batch short; otherwise the
        // next drain (when acks open the window) reads on.
        if (pushed == batch->size() && batch->size() < room && pushed_bytes < room_bytes) {
            s->backlog = false;
            for (; s->queue_empty_owed > 0; --s->queue_empty_owed) {
                v1::Frame f;
                f.set_version(wire::kProtocolVersion);
                f.mutable_push()->mutable_queue_empty();
                respond(s, f);
            }
            return;
        }
    }
}

void Service::push_committed(const SessionPtr& s, const std::vector<CommittedDelivery>& stored) {
    if (!s->device || s->closed) return;
    for (const auto& c : stored) {
        if (c.seq <= s->last_pushed_seq) continue;  // a drain read it from the store already
        if (s->backlog || c.seq != s->last_pushed_seq + 1 || !window_open(*s)) {
            // Older rows are unpushed, or there is no room: the store has this one too, and a
            // drain pushes all of them in order (now, or when acks open the window).
            s->backlog = true;
            drain(s);
            return;
        }
        const store::Send& send = *c.send;
        const store::Send::Delivery& d = send.deliveries[c.delivery];
        push(s, c.seq, send.id, send.sender, d.type, send.contents[d.content_index], send.now_ms);
    }
}

void Service::wake(std::vector<CommittedDelivery> stored) {
    if (stopped_) return;
    // Each connected recipient session with its deliveries, in commit order.
    std::vector<std::pair<SessionPtr, std::size_t>> targets;  // session, index into `stored`
    {
        std::lock_guard lock(mutex_);
        for (std::size_t i = 0; i < stored.size(); ++i) {
            auto it = by_device_.find({stored[i].to.account, stored[i].to.device});
            if (it == by_device_.end()) continue;
            for (auto conn_id : it->second) {
                auto s = sessions_.find(conn_id);
                if (s != sessions_.end()) targets.emplace_back(s->second, i);
            }
        }
    }
    std::stable_sort(targets.begin(), targets.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (std::size_t i = 0; i < targets.size();) {
        std::size_t j = i;
        std::vector<CommittedDelivery> mine;
        for (; j < targets.size() && targets[j].first == targets[i].first; ++j)
            mine.push_back(stored[targets[j].second]);
        const SessionPtr& s = targets[i].first;
        try {
            s->conn->post([this, s, mine = std::move(mine)] {
                try {
                    push_committed(s, mine);
                } catch (const std::exception&) {
                    // Still queued in the store: the next wake, ack or housekeeping tick
                    // pushes it.
                    s->backlog = true;
                    retry_later(s);
                    metrics_.frames_rejected.fetch_add(1, std::memory_order_relaxed);
                }
            });
        } catch (const std::exception&) {
            // Out of memory: this connection would not learn of its messages until a later
            // wake; closing makes its device reconnect and drain them. The others go on.
            close_quietly(s);
        }
        i = j;
    }
}

void Service::note_rate_limited(const SessionPtr& s, std::string_view limit) {
    metrics_.rate_limited.fetch_add(1, std::memory_order_relaxed);
    if (s->rate_limited++ == 0) events_.rate_limited(s->conn->id(), limit);
}

void Service::store_failed(std::string_view op, const Error& e) {
    metrics_.store_errors.fetch_add(1, std::memory_order_relaxed);
    events_.store_error(op, e.detail);
}

}  // namespace pp::server

// Client: registration, connecting and authenticating, keeping prekeys topped up, and the
// receive loop (poll/sync) that stores before it acknowledges.
#include <cstdlib>
#include <random>
#include <thread>

#include "client/client_impl.hpp"
#include "client/server_errors.hpp"
#include "crypto/signing.hpp"
#include "crypto/xeddsa.hpp"
#include "wire/auth.hpp"
#include "wire/keys.hpp"

namespace pp::client {

namespace {

// Fault injection for the crash tests: with PAPERPLANE_TEST_EXIT_AFTER_STORE=N the process
// ends abruptly (as under kill -9) once N envelopes are stored and before any is acknowledged.
std::size_t exit_after_store() {
    static const std::size_t n = [] {
        const char* v = std::getenv("PAPERPLANE_TEST_EXIT_AFTER_STORE");
        return v ? static_cast<std::size_t>(std::strtoul(v, nullptr, 10)) : 0;
    }();
    return n;
}

constexpr milliseconds kMinBackoff{500};
constexpr milliseconds kAckLull{20};
constexpr milliseconds kMaxBackoff{60000};

}  // namespace

Result<AccountRecord> Client::register_account(const ServerAddress& server,
                                               const RegisterOptions& options) {
    auto& im = *impl_;
    if (im.account)
        return make_error(ErrorCode::kLimitExceeded, "this profile is registered already");
    PP_TRY(conn, im.open_connection(server, options.timeout));

    v1::Request challenge;
    challenge.mutable_challenge();
    PP_TRY(c, conn->call(challenge, options.timeout));
    if (c.status() != v1::OK) return status_error(c);

    v1::Request req;
    auto* r = req.mutable_register_();
    const auto identity_pub = im.identity.public_key.serialize();
    r->set_identity_key(str(identity_pub));
    r->set_registration_id(im.registration_id);
    PP_TRY(signed_prekeys, im.store->signed_prekeys());
    if (signed_prekeys.empty()) return make_error(ErrorCode::kInternal, "no signed prekey");
    *r->mutable_signed_prekey() = wire::to_wire(signed_prekeys.front());
    PP_TRY(next_prekey, im.store->counter("next_prekey_id", 1));
    for (std::int64_t id = std::max<std::int64_t>(1, next_prekey - kPrekeyBatch); id < next_prekey;
         ++id) {
        PP_TRY(k, im.store->prekey(static_cast<std::uint32_t>(id)));
        if (k) *r->add_prekeys() = wire::to_wire(*k);
    }
    if (!options.username.empty()) r->set_username(options.username);
    if (!options.invite_code.empty()) r->set_invite_code(options.invite_code);
    if (const auto difficulty = c.challenge().pow_difficulty(); difficulty > 0) {
        // The server asks for proof of work: a few seconds of hashing, once per account.
        r->set_pow_challenge(c.challenge().nonce());
        r->set_pow_nonce(str(wire::solve_pow(as_bytes(c.challenge().nonce()), difficulty)));
    }
    PP_TRY(resp, conn->call(req, options.timeout));
    if (resp.status() != v1::OK) return status_error(resp);
    const auto& body = resp.register_();
    AccountRecord account;
    account.server = server;
    if (body.account_id().size() != account.account.size())
        return make_error(ErrorCode::kMalformed, "the server sent a bad account id");
    std::copy(body.account_id().begin(), body.account_id().end(), account.account.begin());
    account.device = body.device_id();
    account.registration_id = im.registration_id;
    account.username = options.username;
    // The key the server signs its endpoint list with, pinned now over the pinned TLS
    // connection: later lists, however they travel, must verify under it.
    if (!body.endpoint_key().empty()) {
        PP_TRY_VOID(crypto::VerifyKey::from_bytes(as_bytes(body.endpoint_key())));
    }
    PP_TRY_VOID(im.store->transaction([&]() -> Result<void> {
        if (!body.endpoint_key().empty())
            PP_TRY_VOID(im.store->set_setting("endpoint_key", as_bytes(body.endpoint_key())));
        return im.store->set_account(account);
    }));
    im.account = account;
    conn->close();
    // Online at once: authenticate on a fresh connection, as every later start does.
    auto online = im.connect_and_authenticate(options.timeout);
    if (!online) im.last_error = std::string(online.error().detail);
    return account;
}

void Client::Impl::drop_connection(std::string why) {
    const bool was_online = conn && authenticated;
    if (conn) conn->close();
    conn.reset();
    authenticated = false;
    // Stored but unacknowledged envelopes come again after reconnecting; the processed-id
    // record turns them into acknowledgements then.
    acks_due.clear();
    last_error = why;
    // Not straight back: a server that drops us at once must not be hammered.
    next_attempt = std::max(next_attempt, std::chrono::steady_clock::now() + kMinBackoff);
    if (was_online) emit(make_event(Event::Kind::kDisconnected, {}, std::move(why)));
}

Result<void> Client::Impl::connect_and_authenticate(milliseconds timeout) {
    if (!account) return make_error(ErrorCode::kNoSession, "not registered");
    PP_TRY(c, open_connection(account->server, timeout));
    v1::Request challenge;
    challenge.mutable_challenge();
    PP_TRY(ch, c->call(challenge, timeout));
    if (ch.status() != v1::OK) return status_error(ch);
    const auto& nonce = ch.challenge().nonce();
    const auto signature =
        crypto::xeddsa_sign(identity.private_key,
                            wire::auth_message(as_bytes(nonce), account->account, account->device));
    v1::Request auth;
    auto* a = auth.mutable_authenticate();
    a->set_account_id(str(account->account));
    a->set_device_id(account->device);
    a->set_nonce(nonce);
    a->set_signature(str(signature));
    const auto auth_sent = std::chrono::steady_clock::now();
    PP_TRY(ar, c->call(auth, timeout));
    if (ar.status() != v1::OK) return status_error(ar);
    server_clock.forget();  // a new connection: perhaps a server that gives no clock
    server_clock.observe(ar.authenticate().server_time_ms(), auth_sent,
                         std::chrono::steady_clock::now());
    conn = std::move(c);
    authenticated = true;
    queue_empty_due = 1;
    ++connections;
    backoff = milliseconds(0);
    last_error.clear();
    emit(make_event(Event::Kind::kConnected, {}, route_in_use));
    auto keys = maintain_prekeys(timeout);
    if (!keys) last_error = std::string(keys.error().detail);  // retried on the next connect
    // Best effort: a server without a list, or one that cannot be verified, leaves the cached
    // list as it is and the connection up.
    if (auto r = refresh_endpoints(timeout, false); !r && keys)
        last_error = std::string(r.error().detail);
    return {};
}

Result<v1::Response> Client::Impl::rpc(const v1::Request& req, milliseconds timeout) {
    for (int attempt = 0;; ++attempt) {
        if (!conn || !authenticated) {
            if (attempt > 0) next_attempt = {};  // the connection just broke: no backoff yet
            PP_TRY_VOID(ensure_online(timeout));
        }
        auto r = conn->call(req, timeout);
        if (r) return r;
        drop_connection(std::string(r.error().detail));
        // A server that does not answer in time is not retried at once.
        if (attempt > 0 || r.error().code == ErrorCode::kLimitExceeded) return r.error();
    }
}

Result<void> Client::Impl::ensure_online(milliseconds timeout) {
    if (conn && authenticated) return {};
    const auto now = std::chrono::steady_clock::now();
    if (now < next_attempt) return make_error(ErrorCode::kLimitExceeded, "waiting to reconnect");
    auto r = connect_and_authenticate(timeout);
    if (r && conn && authenticated) return r;
    if (r) r = make_error(ErrorCode::kNoSession, "connection lost while connecting");
    last_error = std::string(r.error().detail);
    // Exponential backoff with jitter, so a server coming back is not hit by every client at
    // the same instant.
    backoff = std::clamp(backoff * 2, kMinBackoff, kMaxBackoff);
    static thread_local std::minstd_rand jitter{std::random_device{}()};
    const auto spread = std::uniform_int_distribution<long>(0, backoff.count() / 4)(jitter);
    next_attempt = now + backoff + milliseconds(spread);
    return r;
}

Result<void> Client::Impl::maintain_prekeys(milliseconds timeout) {
    v1::Request count;
    count.mutable_prekey_count();
    PP_TRY(cr, conn->call(count, timeout));
    if (cr.status() != v1::OK) return status_error(cr);
    v1::Request upload;
    auto* u = upload.mutable_upload_prekeys();
    bool any = false;
    // "signed_prekey_ms" is when the current signed prekey was PUBLISHED: it moves only once
    // the server has it, so a failed upload is retried with the same key next time.
    PP_TRY(published_ms, store->counter("signed_prekey_ms", 0));
    std::optional<protocol::SignedPreKeyRecord> rotated;
    if (unix_ms_now() - published_ms > kSignedPrekeyRotationMs) {
        PP_TRY(existing, store->signed_prekeys());
        if (!existing.empty() &&
            static_cast<std::int64_t>(existing.front().timestamp_ms) > published_ms) {
            rotated = existing.front();  // made before, never acknowledged by the server
        } else {
            PP_TRY(next_spk, store->counter("next_signed_prekey_id", 1));
            rotated =
                protocol::generate_signed_prekey(identity, static_cast<std::uint32_t>(next_spk),
                                                 static_cast<std::uint64_t>(unix_ms_now()));
            PP_TRY_VOID(store->transaction([&]() -> Result<void> {
                PP_TRY_VOID(store->put_signed_prekey(*rotated));
                return store->set_counter("next_signed_prekey_id", next_spk + 1);
            }));
        }
        *u->mutable_signed_prekey() = wire::to_wire(*rotated);
        any = true;
    }
    PP_TRY(held_locally, store->prekey_count());
    // A server that keeps reporting too few cannot make us pile up keys without end.
    if (cr.prekey_count().count() < kPrekeyLowWater && held_locally < kMaxLocalPrekeys) {
        PP_TRY(next_id, store->counter("next_prekey_id", 1));
        const auto fresh =
            protocol::generate_prekeys(static_cast<std::uint32_t>(next_id), kPrekeyBatch);
        PP_TRY_VOID(store->transaction([&]() -> Result<void> {
            PP_TRY_VOID(store->put_prekeys(fresh));
            return store->set_counter("next_prekey_id", next_id + kPrekeyBatch);
        }));
        for (const auto& k : fresh) *u->add_prekeys() = wire::to_wire(k);
        any = true;
    }
    if (!any) return {};
    PP_TRY(ur, conn->call(upload, timeout));
    if (ur.status() != v1::OK) return status_error(ur);
    if (rotated) {
        // Published: from now on first messages name it. Keep the one before it for first
        // messages still in flight; drop older ones.
        PP_TRY(all, store->signed_prekeys());
        PP_TRY_VOID(store->transaction([&]() -> Result<void> {
            for (std::size_t i = 2; i < all.size(); ++i)
                PP_TRY_VOID(store->remove_signed_prekey(all[i].id));
            return store->set_counter("signed_prekey_ms", unix_ms_now());
        }));
    }
    return {};
}

Result<void> Client::Impl::flush_acks(milliseconds timeout) {
    while (!acks_due.empty() && conn) {
        v1::Request req;
        auto* ack = req.mutable_ack();
        const std::size_t n = std::min(acks_due.size(), kMaxAcksPerRequest);
        for (std::size_t i = 0; i < n; ++i) ack->add_message_ids(acks_due[i]);
        PP_TRY(r, conn->call(req, timeout));
        if (r.status() != v1::OK) return status_error(r);
        acks_due.erase(acks_due.begin(), acks_due.begin() + static_cast<long>(n));
    }
    return {};
}

Result<std::size_t> Client::Impl::receive(milliseconds timeout, bool until_queue_empty) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::size_t stored = 0;
    auto fail = [&](const Error& e) -> Error {
        drop_connection(std::string(e.detail));
        return e;
    };
    while (conn) {
        if (until_queue_empty && queue_empty_due == 0) break;
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) break;
        // While acknowledgements are due, wait only briefly: a lull is the moment to send them
        // (the server pushes a bounded window and waits for them).
        auto wait = std::chrono::duration_cast<milliseconds>(deadline - now);
        if (!acks_due.empty()) wait = std::min(wait, kAckLull);
        auto push = conn->next_push(wait);
        if (!push) return fail(push.error());
        if (!*push) {
            if (auto r = flush_acks(timeout); !r) return fail(r.error());
            continue;
        }
        if ((*push)->has_queue_empty()) {
            if (queue_empty_due > 0) --queue_empty_due;
            continue;
        }
        if (!(*push)->has_envelope()) continue;
        auto fresh = handle_envelope((*push)->envelope());
        // Not stored (the database refused): not acknowledged either; it comes again.
        if (!fresh) return fail(fresh.error());
        if (*fresh) {
            ++stored;
            if (exit_after_store() != 0 && stored >= exit_after_store()) std::_Exit(137);
        }
        if (acks_due.size() >= kMaxAcksPerRequest) {
            if (auto r = flush_acks(timeout); !r) return fail(r.error());
        }
    }
    if (conn) {
        if (auto r = flush_acks(timeout); !r) return fail(r.error());
    }
    return stored;
}

Result<std::size_t> Client::poll(milliseconds timeout) {
    auto& im = *impl_;
    if (!im.account)
        return make_error(ErrorCode::kNoSession, "not registered yet: run `paperplane register`");
    const auto started = std::chrono::steady_clock::now();
    if (!im.ensure_online(timeout)) {
        // Offline is a state, not an error: wait out the timeout (or the backoff) and report.
        const auto wait = std::min<std::chrono::steady_clock::duration>(
            timeout, std::max(im.next_attempt - std::chrono::steady_clock::now(),
                              std::chrono::steady_clock::duration::zero()));
        std::this_thread::sleep_for(wait);
        return std::size_t{0};
    }
    auto flushed = im.flush_outbox(timeout);
    if (!flushed) return std::size_t{0};
    const auto spent = std::chrono::steady_clock::now() - started;
    const auto left =
        std::max(std::chrono::duration_cast<milliseconds>(timeout - spent), milliseconds(1));
    auto got = im.receive(left, false);
    if (!got) return std::size_t{0};
    // Receipts and replies queued while receiving go out now rather than a poll later.
    (void)im.flush_outbox(timeout);
    return *got;
}

Result<std::size_t> Client::sync(milliseconds timeout) {
    auto& im = *impl_;
    if (!im.account)
        return make_error(ErrorCode::kNoSession, "not registered yet: run `paperplane register`");
    if (!im.conn || !im.authenticated) {
        im.next_attempt = {};
        PP_TRY_VOID(im.ensure_online(timeout));
    } else {
        // Ask for a fresh QueueEmpty so "everything queued until now" has a definite end.
        v1::Request drain;
        drain.mutable_drain();
        const auto generation = im.connections;
        ++im.queue_empty_due;
        auto r = im.rpc(drain, timeout);
        if (!r || r->status() != v1::OK) {
            if (im.queue_empty_due > 0) --im.queue_empty_due;
            return r ? status_error(*r) : r.error();
        }
        // Reconnected on the way: the new connection owes one QueueEmpty for authenticating
        // and one for this drain.
        if (im.connections != generation) im.queue_empty_due = 2;
    }
    PP_TRY_VOID(im.flush_outbox(timeout));
    PP_TRY(got, im.receive(timeout, true));
    PP_TRY_VOID(im.flush_outbox(timeout));
    return got;
}

Result<void> Client::connect(milliseconds timeout) {
    if (!impl_->account)
        return make_error(ErrorCode::kNoSession, "not registered yet: run `paperplane register`");
    impl_->next_attempt = {};
    return impl_->ensure_online(timeout);
}

void Client::disconnect() {
    impl_->drop_connection("disconnected");
}

}  // namespace pp::client

#include "tests/support/server_client.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>

#include "crypto/random.hpp"
#include "crypto/xeddsa.hpp"

namespace pp::test {

namespace {

// Frames from the server: pushes may carry up to a whole client frame of content, so the
// client accepts more than the server does.
constexpr std::size_t kMaxServerFrame = 4 << 20;

template <std::size_t N>
std::string str(const std::array<std::uint8_t, N>& a) {
    return std::string(a.begin(), a.end());
}

}  // namespace

// ---- keys ------------------------------------------------------------------------------

DeviceKeys DeviceKeys::generate(std::uint32_t prekeys, std::uint32_t first_prekey_id,
                                std::uint32_t signed_prekey_id) {
    DeviceKeys d;
    d.identity_ = crypto::KeyPair::generate();
    d.registration_id_ = protocol::generate_registration_id();
    d.signed_.push_back(protocol::generate_signed_prekey(d.identity_, signed_prekey_id, 0));
    if (prekeys > 0) d.add_prekeys(first_prekey_id, prekeys);
    return d;
}

const protocol::SignedPreKeyRecord* DeviceKeys::signed_prekey(std::uint32_t id) const {
    for (const auto& s : signed_)
        if (s.id == id) return &s;
    return nullptr;
}

const protocol::PreKeyRecord* DeviceKeys::prekey(std::uint32_t id) const {
    auto it = prekeys_.find(id);
    return it == prekeys_.end() ? nullptr : &it->second;
}

protocol::SignedPreKeyRecord DeviceKeys::rotate_signed_prekey(std::uint32_t id) {
    signed_.push_back(protocol::generate_signed_prekey(identity_, id, 0));
    return signed_.back();
}

std::vector<protocol::PreKeyRecord> DeviceKeys::add_prekeys(std::uint32_t first_id,
                                                            std::uint32_t count) {
    auto made = protocol::generate_prekeys(first_id, count);
    for (const auto& k : made) prekeys_[k.id] = k;
    return made;
}

void DeviceKeys::remove_prekey(std::uint32_t id) {
    auto it = prekeys_.find(id);
    if (it == prekeys_.end()) return;
    ByteView v = it->second.key_pair.private_key.secret().view();
    retired_.emplace_back(v.begin(), v.end());
    prekeys_.erase(it);
}

std::vector<Bytes> DeviceKeys::private_keys() const {
    std::vector<Bytes> out;
    auto add = [&](const crypto::PrivateKey& k) {
        ByteView v = k.secret().view();
        out.emplace_back(v.begin(), v.end());
    };
    add(identity_.private_key);
    for (const auto& s : signed_) add(s.key_pair.private_key);
    for (const auto& [id, k] : prekeys_) add(k.key_pair.private_key);
    out.insert(out.end(), retired_.begin(), retired_.end());
    return out;
}

// ---- helpers ---------------------------------------------------------------------------

std::string public_bytes(const crypto::PublicKey& k) {
    return str(k.serialize());
}

std::string random_id() {
    std::array<std::uint8_t, 16> id{};
    crypto::random_bytes(id);
    return str(id);
}

std::string sign_auth(const protocol::IdentityKeyPair& identity, const std::string& nonce,
                      const std::string& account_id, std::uint32_t device_id) {
    Bytes m;
    append(m, as_bytes("paperplane-auth-v1"));
    append(m, as_bytes(nonce));
    append(m, as_bytes(account_id));
    for (int shift = 24; shift >= 0; shift -= 8)
        m.push_back(static_cast<std::uint8_t>(device_id >> shift));
    return str(crypto::xeddsa_sign(identity.private_key, m));
}

bool pow_ok(const std::string& challenge, const std::string& nonce, unsigned difficulty) {
    crypto_hash_sha256_state st;
    std::array<std::uint8_t, 32> digest{};
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(challenge.data()),
                              challenge.size());
    crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(nonce.data()),
                              nonce.size());
    crypto_hash_sha256_final(&st, digest.data());
    for (unsigned bit = 0; bit < difficulty && bit < 256; ++bit)
        if ((digest[bit / 8] & (0x80 >> (bit % 8))) != 0) return false;
    return true;
}

std::string solve_pow(const std::string& challenge, unsigned difficulty) {
    std::array<std::uint8_t, 8> nonce{};
    for (std::uint64_t counter = 0;; ++counter) {
        for (std::size_t i = 0; i < nonce.size(); ++i)
            nonce[i] = static_cast<std::uint8_t>(counter >> (8 * i));
        if (pow_ok(challenge, str(nonce), difficulty)) return str(nonce);
    }
}

// ---- client ----------------------------------------------------------------------------

Result<ServerClient> ServerClient::connect(const std::string& host, std::uint16_t port,
                                           const std::string& pin, milliseconds timeout) {
    net::WsClientOptions options;
    options.connect_timeout = timeout;
    options.max_frame_bytes = kMaxServerFrame;
    PP_TRY(ws, net::WsClient::connect(host, port, pin, options));
    return ServerClient(std::move(ws));
}

Result<void> ServerClient::read_one(milliseconds timeout) {
    PP_TRY(bytes, ws_.receive(timeout));
    auto frame = wire::decode_frame(bytes, kMaxServerFrame);
    if (!frame) return frame.error();
    if (frame->has_push()) {
        pushes_.push_back(std::move(*frame->mutable_push()));
    } else if (frame->has_response()) {
        const std::uint64_t id = frame->response().id();
        responses_[id].push_back(std::move(*frame->mutable_response()));
    } else {
        return make_error(ErrorCode::kMalformed, "server sent a request");
    }
    return {};
}

Result<std::uint64_t> ServerClient::submit(v1::Request req) {
    if (req.id() == 0) req.set_id(next_id_);
    next_id_ = std::max(next_id_, req.id() + 1);
    v1::Frame f;
    f.set_version(wire::kProtocolVersion);
    *f.mutable_request() = std::move(req);
    PP_TRY_VOID(ws_.send(wire::encode_frame(f)));
    return f.request().id();
}

Result<v1::Response> ServerClient::await(std::uint64_t id, milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto it = responses_.find(id);
        if (it != responses_.end() && !it->second.empty()) {
            v1::Response r = std::move(it->second.front());
            it->second.pop_front();
            if (it->second.empty()) responses_.erase(it);
            return r;
        }
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) return make_error(ErrorCode::kLimitExceeded, "timed out");
        PP_TRY_VOID(
            read_one(std::chrono::duration_cast<milliseconds>(deadline - now) + milliseconds(1)));
    }
}

Result<v1::Response> ServerClient::request(v1::Request req, milliseconds timeout) {
    PP_TRY(id, submit(std::move(req)));
    return await(id, timeout);
}

Result<v1::Push> ServerClient::next_push(milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pushes_.empty()) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) return make_error(ErrorCode::kLimitExceeded, "timed out");
        PP_TRY_VOID(
            read_one(std::chrono::duration_cast<milliseconds>(deadline - now) + milliseconds(1)));
    }
    v1::Push p = std::move(pushes_.front());
    pushes_.pop_front();
    return p;
}

Result<void> ServerClient::pump(milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) return {};
        auto r =
            read_one(std::chrono::duration_cast<milliseconds>(deadline - now) + milliseconds(1));
        if (!r && r.error().code == ErrorCode::kLimitExceeded) return {};
        if (!r) return r;
    }
}

Result<Registration> ServerClient::register_account(const RegisterOptions& options) {
    Registration reg;
    reg.keys = DeviceKeys::generate(options.prekeys);
    PP_TRY(r, register_with(reg.keys, options));
    reg.response = std::move(r);
    if (reg.ok()) reg.account_id = reg.response.register_().account_id();
    return reg;
}

Result<v1::Response> ServerClient::register_with(const DeviceKeys& keys,
                                                 const RegisterOptions& options) {
    v1::Request req;
    auto* r = req.mutable_register_();
    r->set_identity_key(public_bytes(keys.identity().public_key));
    r->set_registration_id(keys.registration_id());
    *r->mutable_signed_prekey() = to_wire(keys.current_signed_prekey());
    for (const auto& [id, k] : keys.prekeys()) *r->add_prekeys() = to_wire(k);
    if (!options.username.empty()) r->set_username(options.username);
    if (!options.invite_code.empty()) r->set_invite_code(options.invite_code);
    if (options.solve_pow) {
        PP_TRY(c, challenge());
        if (c.status() != v1::OK) return c;
        r->set_pow_challenge(c.challenge().nonce());
        r->set_pow_nonce(solve_pow(c.challenge().nonce(), c.challenge().pow_difficulty()));
    }
    return request(std::move(req));
}

Result<v1::Response> ServerClient::challenge() {
    v1::Request req;
    req.mutable_challenge();
    return request(std::move(req));
}

Result<v1::Response> ServerClient::authenticate(const std::string& account_id,
                                                const protocol::IdentityKeyPair& identity,
                                                std::uint32_t device_id) {
    PP_TRY(c, challenge());
    if (c.status() != v1::OK) return c;
    const std::string& nonce = c.challenge().nonce();
    return authenticate_raw(account_id, device_id, nonce,
                            sign_auth(identity, nonce, account_id, device_id));
}

Result<v1::Response> ServerClient::authenticate_raw(const std::string& account_id,
                                                    std::uint32_t device_id,
                                                    const std::string& nonce,
                                                    const std::string& signature) {
    v1::Request req;
    auto* a = req.mutable_authenticate();
    a->set_account_id(account_id);
    a->set_device_id(device_id);
    a->set_nonce(nonce);
    a->set_signature(signature);
    return request(std::move(req));
}

Result<v1::Response> ServerClient::upload_prekeys(
    const std::optional<protocol::SignedPreKeyRecord>& spk,
    const std::vector<protocol::PreKeyRecord>& prekeys) {
    v1::Request req;
    auto* u = req.mutable_upload_prekeys();
    if (spk) *u->mutable_signed_prekey() = to_wire(*spk);
    for (const auto& k : prekeys) *u->add_prekeys() = to_wire(k);
    return request(std::move(req));
}

Result<v1::Response> ServerClient::prekey_count() {
    v1::Request req;
    req.mutable_prekey_count();
    return request(std::move(req));
}

Result<v1::Response> ServerClient::fetch_bundles(const std::string& account_id) {
    v1::Request req;
    req.mutable_fetch_bundles()->set_account_id(account_id);
    return request(std::move(req));
}

v1::Request ServerClient::make_send(const std::string& message_id, const std::string& recipient,
                                    const std::vector<DeviceMessage>& messages) {
    v1::Request req;
    auto* s = req.mutable_send();
    s->set_message_id(message_id);
    s->set_recipient(recipient);
    for (const auto& m : messages) {
        auto* dm = s->add_messages();
        dm->set_device_id(m.device_id);
        dm->set_type(m.type);
        dm->set_content(m.content);
    }
    return req;
}

v1::Request ServerClient::make_group_send(
    const std::string& message_id, std::uint32_t type, const std::string& shared_content,
    const std::vector<std::pair<std::string, std::uint32_t>>& recipients) {
    v1::Request req;
    auto* s = req.mutable_send();
    s->set_message_id(message_id);
    auto* g = s->mutable_group();
    g->set_type(type);
    g->set_shared_content(shared_content);
    for (const auto& [account, device] : recipients) {
        auto* r = g->add_recipients();
        r->set_account_id(account);
        r->set_device_id(device);
    }
    return req;
}

Result<v1::Response> ServerClient::send(const std::string& message_id, const std::string& recipient,
                                        const std::vector<DeviceMessage>& messages,
                                        milliseconds timeout) {
    return request(make_send(message_id, recipient, messages), timeout);
}

Result<v1::Response> ServerClient::send_group(
    const std::string& message_id, std::uint32_t type, const std::string& shared_content,
    const std::vector<std::pair<std::string, std::uint32_t>>& recipients, milliseconds timeout) {
    return request(make_group_send(message_id, type, shared_content, recipients), timeout);
}

Result<v1::Response> ServerClient::ack(const std::vector<std::string>& message_ids,
                                       milliseconds timeout) {
    v1::Request req;
    for (const auto& id : message_ids) req.mutable_ack()->add_message_ids(id);
    if (message_ids.empty()) req.mutable_ack();
    return request(std::move(req), timeout);
}

Result<v1::Response> ServerClient::drain() {
    v1::Request req;
    req.mutable_drain();
    return request(std::move(req));
}

}  // namespace pp::test

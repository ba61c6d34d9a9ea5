#pragma once
// A synchronous client of paperplane-server for integration tests and benchmarks, on top of
// net::WsClient. Requests carry ids; responses are matched to them, and pushes (envelopes,
// QueueEmpty) that arrive while a response is awaited are queued separately for next_push().
// Every call takes a timeout: nothing here waits unboundedly. One client per thread.
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "net/ws_client.hpp"
#include "protocol/prekeys.hpp"
#include "protocol/session_cipher.hpp"
#include "wire/frame_codec.hpp"
#include "wire/keys.hpp"

namespace pp::test {

namespace v1 = wire::v1;
using std::chrono::milliseconds;

inline constexpr milliseconds kDefaultTimeout{10000};

// A device's key material as a real client keeps it: the private halves never leave this
// process; register_account() publishes the public halves. Answers LocalPreKeys so it can be
// the responder of a Signal session.
class DeviceKeys : public protocol::LocalPreKeys {
  public:
    // A fresh identity key, signed prekey `signed_prekey_id` and `prekeys` one-time prekeys
    // with ids first_prekey_id, first_prekey_id + 1, ...
    static DeviceKeys generate(std::uint32_t prekeys, std::uint32_t first_prekey_id = 1,
                               std::uint32_t signed_prekey_id = 1);

    const protocol::IdentityKeyPair& identity() const override { return identity_; }
    std::uint32_t registration_id() const override { return registration_id_; }
    const protocol::SignedPreKeyRecord* signed_prekey(std::uint32_t id) const override;
    const protocol::PreKeyRecord* prekey(std::uint32_t id) const override;

    const protocol::SignedPreKeyRecord& current_signed_prekey() const { return signed_.back(); }
    const std::map<std::uint32_t, protocol::PreKeyRecord>& prekeys() const { return prekeys_; }
    // Every signed prekey ever made (rotation keeps the old ones for late first messages).
    const std::vector<protocol::SignedPreKeyRecord>& signed_prekeys() const { return signed_; }

    // Makes and keeps new keys, returning copies to upload.
    protocol::SignedPreKeyRecord rotate_signed_prekey(std::uint32_t id);
    std::vector<protocol::PreKeyRecord> add_prekeys(std::uint32_t first_id, std::uint32_t count);
    // A consumed one-time prekey: gone from the store, but still listed by private_keys().
    void remove_prekey(std::uint32_t id);

    // Every private key this device ever held (identity, signed prekeys, one-time prekeys,
    // including consumed ones), as raw 32-byte scalars.
    std::vector<Bytes> private_keys() const;

  private:
    protocol::IdentityKeyPair identity_;
    std::uint32_t registration_id_ = 0;
    std::vector<protocol::SignedPreKeyRecord> signed_;
    std::map<std::uint32_t, protocol::PreKeyRecord> prekeys_;
    std::vector<Bytes> retired_;  // private keys of removed one-time prekeys
};

struct RegisterOptions {
    std::string username;
    std::string invite_code;
    bool solve_pow = false;  // ChallengeRequest first, then solve its difficulty
    std::uint32_t prekeys = 10;

    static RegisterOptions with_invite(std::string code) {
        RegisterOptions o;
        o.invite_code = std::move(code);
        return o;
    }
    static RegisterOptions with_pow() {
        RegisterOptions o;
        o.solve_pow = true;
        return o;
    }
};

struct Registration {
    v1::Response response;   // status OK or why not
    std::string account_id;  // 16 bytes when OK
    DeviceKeys keys;
    bool ok() const { return response.status() == v1::OK; }
};

// The 33-byte wire form of a public key, as protobuf bytes.
std::string public_bytes(const crypto::PublicKey& k);
// 16 random bytes: message ids. The server takes any 16 bytes; the client library puts its
// clock first (wire/message_id.hpp), which these tests need not.
std::string random_id();
// The signature AuthenticateRequest carries.
std::string sign_auth(const protocol::IdentityKeyPair& identity, const std::string& nonce,
                      const std::string& account_id, std::uint32_t device_id);
// A pow_nonce such that SHA-256(challenge || nonce) has `difficulty` leading zero bits.
std::string solve_pow(const std::string& challenge, unsigned difficulty);
bool pow_ok(const std::string& challenge, const std::string& nonce, unsigned difficulty);
// Keys in wire form and back (the server's Bundle for process_prekey_bundle): wire/keys.hpp.
using wire::to_protocol_bundle;
using wire::to_wire;

class ServerClient {
  public:
    // Errors as net::WsClient::connect (kUntrustedIdentity for a wrong pin).
    static Result<ServerClient> connect(const std::string& host, std::uint16_t port,
                                        const std::string& pin,
                                        milliseconds timeout = kDefaultTimeout);

    // ---- raw request/response ---------------------------------------------------------
    // Sends a request (an id is assigned when req.id() is 0) and returns its id without
    // waiting: for pipelining.
    Result<std::uint64_t> submit(v1::Request req);
    // The response with this id; frames read meanwhile are kept for later calls.
    Result<v1::Response> await(std::uint64_t id, milliseconds timeout = kDefaultTimeout);
    Result<v1::Response> request(v1::Request req, milliseconds timeout = kDefaultTimeout);
    // A response with id 0: the server's answer to a frame it could not parse.
    Result<v1::Response> await_unsolicited(milliseconds timeout = kDefaultTimeout) {
        return await(0, timeout);
    }
    // The next push. kLimitExceeded on timeout (the connection stays usable).
    Result<v1::Push> next_push(milliseconds timeout = kDefaultTimeout);
    // Reads whatever arrives within `timeout` into the queues; kNoSession if the server
    // closed the connection. For "nothing more arrives" checks.
    Result<void> pump(milliseconds timeout);
    std::size_t queued_pushes() const { return pushes_.size(); }

    // ---- flows -----------------------------------------------------------------------
    // Generates keys and registers; Registration::response says how it went.
    Result<Registration> register_account(const RegisterOptions& options = {});
    Result<v1::Response> register_with(const DeviceKeys& keys, const RegisterOptions& options);
    Result<v1::Response> challenge();
    // Challenge, sign, authenticate. On OK the server starts pushing the backlog.
    Result<v1::Response> authenticate(const std::string& account_id,
                                      const protocol::IdentityKeyPair& identity,
                                      std::uint32_t device_id = 1);
    Result<v1::Response> authenticate_raw(const std::string& account_id, std::uint32_t device_id,
                                          const std::string& nonce, const std::string& signature);
    Result<v1::Response> upload_prekeys(const std::optional<protocol::SignedPreKeyRecord>& spk,
                                        const std::vector<protocol::PreKeyRecord>& prekeys);
    Result<v1::Response> prekey_count();
    Result<v1::Response> fetch_bundles(const std::string& account_id);

    struct DeviceMessage {
        std::uint32_t device_id = 1;
        std::uint32_t type = 0;
        std::string content;
    };
    static v1::Request make_send(const std::string& message_id, const std::string& recipient,
                                 const std::vector<DeviceMessage>& messages);
    static v1::Request make_group_send(
        const std::string& message_id, std::uint32_t type, const std::string& shared_content,
        const std::vector<std::pair<std::string, std::uint32_t>>& recipients);
    Result<v1::Response> send(const std::string& message_id, const std::string& recipient,
                              const std::vector<DeviceMessage>& messages,
                              milliseconds timeout = kDefaultTimeout);
    Result<v1::Response> send_group(
        const std::string& message_id, std::uint32_t type, const std::string& shared_content,
        const std::vector<std::pair<std::string, std::uint32_t>>& recipients,
        milliseconds timeout = kDefaultTimeout);
    Result<v1::Response> ack(const std::vector<std::string>& message_ids,
                             milliseconds timeout = kDefaultTimeout);
    Result<v1::Response> drain();

    // ---- below the protocol, for hostile-input tests ----------------------------------
    Result<void> send_bytes(ByteView frame) { return ws_.send(frame); }
    Result<void> send_text(std::string_view text) { return ws_.send_text(text); }
    net::WsClient& ws() { return ws_; }
    void close() { ws_.close(); }

  private:
    explicit ServerClient(net::WsClient ws) : ws_(std::move(ws)) {}
    Result<void> read_one(milliseconds timeout);

    net::WsClient ws_;
    std::uint64_t next_id_ = 1;
    std::map<std::uint64_t, std::deque<v1::Response>> responses_;
    std::deque<v1::Push> pushes_;
};

}  // namespace pp::test

#pragma once
// The relay mode's handshake inside TLS (docs/protocol.md, "Relay handshake"): the client's
// first TLS record is an authenticator that only holders of the relay link's secret can make;
// the relay answers with a two-byte status. Pure: no I/O, no clock (the caller hands in `now`).
//
// Authenticator layout (version 2):
//   version (1) | unix seconds (8, big endian) | nonce (16) | target length (1) |
//   target "host:port" (0..255) | padding length (1) | padding (0..255) | HMAC-SHA256 (32)
// keyed with HKDF-SHA256(link secret, salt empty, info kAuthInfo), over the TLS session's
// exporter value (not sent) followed by every byte before the MAC. The exporter binds the
// authenticator to one TLS session, so a recorded one is worthless in any other; the random
// padding makes the first record's length vary.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/bytes.hpp"
#include "base/result.hpp"

namespace pp::wire::relay {

constexpr std::uint8_t kAuthVersion = 2;
constexpr std::size_t kSecretSize = 32;
constexpr std::size_t kNonceSize = 16;
constexpr std::size_t kMacSize = 32;
constexpr std::size_t kMaxTargetSize = 255;
constexpr std::size_t kMaxPaddingSize = 255;
constexpr std::size_t kHeaderSize = 1 + 8 + kNonceSize + 1;
constexpr std::size_t kMinAuthSize = kHeaderSize + 1 + kMacSize;
constexpr std::size_t kMaxAuthSize = kMinAuthSize + kMaxTargetSize + kMaxPaddingSize;
constexpr std::string_view kAuthInfo = "paperplane relay authenticator v1";

// Both ends take this from their TLS session with SSL_export_keying_material (RFC 8446 7.5 /
// RFC 5705): kBindingSize bytes, label kExporterLabel, no context.
constexpr std::string_view kExporterLabel = "EXPORTER-paperplane-relay-v1";
constexpr std::size_t kBindingSize = 32;
using SessionBinding = std::array<std::uint8_t, kBindingSize>;

// The 32 random bytes a relay link carries.
using LinkSecret = SecretArray<kSecretSize>;
using Nonce = std::array<std::uint8_t, kNonceSize>;
using AuthMac = std::array<std::uint8_t, kMacSize>;

// The HMAC key derived from the link secret; derive once per relay, not per connection.
class AuthKey {
  public:
    explicit AuthKey(const LinkSecret& secret);
    ByteView view() const { return key_.view(); }

  private:
    SecretArray<32> key_;
};

// The client's side. `padding` (at most kMaxPaddingSize bytes, random in practice) is carried
// and MACed but means nothing. Fails only on an empty or oversize target or oversize padding.
Result<Bytes> encode_authenticator(const AuthKey& key, const SessionBinding& binding,
                                   std::uint64_t unix_seconds, const Nonce& nonce,
                                   std::string_view target, ByteView padding = {});

struct Authenticator {
    std::uint64_t unix_seconds = 0;
    Nonce nonce{};
    std::string target;
    Bytes padding;  // as sent, so the record can be re-encoded (fuzzing)
    AuthMac mac{};  // what the replay cache remembers
};

// The relay's side: `record` must be exactly one authenticator, made for this `binding`. The
// MAC is computed over the record whatever its shape (a record that does not parse is MACed as
// far as it goes), so valid and invalid input cost the same work. Errors: kMalformed,
// kInvalidVersion, kBadMac, and kLimitExceeded when |now - unix_seconds| > window_seconds.
Result<Authenticator> verify_authenticator(const AuthKey& key, const SessionBinding& binding,
                                           ByteView record, std::uint64_t now_unix_seconds,
                                           std::uint64_t window_seconds);

// The relay's reply after a valid authenticator: version (1) | status (1).
enum class Status : std::uint8_t {
    kOk = 0,
    kNotAllowed = 1,   // target not in the relay's allow list
    kUnreachable = 2,  // the relay could not connect to the target
    kInternal = 3,
    kBusy = 4,  // the relay cannot take more clients now (its replay cache is full)
};
constexpr std::size_t kReplySize = 2;
std::array<std::uint8_t, kReplySize> encode_reply(Status status);
Result<Status> parse_reply(ByteView reply);

}  // namespace pp::wire::relay

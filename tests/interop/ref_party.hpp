// Test-only wrapper around Debian's libsignal-protocol-c 2.3.3, the independent reference peer
// ("the reference") for interop tests and benchmarks.
//
// The API speaks only plain bytes: no libsignal type and no type of our own implementation
// appears here, so tests never include libsignal headers (whose include dir stays private to
// pp_signal_ref). All public keys are 33-byte serialized (0x05 || X25519 u-coordinate).
//
// Functions returning int return kSuccess (0) or libsignal's negative error code unchanged.
// Failures that libsignal cannot report as a code (key generation, allocation) throw
// std::runtime_error. Not thread-safe: one RefParty per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pp::ref {

using Bytes = std::vector<uint8_t>;

// libsignal-protocol-c error codes (SG_SUCCESS / SG_ERR_*), same values.
inline constexpr int kSuccess = 0;
inline constexpr int kErrNoMem = -12;
inline constexpr int kErrInval = -22;
inline constexpr int kErrUnknown = -1000;
inline constexpr int kErrDuplicateMessage = -1001;
inline constexpr int kErrInvalidKey = -1002;
inline constexpr int kErrInvalidKeyId = -1003;
inline constexpr int kErrInvalidMac = -1004;
inline constexpr int kErrInvalidMessage = -1005;
inline constexpr int kErrInvalidVersion = -1006;
inline constexpr int kErrLegacyMessage = -1007;
inline constexpr int kErrNoSession = -1008;
inline constexpr int kErrStaleKeyExchange = -1009;
inline constexpr int kErrUntrustedIdentity = -1010;
inline constexpr int kErrVrfSigVerifFailed = -1011;
inline constexpr int kErrInvalidProtoBuf = -1100;
inline constexpr int kErrFpVersionMismatch = -1200;
inline constexpr int kErrFpIdentMismatch = -1201;

// "SG_ERR_DUPLICATE_MESSAGE" etc., or "SG_ERR_<n>" for unknown codes; for test diagnostics.
std::string error_name(int code);

// Ciphertext message types (CIPHERTEXT_*_TYPE).
inline constexpr int kCiphertextSignal = 2;
inline constexpr int kCiphertextPreKey = 3;
inline constexpr int kCiphertextSenderKey = 4;
inline constexpr int kCiphertextSenderKeyDistribution = 5;

// Every address (peer sessions, identities, sender keys) uses this device id.
inline constexpr int32_t kDeviceId = 1;

struct Bundle {
    uint32_t registration_id = 0;
    uint32_t device_id = kDeviceId;
    std::optional<uint32_t> prekey_id;  // one-time prekey, if any
    Bytes prekey_public;                // 33 bytes, empty without one-time prekey
    uint32_t signed_prekey_id = 0;
    Bytes signed_prekey_public;     // 33 bytes
    Bytes signed_prekey_signature;  // 64 bytes, XEdDSA over signed_prekey_public (33 bytes)
    Bytes identity_key;             // 33 bytes
};

struct Ciphertext {
    int type = 0;  // kCiphertextPreKey or kCiphertextSignal
    Bytes bytes;   // serialized message, including version byte and MAC
};

class RefParty {
  public:
    // Generates an identity key pair and, unless given, a random registration id (1..16380).
    explicit RefParty(std::string name, std::optional<uint32_t> registration_id = std::nullopt);
    ~RefParty();
    RefParty(const RefParty&) = delete;
    RefParty& operator=(const RefParty&) = delete;

    const std::string& name() const;
    Bytes identity_public() const;  // 33 bytes
    uint32_t registration_id() const;

    // Generates and stores a signed prekey (and a one-time prekey if asked) and returns the
    // public bundle. Ids default to per-party counters starting at 1. Storing under an existing
    // id replaces the old key.
    Bundle make_bundle(bool with_one_time_prekey, std::optional<uint32_t> prekey_id = std::nullopt,
                       std::optional<uint32_t> signed_prekey_id = std::nullopt);

    // session_builder_process_pre_key_bundle for (peer, kDeviceId). Verifies the signed prekey
    // signature (kErrInvalidKey if bad), checks trust (kErrUntrustedIdentity) and saves the peer
    // identity. Malformed keys give curve_decode_point's code (kErrInvalidKey).
    int process_bundle(const std::string& peer, const Bundle& bundle);

    // The first messages after process_bundle are kCiphertextPreKey until the peer answers.
    // kErrNoSession if there is no session with peer.
    int encrypt(const std::string& peer, const Bytes& plaintext, Ciphertext& out);

    // Deserializes according to in.type (deserialization errors are returned as-is) and
    // decrypts. A type other than kCiphertextPreKey/kCiphertextSignal gives kErrInval.
    int decrypt(const std::string& peer, const Ciphertext& in, Bytes& plaintext_out);

    // Identity store: trust on first use. An unknown peer identity is trusted; once one is saved
    // a different one is untrusted. Saved by trust_identity (overwrites), process_bundle, and by
    // a PreKey message once its prekeys are found -- before its MAC is checked, so even a
    // PreKey message that then fails with kErrInvalidMessage pins the sender's identity.
    void trust_identity(const std::string& peer, const Bytes& identity33);
    void forget_identity(const std::string& peer);
    std::optional<Bytes> saved_identity(const std::string& peer) const;

    bool has_session(const std::string& peer) const;
    void delete_session(const std::string& peer);
    bool has_prekey(uint32_t id) const;
    bool has_signed_prekey(uint32_t id) const;
    void remove_signed_prekey(uint32_t id);

    // Sender keys; addresses are (group, sender name, kDeviceId).
    // Creates our own sender key for group on first call; returns the serialized
    // SenderKeyDistributionMessage (current chain state).
    int create_sender_key_distribution(const std::string& group, Bytes& skdm_out);
    int process_sender_key_distribution(const std::string& group, const std::string& sender,
                                        const Bytes& skdm);
    int group_encrypt(const std::string& group, const Bytes& plaintext, Bytes& out);
    int group_decrypt(const std::string& group, const std::string& sender, const Bytes& ciphertext,
                      Bytes& out);

    // XEdDSA (libsignal-protocol-c variant) with the identity key.
    Bytes sign_with_identity(const Bytes& message);
    static bool verify_signature(const Bytes& public33, const Bytes& message,
                                 const Bytes& signature64);

    // Fingerprints (fingerprint_generator_create_for). Throw std::runtime_error with the
    // libsignal code on failure (e.g. malformed key, scannable_version not 0/1).
    static std::string displayable_fingerprint(int iterations, const std::string& local_id,
                                               const Bytes& local_key33,
                                               const std::string& remote_id,
                                               const Bytes& remote_key33);
    // Serialized CombinedFingerprints protobuf.
    static Bytes scannable_fingerprint(int iterations, int scannable_version,
                                       const std::string& local_id, const Bytes& local_key33,
                                       const std::string& remote_id, const Bytes& remote_key33);
    // scannable_fingerprint_compare on two serialized scannables: 1 match, 0 mismatch,
    // kErrFpVersionMismatch, kErrFpIdentMismatch, or a deserialization error.
    static int compare_scannable_fingerprints(const Bytes& local_serialized,
                                              const Bytes& scanned_serialized);

    // Last libsignal log line of level warning or error (for test diagnostics).
    std::string last_log() const;

    struct Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace pp::ref

#pragma once
// Safety numbers: the numeric and scannable fingerprints two users compare to check that they
// see each other's identity keys, compatible with libsignal-protocol-c 2.3.3.
//
//   per-party hash   H0 = 0x00 0x00 || identity key (33) || stable identifier
//                    H(i+1) = SHA-512(H(i) || identity key), `iterations` times
//   displayable      the first 30 bytes of each hash as six 5-byte big-endian numbers mod 100000,
//                    i.e. 30 digits per party; both halves sorted as text so both sides show the
//                    same 60 digits
//   scannable        protobuf CombinedFingerprints { version, local, remote LogicalFingerprint }
//                    version 0: content = the 33-byte identity key, plus the stable identifier
//                    version 1: content = the first 32 bytes of the hash, no identifier
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.hpp"
#include "base/result.hpp"
#include "crypto/keys.hpp"

namespace pp::protocol {

// The version hashed into the per-party fingerprint (the reference's FINGERPRINT_VERSION).
inline constexpr std::uint16_t kFingerprintHashVersion = 0;
// What Signal clients use; fewer iterations make a different (incompatible) number.
inline constexpr std::uint32_t kDefaultFingerprintIterations = 5200;
// Bytes of each party's hash turned into digits, 5 at a time, 5 digits each.
inline constexpr std::size_t kFingerprintDisplayBytes = 30;
inline constexpr std::size_t kFingerprintDigitsPerParty = 30;
inline constexpr std::size_t kFingerprintDigits = 2 * kFingerprintDigitsPerParty;
inline constexpr std::size_t kFingerprintDigitGroup = 5;
// Version 1 scannable content: the hash cut to this length.
inline constexpr std::size_t kScannableV1ContentLength = 32;
// Scanned codes are untrusted input; real ones are a few hundred bytes at most.
inline constexpr std::size_t kMaxScannableFingerprintSize = 4096;

enum class ScannableVersion : std::uint32_t { kV0 = 0, kV1 = 1 };

// One party's iterated hash (64 bytes). Identifiers must not contain NUL: the reference treats
// them as C strings. kMalformed for such an identifier, kLimitExceeded for 0 iterations.
Result<std::array<std::uint8_t, 64>> fingerprint_hash(std::uint32_t iterations,
                                                      std::string_view stable_identifier,
                                                      const crypto::PublicKey& identity_key);

struct DisplayableFingerprint {
    std::string local;   // 30 digits
    std::string remote;  // 30 digits

    // The 60 digits both sides show: the two halves in text order.
    std::string text() const;
};

// Splits digits into blocks of five separated by `separator` ("12345 67890 ..."), for people.
std::string group_digits(std::string_view digits, char separator = ' ');

enum class FingerprintMatch {
    kMatch,               // the scanned code shows the same two keys
    kMismatch,            // it shows a different key for one of us
    kDifferentVersion,    // it was made by a client using another scannable version
    kIdentifierMismatch,  // version 0 only: it was made for a different pair of users
};

class ScannableFingerprint {
  public:
    std::uint32_t version() const { return version_; }
    const std::optional<std::string>& local_identifier() const { return local_identifier_; }
    const std::optional<std::string>& remote_identifier() const { return remote_identifier_; }
    const Bytes& local_content() const { return local_content_; }
    const Bytes& remote_content() const { return remote_content_; }

    // The protobuf the QR code carries (byte-identical to the reference's).
    Bytes serialize() const;
    // Accepts any version number so that compare() can report kDifferentVersion; both logical
    // fingerprints with content are required, and for versions 0 and 1 their exact form.
    static Result<ScannableFingerprint> deserialize(ByteView bytes);

    // `scanned` is the other side's code: its local part must be our remote part and vice versa.
    FingerprintMatch compare(const ScannableFingerprint& scanned) const;

  private:
    friend class FingerprintGenerator;
    std::uint32_t version_ = 0;
    std::optional<std::string> local_identifier_;
    Bytes local_content_;
    std::optional<std::string> remote_identifier_;
    Bytes remote_content_;
};

struct Fingerprint {
    DisplayableFingerprint displayable;
    ScannableFingerprint scannable;
};

class FingerprintGenerator {
  public:
    explicit FingerprintGenerator(std::uint32_t iterations = kDefaultFingerprintIterations,
                                  ScannableVersion scannable_version = ScannableVersion::kV1)
        : iterations_(iterations), scannable_version_(scannable_version) {}

    Result<Fingerprint> create(std::string_view local_identifier,
                               const crypto::PublicKey& local_key,
                               std::string_view remote_identifier,
                               const crypto::PublicKey& remote_key) const;

  private:
    std::uint32_t iterations_;
    ScannableVersion scannable_version_;
};

}  // namespace pp::protocol

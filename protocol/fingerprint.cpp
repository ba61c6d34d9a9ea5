#include "protocol/fingerprint.hpp"

#include <algorithm>

#include "crypto/kdf.hpp"
#include "protocol/proto_codec.hpp"

namespace pp::protocol {
namespace {

// CombinedFingerprints and LogicalFingerprint field numbers (FingerprintProtocol.proto).
constexpr std::uint32_t kCombinedVersion = 1;
constexpr std::uint32_t kCombinedLocal = 2;
constexpr std::uint32_t kCombinedRemote = 3;
constexpr std::uint32_t kLogicalContent = 1;
constexpr std::uint32_t kLogicalIdentifier = 2;

constexpr std::uint32_t kDigitModulus = 100000;  // 10^kFingerprintDigitGroup

using proto::malformed;

bool has_nul(std::string_view s) {
    return s.find('\0') != std::string_view::npos;
}

std::string display_digits(const std::array<std::uint8_t, 64>& hash) {
    std::string out;
    out.reserve(kFingerprintDigitsPerParty);
    for (std::size_t i = 0; i < kFingerprintDisplayBytes; i += 5) {
        std::uint64_t chunk = 0;
        for (std::size_t j = 0; j < 5; ++j) chunk = (chunk << 8) | hash[i + j];
        auto value = static_cast<std::uint32_t>(chunk % kDigitModulus);
        char digits[kFingerprintDigitGroup];
        for (std::size_t j = kFingerprintDigitGroup; j-- > 0;) {
            digits[j] = static_cast<char>('0' + value % 10);
            value /= 10;
        }
        out.append(digits, kFingerprintDigitGroup);
    }
    return out;
}

void write_logical(proto::Writer& out, std::uint32_t field, const Bytes& content,
                   const std::optional<std::string>& identifier) {
    proto::Writer w;
    w.bytes_field(kLogicalContent, content);
    if (identifier) w.bytes_field(kLogicalIdentifier, as_bytes(*identifier));
    out.bytes_field(field, w.bytes());
}

struct Logical {
    std::optional<Bytes> content;
    std::optional<std::string> identifier;
};

// Unknown fields are skipped and a repeated field replaces the earlier one, as protobuf-c does:
// a code made by another client must not fail on an extension we do not know.
Result<Logical> parse_logical(ByteView in) {
    Logical l;
    proto::Reader r(in);
    while (!r.done()) {
        PP_TRY(f, r.next());
        if (f.number == kLogicalContent) {
            PP_TRY(b, proto::as_bytes(f));
            l.content = Bytes(b.begin(), b.end());
        } else if (f.number == kLogicalIdentifier) {
            PP_TRY(b, proto::as_bytes(f));
            std::string id(b.begin(), b.end());
            if (has_nul(id)) return malformed("fingerprint identifier contains NUL");
            l.identifier = std::move(id);
        }
    }
    return l;
}

}  // namespace

Result<std::array<std::uint8_t, 64>> fingerprint_hash(std::uint32_t iterations,
                                                      std::string_view stable_identifier,
                                                      const crypto::PublicKey& identity_key) {
    if (iterations == 0)
        return make_error(ErrorCode::kLimitExceeded, "fingerprint needs iterations");
    if (has_nul(stable_identifier)) return malformed("stable identifier contains NUL");
    const std::uint8_t version[2] = {static_cast<std::uint8_t>(kFingerprintHashVersion >> 8),
                                     static_cast<std::uint8_t>(kFingerprintHashVersion & 0xff)};
    const auto key = identity_key.serialize();
    auto hash = crypto::sha512({ByteView(version, 2), key, as_bytes(stable_identifier), key});
    for (std::uint32_t i = 1; i < iterations; ++i) hash = crypto::sha512({hash, key});
    return hash;
}

std::string DisplayableFingerprint::text() const {
    return local <= remote ? local + remote : remote + local;
}

std::string group_digits(std::string_view digits, char separator) {
    std::string out;
    out.reserve(digits.size() + digits.size() / kFingerprintDigitGroup);
    for (std::size_t i = 0; i < digits.size(); i += kFingerprintDigitGroup) {
        if (i > 0) out.push_back(separator);
        out.append(digits.substr(i, kFingerprintDigitGroup));
    }
    return out;
}

Bytes ScannableFingerprint::serialize() const {
    proto::Writer w;
    w.varint_field(kCombinedVersion, version_);
    // The reference writes identifiers only for version 0, whatever the object holds.
    const bool ids = version_ == 0;
    write_logical(w, kCombinedLocal, local_content_, ids ? local_identifier_ : std::nullopt);
    write_logical(w, kCombinedRemote, remote_content_, ids ? remote_identifier_ : std::nullopt);
    return w.take();
}

Result<ScannableFingerprint> ScannableFingerprint::deserialize(ByteView bytes) {
    if (bytes.size() > kMaxScannableFingerprintSize)
        return make_error(ErrorCode::kLimitExceeded, "scannable fingerprint too large");
    std::uint32_t version = 0;
    std::optional<Logical> local, remote;
    proto::Reader r(bytes);
    while (!r.done()) {
        PP_TRY(f, r.next());
        if (f.number == kCombinedVersion) {
            PP_TRY(v, proto::as_uint32(f));
            version = v;
        } else if (f.number == kCombinedLocal || f.number == kCombinedRemote) {
            PP_TRY(b, proto::as_bytes(f));
            PP_TRY(l, parse_logical(b));
            (f.number == kCombinedLocal ? local : remote) = std::move(l);
        }
    }
    if (!local || !remote || !local->content || !remote->content)
        return malformed("scannable fingerprint lacks a fingerprint");
    if (version == 0) {
        if (!local->identifier || !remote->identifier)
            return malformed("version 0 scannable fingerprint lacks an identifier");
        if (local->content->size() != crypto::kSerializedPublicKeySize ||
            remote->content->size() != crypto::kSerializedPublicKeySize)
            return malformed("version 0 content is not an identity key");
    } else if (version == 1) {
        if (local->content->size() != kScannableV1ContentLength ||
            remote->content->size() != kScannableV1ContentLength)
            return malformed("version 1 content has the wrong length");
    }
    ScannableFingerprint s;
    s.version_ = version;
    s.local_content_ = std::move(*local->content);
    s.remote_content_ = std::move(*remote->content);
    // Identifiers mean something only in version 0; the reference drops them otherwise.
    if (version == 0) {
        s.local_identifier_ = std::move(local->identifier);
        s.remote_identifier_ = std::move(remote->identifier);
    }
    return s;
}

FingerprintMatch ScannableFingerprint::compare(const ScannableFingerprint& scanned) const {
    if (scanned.version_ != version_) return FingerprintMatch::kDifferentVersion;
    if (version_ == 0 && (local_identifier_ != scanned.remote_identifier_ ||
                          remote_identifier_ != scanned.local_identifier_))
        return FingerprintMatch::kIdentifierMismatch;
    // Public keys and their hashes: no need for a constant-time comparison.
    bool same =
        local_content_ == scanned.remote_content_ && remote_content_ == scanned.local_content_;
    return same ? FingerprintMatch::kMatch : FingerprintMatch::kMismatch;
}

Result<Fingerprint> FingerprintGenerator::create(std::string_view local_identifier,
                                                 const crypto::PublicKey& local_key,
                                                 std::string_view remote_identifier,
                                                 const crypto::PublicKey& remote_key) const {
    if (scannable_version_ != ScannableVersion::kV0 && scannable_version_ != ScannableVersion::kV1)
        return make_error(ErrorCode::kInvalidVersion, "unknown scannable fingerprint version");
    PP_TRY(local_hash, fingerprint_hash(iterations_, local_identifier, local_key));
    PP_TRY(remote_hash, fingerprint_hash(iterations_, remote_identifier, remote_key));

    Fingerprint fp;
    fp.displayable.local = display_digits(local_hash);
    fp.displayable.remote = display_digits(remote_hash);

    ScannableFingerprint& s = fp.scannable;
    s.version_ = static_cast<std::uint32_t>(scannable_version_);
    if (scannable_version_ == ScannableVersion::kV0) {
        // Version 0 carries the keys themselves; the iterations do not enter it.
        auto lk = local_key.serialize();
        auto rk = remote_key.serialize();
        s.local_content_.assign(lk.begin(), lk.end());
        s.remote_content_.assign(rk.begin(), rk.end());
        s.local_identifier_ = std::string(local_identifier);
        s.remote_identifier_ = std::string(remote_identifier);
    } else {
        s.local_content_.assign(local_hash.begin(), local_hash.begin() + kScannableV1ContentLength);
        s.remote_content_.assign(remote_hash.begin(),
                                 remote_hash.begin() + kScannableV1ContentLength);
    }
    return fp;
}

}  // namespace pp::protocol

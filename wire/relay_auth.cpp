#include "wire/relay_auth.hpp"

#include <algorithm>

#include "crypto/compare.hpp"
#include "crypto/kdf.hpp"

namespace pp::wire::relay {

AuthKey::AuthKey(const LinkSecret& secret) {
    const SecretBytes okm = crypto::hkdf_sha256(secret.view(), {}, as_bytes(kAuthInfo), 32);
    key_ = SecretArray<32>(okm.view());
}

Result<Bytes> encode_authenticator(const AuthKey& key, const SessionBinding& binding,
                                   std::uint64_t unix_seconds, const Nonce& nonce,
                                   std::string_view target, ByteView padding) {
    if (target.empty() || target.size() > kMaxTargetSize) {
        return make_error(ErrorCode::kMalformed, "relay target empty or too long");
    }
    if (padding.size() > kMaxPaddingSize) {
        return make_error(ErrorCode::kMalformed, "relay authenticator padding too long");
    }
    Bytes out;
    out.reserve(kMinAuthSize + target.size() + padding.size());
    out.push_back(kAuthVersion);
    for (int shift = 56; shift >= 0; shift -= 8) {
        out.push_back(static_cast<std::uint8_t>(unix_seconds >> shift));
    }
    out.insert(out.end(), nonce.begin(), nonce.end());
    out.push_back(static_cast<std::uint8_t>(target.size()));
    append(out, as_bytes(target));
    out.push_back(static_cast<std::uint8_t>(padding.size()));
    append(out, padding);
    const auto mac = crypto::hmac_sha256(key.view(), {ByteView(binding), ByteView(out)});
    append(out, mac.view());
    return out;
}

Result<Authenticator> verify_authenticator(const AuthKey& key, const SessionBinding& binding,
                                           ByteView record, std::uint64_t now_unix_seconds,
                                           std::uint64_t window_seconds) {
    // Shape first, but the MAC is computed before any verdict so that every record of up to
    // kMaxAuthSize bytes costs one HMAC, whatever is wrong with it.
    const bool has_header = record.size() >= kMinAuthSize;
    const std::size_t target_len = has_header ? record[kHeaderSize - 1] : 0;
    const std::size_t pad_at = kHeaderSize + target_len;  // where the padding length sits
    const bool has_pad_len = has_header && record.size() >= pad_at + 1 + kMacSize;
    const std::size_t pad_len = has_pad_len ? record[pad_at] : 0;
    const bool well_formed = has_pad_len && record.size() == pad_at + 1 + pad_len + kMacSize;
    const std::size_t signed_len =
        well_formed ? record.size() - kMacSize : std::min(record.size(), kMaxAuthSize - kMacSize);
    const auto expected =
        crypto::hmac_sha256(key.view(), {ByteView(binding), record.first(signed_len)});
    if (!well_formed) return make_error(ErrorCode::kMalformed, "not a relay authenticator");
    if (!crypto::constant_time_equal(expected.view(), record.subspan(signed_len))) {
        return make_error(ErrorCode::kBadMac, "relay authenticator MAC mismatch");
    }
    // Checked after the MAC: only a holder of the secret learns which version we speak.
    if (record[0] != kAuthVersion) {
        return make_error(ErrorCode::kInvalidVersion, "relay authenticator version");
    }
    Authenticator a;
    for (std::size_t i = 0; i < 8; ++i) a.unix_seconds = (a.unix_seconds << 8) | record[1 + i];
    const std::uint64_t skew = a.unix_seconds > now_unix_seconds
                                   ? a.unix_seconds - now_unix_seconds
                                   : now_unix_seconds - a.unix_seconds;
    if (skew > window_seconds) {
        return make_error(ErrorCode::kLimitExceeded, "relay authenticator outside clock window");
    }
    std::copy_n(record.begin() + 9, kNonceSize, a.nonce.begin());
    const auto target = record.subspan(kHeaderSize, target_len);
    if (target.empty()) return make_error(ErrorCode::kMalformed, "relay target empty");
    a.target.assign(target.begin(), target.end());
    const auto padding = record.subspan(pad_at + 1, pad_len);
    a.padding.assign(padding.begin(), padding.end());
    std::copy_n(record.begin() + static_cast<std::ptrdiff_t>(signed_len), kMacSize, a.mac.begin());
    return a;
}

std::array<std::uint8_t, kReplySize> encode_reply(Status status) {
    return {kAuthVersion, static_cast<std::uint8_t>(status)};
}

Result<Status> parse_reply(ByteView reply) {
    if (reply.size() != kReplySize) return make_error(ErrorCode::kMalformed, "relay reply size");
    if (reply[0] != kAuthVersion) {
        return make_error(ErrorCode::kInvalidVersion, "relay reply version");
    }
    if (reply[1] > static_cast<std::uint8_t>(Status::kBusy)) {
        return make_error(ErrorCode::kMalformed, "relay reply status");
    }
    return static_cast<Status>(reply[1]);
}

}  // namespace pp::wire::relay

#include "base/result.hpp"

namespace pp {

std::string_view to_string(ErrorCode code) {
    switch (code) {
        case ErrorCode::kMalformed:
            return "malformed";
        case ErrorCode::kInvalidVersion:
            return "invalid version";
        case ErrorCode::kInvalidKey:
            return "invalid key";
        case ErrorCode::kInvalidSignature:
            return "invalid signature";
        case ErrorCode::kBadMac:
            return "bad MAC";
        case ErrorCode::kUntrustedIdentity:
            return "untrusted identity";
        case ErrorCode::kDuplicateMessage:
            return "duplicate message";
        case ErrorCode::kTooFarInFuture:
            return "too far in the future";
        case ErrorCode::kNoSession:
            return "no session";
        case ErrorCode::kInvalidPreKeyId:
            return "invalid prekey id";
        case ErrorCode::kLimitExceeded:
            return "limit exceeded";
        case ErrorCode::kInternal:
            return "internal error";
    }
    return "unknown error";
}

}  // namespace pp

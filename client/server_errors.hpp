#pragma once
// Server statuses as errors a person can act on. Error details are static strings, so the
// server's own free-text detail is not passed through.
#include "base/result.hpp"
#include "wire/frame_codec.hpp"

namespace pp::client {

inline Error status_error(const wire::v1::Response& r) {
    namespace v1 = wire::v1;
    switch (r.status()) {
        case v1::OK:
            return make_error(ErrorCode::kInternal, "unexpected OK");
        case v1::BAD_REQUEST:
            return make_error(ErrorCode::kMalformed, "the server refused the request as malformed");
        case v1::UNAUTHENTICATED:
            return make_error(ErrorCode::kNoSession, "not signed in to the server");
        case v1::FORBIDDEN:
            return make_error(ErrorCode::kInvalidSignature,
                              "the server refused: an invite code (--invite) may be required, "
                              "or the account's key did not match");
        case v1::NOT_FOUND:
            return make_error(ErrorCode::kNoSession, "no such account on the server");
        case v1::CONFLICT:
            return make_error(ErrorCode::kLimitExceeded, "that username is taken");
        case v1::STALE_DEVICES:
            return make_error(ErrorCode::kNoSession, "the recipient's devices changed");
        case v1::RATE_LIMITED:
            return make_error(ErrorCode::kLimitExceeded, "the server asks to slow down; try later");
        case v1::TOO_LARGE:
            return make_error(ErrorCode::kLimitExceeded, "too large for the server");
        case v1::QUEUE_FULL:
            return make_error(ErrorCode::kLimitExceeded,
                              "the recipient's queue is full; they need to come online");
        case v1::INTERNAL:
            return make_error(ErrorCode::kInternal, "the server had an internal error; try again");
        case v1::UNSUPPORTED_VERSION:
            return make_error(ErrorCode::kInvalidVersion,
                              "the server speaks another protocol version");
        default:
            return make_error(ErrorCode::kInternal, "the server answered with an unknown status");
    }
}

}  // namespace pp::client

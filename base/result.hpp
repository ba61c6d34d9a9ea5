#pragma once
// Errors as values. `Result<T>` holds either a T or an `Error`; it is the return type of every
// fallible function at a protocol boundary, so no exception ever has to cross one.
#include <cstdint>
#include <string_view>
#include <utility>
#include <variant>

namespace pp {

enum class ErrorCode : std::uint8_t {
    kMalformed,          // bytes that do not parse
    kInvalidVersion,     // version byte we do not speak
    kInvalidKey,         // a key of the wrong type or size, or a degenerate DH result
    kInvalidSignature,   // a signature that does not verify
    kBadMac,             // message authentication failed
    kUntrustedIdentity,  // remote identity differs from the one we trust
    kDuplicateMessage,   // a message key already used (replay or retransmission)
    kTooFarInFuture,     // more skipped messages than we are willing to keep keys for
    kNoSession,          // no session (or sender-key state) to decrypt with
    kInvalidPreKeyId,    // a prekey the message names is not in our store
    kLimitExceeded,      // some other bound was hit
    kInternal,           // a primitive failed where it never should
};

std::string_view to_string(ErrorCode code);

struct Error {
    ErrorCode code;
    std::string_view detail;  // a static string: errors never carry message bytes or keys
};

template <typename T>
class [[nodiscard]] Result {
  public:
    Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
    Result(Error e) : v_(e) {}                 // NOLINT
    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const Error& error() const { return std::get<1>(v_); }

  private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
  public:
    Result() = default;
    Result(Error e) : err_(e), ok_(false) {}  // NOLINT
    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const Error& error() const { return err_; }

  private:
    Error err_{ErrorCode::kInternal, ""};
    bool ok_ = true;
};

inline Error make_error(ErrorCode code, std::string_view detail) {
    return Error{code, detail};
}

}  // namespace pp

// Propagate an error from a Result-returning expression. `PP_TRY(x, expr)` declares x on success.
#define PP_CONCAT_INNER(a, b) a##b
#define PP_CONCAT(a, b) PP_CONCAT_INNER(a, b)
#define PP_TRY(var, expr)                                                           \
    auto PP_CONCAT(pp_try_, __LINE__) = (expr);                                     \
    if (!PP_CONCAT(pp_try_, __LINE__)) return PP_CONCAT(pp_try_, __LINE__).error(); \
    auto var = std::move(PP_CONCAT(pp_try_, __LINE__)).value()
// The variable is named after the line so that a PP_TRY_VOID inside a lambda inside another
// PP_TRY_VOID's expression does not shadow it.
#define PP_TRY_VOID(expr)                                                                   \
    do {                                                                                    \
        auto PP_CONCAT(pp_try_v_, __LINE__) = (expr);                                       \
        if (!PP_CONCAT(pp_try_v_, __LINE__)) return PP_CONCAT(pp_try_v_, __LINE__).error(); \
    } while (0)

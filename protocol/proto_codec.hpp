#pragma once
// A strict, allocation-light codec for the small proto2 messages of the Signal wire format.
// It reads only varint (wire type 0) and length-delimited (wire type 2) fields that the caller
// asks for, skips unknown fields of the four defined wire types, and rejects anything truncated
// or overlong, so hostile bytes end in `kMalformed` rather than undefined behaviour.
#include <cstdint>
#include <optional>

#include <sodium.h>

#include "base/bytes.hpp"
#include "base/result.hpp"
#include "crypto/keys.hpp"

namespace pp::protocol::proto {

// Wipes its buffer when destroyed, since serialized session state contains keys; call
// `reserve` with a good estimate so growth does not leave copies behind in freed memory.
class Writer {
  public:
    Writer() = default;
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;
    ~Writer() {
        if (!out_.empty()) sodium_memzero(out_.data(), out_.size());
    }
    void reserve(std::size_t n) { out_.reserve(n); }
    void varint_field(std::uint32_t field, std::uint64_t value);
    void bytes_field(std::uint32_t field, ByteView value);
    Bytes& bytes() { return out_; }
    const Bytes& bytes() const { return out_; }
    Bytes take() { return std::move(out_); }

  private:
    void varint(std::uint64_t v);
    Bytes out_;
};

// One decoded field. For varints `value` is set; for length-delimited fields `data` is.
struct Field {
    std::uint32_t number = 0;
    std::uint8_t wire_type = 0;
    std::uint64_t value = 0;
    ByteView data;
};

class Reader {
  public:
    explicit Reader(ByteView in) : in_(in) {}
    bool done() const { return pos_ >= in_.size(); }
    // Reads the next field; fixed32/fixed64 fields are returned with wire_type 5/1 and skipped.
    Result<Field> next();

  private:
    Result<std::uint64_t> varint();
    ByteView in_;
    std::size_t pos_ = 0;
};

// Convenience checks shared by every message and record parser.
Result<std::uint32_t> as_uint32(const Field& f);
Result<ByteView> as_bytes(const Field& f);
// A length-delimited field of exactly `size` bytes.
Result<ByteView> exact_bytes(const Field& f, std::size_t size);
// A 33-byte serialized Curve25519 public key (0x05 type byte).
Result<crypto::PublicKey> public_key(const Field& f);
Error malformed(std::string_view detail);

// The persisted record formats: a format version byte, then the writer's fields.
SecretBytes with_format_byte(std::uint8_t format, const Writer& w);

}  // namespace pp::protocol::proto

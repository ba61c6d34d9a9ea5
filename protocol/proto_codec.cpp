#include "protocol/proto_codec.hpp"

#include <algorithm>

namespace pp::protocol::proto {

void Writer::varint(std::uint64_t v) {
    while (v >= 0x80) {
        out_.push_back(static_cast<std::uint8_t>(v | 0x80));
        v >>= 7;
    }
    out_.push_back(static_cast<std::uint8_t>(v));
}

void Writer::varint_field(std::uint32_t field, std::uint64_t value) {
    varint(static_cast<std::uint64_t>(field) << 3);
    varint(value);
}

void Writer::bytes_field(std::uint32_t field, ByteView value) {
    varint((static_cast<std::uint64_t>(field) << 3) | 2);
    varint(value.size());
    append(out_, value);
}

Result<std::uint64_t> Reader::varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (pos_ >= in_.size()) return make_error(ErrorCode::kMalformed, "truncated varint");
        std::uint8_t b = in_[pos_++];
        if (shift == 63 && (b & 0x7e)) return make_error(ErrorCode::kMalformed, "varint overflow");
        v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
    return make_error(ErrorCode::kMalformed, "varint too long");
}

Result<Field> Reader::next() {
    PP_TRY(key, varint());
    Field f;
    if ((key >> 3) == 0 || (key >> 3) > 0x1fffffff)
        return make_error(ErrorCode::kMalformed, "bad field number");
    f.number = static_cast<std::uint32_t>(key >> 3);
    f.wire_type = static_cast<std::uint8_t>(key & 7);
    switch (f.wire_type) {
        case 0: {
            PP_TRY(v, varint());
            f.value = v;
            return f;
        }
        case 1:
        case 5: {
            std::size_t n = f.wire_type == 1 ? 8 : 4;
            if (in_.size() - pos_ < n)
                return make_error(ErrorCode::kMalformed, "truncated fixed field");
            pos_ += n;
            return f;
        }
        case 2: {
            PP_TRY(len, varint());
            if (len > in_.size() - pos_)
                return make_error(ErrorCode::kMalformed, "truncated bytes field");
            f.data = in_.subspan(pos_, static_cast<std::size_t>(len));
            pos_ += static_cast<std::size_t>(len);
            return f;
        }
        default:
            return make_error(ErrorCode::kMalformed, "unsupported wire type");
    }
}

Result<std::uint32_t> as_uint32(const Field& f) {
    if (f.wire_type != 0) return make_error(ErrorCode::kMalformed, "expected a varint field");
    if (f.value > 0xffffffffu)
        return make_error(ErrorCode::kMalformed, "uint32 field out of range");
    return static_cast<std::uint32_t>(f.value);
}

Result<ByteView> as_bytes(const Field& f) {
    if (f.wire_type != 2) return make_error(ErrorCode::kMalformed, "expected a bytes field");
    return f.data;
}

Result<ByteView> exact_bytes(const Field& f, std::size_t size) {
    PP_TRY(b, as_bytes(f));
    if (b.size() != size) return malformed("field has the wrong size");
    return b;
}

Result<crypto::PublicKey> public_key(const Field& f) {
    PP_TRY(b, as_bytes(f));
    auto k = crypto::PublicKey::deserialize(b);
    if (!k) return malformed("bad public key");
    return k.value();
}

Error malformed(std::string_view detail) {
    return make_error(ErrorCode::kMalformed, detail);
}

SecretBytes with_format_byte(std::uint8_t format, const Writer& w) {
    SecretBytes out(1 + w.bytes().size());
    out.data()[0] = format;
    std::copy(w.bytes().begin(), w.bytes().end(), out.data() + 1);
    return out;
}

}  // namespace pp::protocol::proto

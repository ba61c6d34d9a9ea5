#pragma once
// The plaintext layout of sealed rows: a version byte, then fixed-width integers and
// length-prefixed byte strings. Private to the profile store. The buffers hold names, text and
// keys, so they are wiped when done.
#include <sodium.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "base/bytes.hpp"

namespace pp::client::profile {

class Writer {
  public:
    explicit Writer(std::uint8_t version) { buf_.push_back(version); }
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;
    ~Writer() {
        if (!buf_.empty()) sodium_memzero(buf_.data(), buf_.size());
    }

    Writer& u8(std::uint8_t v) {
        buf_.push_back(v);
        return *this;
    }
    Writer& u32(std::uint32_t v) {
        for (int i = 0; i < 4; ++i) buf_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
        return *this;
    }
    Writer& bytes(ByteView v) {
        u32(static_cast<std::uint32_t>(v.size()));
        // Reserve first so growing never leaves an unwiped copy of the earlier fields behind.
        grow(v.size());
        buf_.insert(buf_.end(), v.begin(), v.end());
        return *this;
    }
    Writer& str(std::string_view v) { return bytes(as_bytes(v)); }
    ByteView view() const { return buf_; }

  private:
    void grow(std::size_t extra) {
        if (buf_.size() + extra <= buf_.capacity()) return;
        Bytes bigger;
        bigger.reserve(2 * (buf_.size() + extra));
        bigger.insert(bigger.end(), buf_.begin(), buf_.end());
        sodium_memzero(buf_.data(), buf_.size());
        buf_ = std::move(bigger);
    }
    Bytes buf_;
};

// Strict: any short read marks the reader failed; done() also demands that nothing is left.
class Reader {
  public:
    Reader(ByteView in, std::uint8_t version) : in_(in) { ok_ = !in.empty() && in[0] == version; }

    std::uint8_t u8() {
        if (!need(1)) return 0;
        return in_[pos_++];
    }
    std::uint32_t u32() {
        if (!need(4)) return 0;
        std::uint32_t v = 0;
        for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(in_[pos_++]) << (8 * i);
        return v;
    }
    Bytes bytes() {
        auto n = u32();
        if (!need(n)) return {};
        Bytes out(in_.begin() + static_cast<std::ptrdiff_t>(pos_),
                  in_.begin() + static_cast<std::ptrdiff_t>(pos_ + n));
        pos_ += n;
        return out;
    }
    std::string str() {
        auto n = u32();
        if (!need(n)) return {};
        std::string out(reinterpret_cast<const char*>(in_.data() + pos_), n);
        pos_ += n;
        return out;
    }
    bool ok() const { return ok_; }
    bool done() const { return ok_ && pos_ == in_.size(); }

  private:
    bool need(std::size_t n) {
        if (!ok_ || in_.size() - pos_ < n) ok_ = false;
        return ok_;
    }
    ByteView in_;
    std::size_t pos_ = 1;
    bool ok_ = false;
};

}  // namespace pp::client::profile

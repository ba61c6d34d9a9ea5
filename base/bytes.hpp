#pragma once
// Byte buffers. `Bytes` is for public data; `SecretBytes`/`SecretArray` wipe themselves with
// sodium_memzero when destroyed so key material does not linger in freed memory.
#include <sodium.h>

#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace pp {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline ByteView as_bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

inline void append(Bytes& out, ByteView in) {
    out.insert(out.end(), in.begin(), in.end());
}

// Fixed-size secret, zeroed on destruction. Built from exactly N bytes.
template <std::size_t N>
class SecretArray {
  public:
    SecretArray() { data_.fill(0); }
    explicit SecretArray(ByteView v) {
        assert(v.size() ==
               N);  // a silent pad or cut would put one key on the wire, another in state
        data_.fill(0);
        for (std::size_t i = 0; i < N && i < v.size(); ++i) data_[i] = v[i];
    }
    SecretArray(const SecretArray&) = default;
    SecretArray& operator=(const SecretArray&) = default;
    ~SecretArray() { sodium_memzero(data_.data(), N); }

    std::uint8_t* data() { return data_.data(); }
    const std::uint8_t* data() const { return data_.data(); }
    static constexpr std::size_t size() { return N; }
    ByteView view() const { return {data_.data(), N}; }
    std::span<std::uint8_t, N> span() { return std::span<std::uint8_t, N>(data_); }
    std::uint8_t& operator[](std::size_t i) { return data_[i]; }
    const std::uint8_t& operator[](std::size_t i) const { return data_[i]; }

  private:
    std::array<std::uint8_t, N> data_;
};

// Variable-size secret buffer, zeroed on destruction.
class SecretBytes {
  public:
    SecretBytes() = default;
    explicit SecretBytes(std::size_t n) : data_(n, 0) {}
    explicit SecretBytes(ByteView v) : data_(v.begin(), v.end()) {}
    SecretBytes(const SecretBytes&) = default;
    SecretBytes& operator=(const SecretBytes& o) {
        if (this != &o) {
            wipe();
            data_ = o.data_;
        }
        return *this;
    }
    SecretBytes(SecretBytes&& o) noexcept : data_(std::move(o.data_)) { o.data_.clear(); }
    SecretBytes& operator=(SecretBytes&& o) noexcept {
        if (this != &o) {
            wipe();
            data_ = std::move(o.data_);
            o.data_.clear();
        }
        return *this;
    }
    ~SecretBytes() { wipe(); }

    std::uint8_t* data() { return data_.data(); }
    const std::uint8_t* data() const { return data_.data(); }
    std::size_t size() const { return data_.size(); }
    bool empty() const { return data_.empty(); }
    ByteView view() const { return {data_.data(), data_.size()}; }
    void append(ByteView v) {
        // Grow into a fresh buffer so the old allocation is wiped rather than left behind.
        Bytes bigger;
        bigger.reserve(data_.size() + v.size());
        bigger.insert(bigger.end(), data_.begin(), data_.end());
        bigger.insert(bigger.end(), v.begin(), v.end());
        wipe();
        data_ = std::move(bigger);
    }

  private:
    void wipe() {
        if (!data_.empty()) sodium_memzero(data_.data(), data_.size());
    }
    Bytes data_;
};

}  // namespace pp

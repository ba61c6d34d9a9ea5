// The relay's first-record authenticator and its status reply: bytes from anyone who connects
// to a relay. Whatever verifies must encode back to the same bytes; nothing may crash. The key
// is fixed so that the seed corpus (made with the same key) reaches the code past the MAC.
#include <cstdlib>
#include <limits>

#include "wire/relay_auth.hpp"

namespace {

const pp::wire::relay::AuthKey& fuzz_key() {
    static const pp::wire::relay::AuthKey key([] {
        pp::wire::relay::LinkSecret s;
        for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<std::uint8_t>(i);
        return s;
    }());
    return key;
}

// The seed corpus is made with the same binding (fuzz/seed_corpus.cpp).
constexpr pp::wire::relay::SessionBinding kFuzzBinding{};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace rw = pp::wire::relay;
    const pp::ByteView in(data, size);
    // Wide window: every well-formed, correctly MACed record gets through to the decode.
    auto a = rw::verify_authenticator(fuzz_key(), kFuzzBinding, in, 1'800'000'000,
                                      std::numeric_limits<std::uint64_t>::max());
    if (a) {
        auto back = rw::encode_authenticator(fuzz_key(), kFuzzBinding, a->unix_seconds, a->nonce,
                                             a->target, a->padding);
        if (!back || pp::ByteView(*back).size() != size ||
            !std::equal(back->begin(), back->end(), data)) {
            std::abort();
        }
    }
    // The relay's real window must never accept more than the wide one.
    if (rw::verify_authenticator(fuzz_key(), kFuzzBinding, in, 1'800'000'000, 120) && !a)
        std::abort();
    if (auto s = rw::parse_reply(in)) {
        const auto r = rw::encode_reply(*s);
        if (size != r.size() || !std::equal(r.begin(), r.end(), data)) std::abort();
    }
    return 0;
}

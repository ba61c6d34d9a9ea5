// The server's signed endpoint list and the paperplane://endpoints links that carry it: bytes
// from a server (or whoever sits in its place) and links pasted or scanned by people. Nothing
// may crash; whatever verifies signs back to the same list; whatever link parses formats back
// to the same text. The key is fixed (seed bytes 0..31) so that the seed corpus, signed with the
// same key, reaches the entry checks past the signature.
#include <cstdlib>
#include <string_view>

#include "wire/endpoint_list.hpp"

namespace {

const pp::crypto::SigningKey& fuzz_key() {
    static const pp::crypto::SigningKey key = [] {
        pp::Bytes seed(32);
        for (std::size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<std::uint8_t>(i);
        return pp::crypto::SigningKey::from_seed(seed).value();
    }();
    return key;
}

void check_signed(pp::ByteView signed_list) {
    using namespace pp::wire;
    const auto vk = fuzz_key().verify_key();
    auto list = verify_endpoint_list(signed_list, vk);
    if (!list) return;
    if (!check_endpoint_list(*list)) std::abort();
    auto again = verify_endpoint_list(sign_endpoint_list(*list, fuzz_key()), vk);
    if (!again || !(*again == *list)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace pp::wire;
    const pp::ByteView in(data, size);
    check_signed(in);
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (auto bytes = parse_endpoints_link(text)) {
        if (format_endpoints_link(*bytes) != text) std::abort();
        check_signed(*bytes);
    }
    return 0;
}

// End-to-end content: the first parser a peer's decrypted bytes meet. Accepted content must
// re-encode (with its padding) and decode to the same message.
#include <cstdlib>

#include "client/content_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto c = pp::client::decode_content(pp::ByteView(data, size));
    if (c) {
        c->clear_padding();
        auto again = pp::client::decode_content(pp::client::encode_content(*c));
        if (!again) std::abort();
        again->clear_padding();
        if (again->SerializeAsString() != c->SerializeAsString()) std::abort();
    }
    return 0;
}

// The server's frame decoder: the first parser every byte from the network meets. Accepted
// frames must re-encode and decode to the same frame.
#include <cstdlib>

#include "wire/frame_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto frame = pp::wire::decode_frame(pp::ByteView(data, size));
    if (frame) {
        auto again = pp::wire::encode_frame(*frame);
        auto reparsed = pp::wire::decode_frame(again);
        if (!reparsed || pp::wire::encode_frame(*reparsed) != again) std::abort();
    }
    return 0;
}

// SignalMessage parser, then a decrypt attempt against a live session: nothing may crash, and a
// failed decrypt must leave the session record byte-for-byte unchanged.
#include <cstdlib>

#include "fuzz/fuzz_session.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static pp::fuzz::FuzzPair pair;
    pp::ByteView in(data, size);
    (void)pp::protocol::SignalMessage::parse(in);
    pp::protocol::SessionRecord copy = pair.bob.session;
    auto before = copy.serialize();
    auto r = pp::protocol::decrypt_signal_message(copy, in);
    if (!r) {
        auto after = copy.serialize();
        if (before.size() != after.size() ||
            !std::equal(before.data(), before.data() + before.size(), after.data()))
            std::abort();
    }
    return 0;
}

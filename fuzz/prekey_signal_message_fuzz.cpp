// PreKeySignalMessage parser, then the responder's full path (X3DH and first decrypt) on a
// fresh record each time.
#include <cstdlib>

#include "fuzz/fuzz_session.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static pp::fuzz::FuzzDevice bob;
    pp::ByteView in(data, size);
    (void)pp::protocol::PreKeySignalMessage::parse(in);
    pp::protocol::SessionRecord record;
    auto r = pp::protocol::decrypt_prekey_message(record, bob, in, std::nullopt);
    if (!r && record.has_current()) std::abort();  // a failure must not create a session
    return 0;
}

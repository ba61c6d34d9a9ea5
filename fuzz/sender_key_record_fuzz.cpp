// Persisted sender-key records: reject the malformed, round-trip the accepted.
#include <algorithm>
#include <cstdlib>

#include "protocol/sender_keys.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto r = pp::protocol::SenderKeyRecord::deserialize(pp::ByteView(data, size));
    if (r) {
        auto again = r->serialize();
        auto reparsed = pp::protocol::SenderKeyRecord::deserialize(again.view());
        if (!reparsed) std::abort();
        auto third = reparsed->serialize();
        if (!std::equal(again.view().begin(), again.view().end(), third.view().begin(),
                        third.view().end()))
            std::abort();
    }
    return 0;
}

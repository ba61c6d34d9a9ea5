// Persisted session state is read back from disk that an attacker may have touched: the parser
// must reject anything malformed, and whatever it accepts must serialize back identically.
#include <algorithm>
#include <cstdlib>

#include "protocol/session_state.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto r = pp::protocol::SessionRecord::deserialize(pp::ByteView(data, size));
    if (r) {
        auto again = r->serialize();
        auto reparsed = pp::protocol::SessionRecord::deserialize(again.view());
        if (!reparsed) std::abort();
        auto third = reparsed->serialize();
        if (!std::equal(again.view().begin(), again.view().end(), third.view().begin(),
                        third.view().end()))
            std::abort();
    }
    return 0;
}

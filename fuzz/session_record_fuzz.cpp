// Persisted session state is read back from disk that an attacker may have touched: the parser
// must reject anything malformed, and whatever it accepts must serialize back identically.
#include "fuzz/round_trip.hpp"
#include "protocol/session_state.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using pp::protocol::SessionRecord;
    pp::fuzz::check_round_trip(
        pp::ByteView(data, size), [](pp::ByteView b) { return SessionRecord::deserialize(b); },
        [](const SessionRecord& r) { return r.serialize(); });
    return 0;
}

// Persisted sender-key records: reject the malformed, round-trip the accepted.
#include "fuzz/round_trip.hpp"
#include "protocol/sender_keys.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using pp::protocol::SenderKeyRecord;
    pp::fuzz::check_round_trip(
        pp::ByteView(data, size), [](pp::ByteView b) { return SenderKeyRecord::deserialize(b); },
        [](const SenderKeyRecord& r) { return r.serialize(); });
    return 0;
}

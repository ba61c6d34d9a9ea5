// Persisted identity, prekey and signed prekey records: reject the malformed, round-trip the
// accepted.
#include "fuzz/round_trip.hpp"
#include "protocol/prekeys.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace pp::protocol;
    pp::ByteView in(data, size);
    pp::fuzz::check_round_trip(in, deserialize_identity, serialize_identity);
    pp::fuzz::check_round_trip(in, deserialize_prekey, serialize_prekey);
    pp::fuzz::check_round_trip(in, deserialize_signed_prekey, serialize_signed_prekey);
    return 0;
}

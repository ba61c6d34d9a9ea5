// Persisted identity, prekey and signed prekey records: reject the malformed, round-trip the
// accepted.
#include <algorithm>
#include <cstdlib>

#include "protocol/prekeys.hpp"

namespace {
template <typename Parse, typename Serialize>
void check(pp::ByteView in, Parse parse, Serialize serialize) {
    auto r = parse(in);
    if (!r) return;
    auto again = serialize(*r);
    auto reparsed = parse(again.view());
    if (!reparsed) std::abort();
    auto third = serialize(*reparsed);
    if (!std::equal(again.view().begin(), again.view().end(), third.view().begin(),
                    third.view().end()))
        std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace pp::protocol;
    pp::ByteView in(data, size);
    check(in, deserialize_identity, serialize_identity);
    check(in, deserialize_prekey, serialize_prekey);
    check(in, deserialize_signed_prekey, serialize_signed_prekey);
    return 0;
}

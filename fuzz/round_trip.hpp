#pragma once
// Shared check for the persisted-record fuzzers: whatever a parser accepts must serialize,
// parse again, and serialize to the same bytes; anything else aborts so libFuzzer reports it.
#include <algorithm>
#include <cstdlib>

#include "base/bytes.hpp"

namespace pp::fuzz {

template <typename Parse, typename Serialize>
void check_round_trip(ByteView in, Parse parse, Serialize serialize) {
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

}  // namespace pp::fuzz

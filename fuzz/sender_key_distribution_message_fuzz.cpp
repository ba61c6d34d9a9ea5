// SenderKeyDistributionMessage parser and processing into a receiver's record.
#include "protocol/sender_keys.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    pp::ByteView in(data, size);
    pp::protocol::SenderKeyRecord record;
    if (pp::protocol::process_sender_key_distribution(record, in)) {
        (void)record.serialize();
    }
    return 0;
}

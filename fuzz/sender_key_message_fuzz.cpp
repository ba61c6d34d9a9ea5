// SenderKeyMessage parser, then a group decrypt against a record that follows a real sender.
#include <cstdlib>

#include "protocol/sender_keys.hpp"

namespace {
struct Group {
    pp::protocol::SenderKeyRecord sender, receiver;
    Group() {
        auto skdm = pp::protocol::create_sender_key_distribution(sender);
        (void)pp::protocol::process_sender_key_distribution(receiver, *skdm);
    }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static Group group;
    pp::ByteView in(data, size);
    (void)pp::protocol::SenderKeyMessage::parse(in);
    pp::protocol::SenderKeyRecord copy = group.receiver;
    auto before = copy.serialize();
    if (!pp::protocol::group_decrypt(copy, in)) {
        auto after = copy.serialize();
        if (!std::equal(before.view().begin(), before.view().end(), after.view().begin(),
                        after.view().end()))
            std::abort();
    }
    return 0;
}

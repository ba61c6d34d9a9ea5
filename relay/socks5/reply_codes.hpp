#pragma once
// How a failed resolve or connect is reported to the client (RFC 1928 sec. 6), honestly: the
// client and its user see why the destination could not be reached. Pure, no Boost.
#include "relay/socks5/codec.hpp"

namespace pp::relay::socks5 {

// errno of a failed connect(2) -> reply code.
ReplyCode reply_for_connect_errno(int err);

}  // namespace pp::relay::socks5

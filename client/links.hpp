#pragma once
// Share links. A server link tells a new user where to register and which certificate to pin;
// a contact link carries everything needed to start an end-to-end session with its owner
// without trusting the server for the key: the identity key travels in the link, and the
// bundle the server later hands out must match it.
//
//   paperplane://server?host=H&port=P&pin=HEX64
//   paperplane://contact?host=H&port=P&pin=HEX64&account=HEX32&identity=HEX66&name=NAME
//
// Values are percent-encoded. Parsing is strict: unknown parameters, missing ones, wrong
// lengths or characters give kMalformed with a reason that says which.
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "client/types.hpp"

namespace pp::client {

struct ContactLink {
    ServerAddress server;
    AccountId account{};
    Bytes identity_key;  // 33 bytes, 0x05 || X25519
    std::string name;    // the owner's suggested display name (may be empty)
};

std::string format_server_link(const ServerAddress& server);
Result<ServerAddress> parse_server_link(std::string_view link);

std::string format_contact_link(const ContactLink& link);
Result<ContactLink> parse_contact_link(std::string_view link);

// Display names: 1-64 bytes, no control characters. Used for contact and group names too.
bool valid_display_name(std::string_view name);

}  // namespace pp::client

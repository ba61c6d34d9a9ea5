#pragma once
// Keys between their protocol/ form and their wire form: the prekeys a device uploads and the
// bundle a server hands out. Shared by the client and the test clients.
#include "base/result.hpp"
#include "protocol/prekeys.hpp"
#include "wire/frame_codec.hpp"

namespace pp::wire {

v1::PreKey to_wire(const protocol::PreKeyRecord& k);
v1::SignedPreKey to_wire(const protocol::SignedPreKeyRecord& k);
// kInvalidKey / kMalformed for keys or a signature of the wrong form. The signature itself is
// checked later, by X3DH against the identity key the caller trusts.
Result<protocol::PreKeyBundle> to_protocol_bundle(const v1::Bundle& b);

}  // namespace pp::wire

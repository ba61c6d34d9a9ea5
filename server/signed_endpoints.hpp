#pragma once
// The two signed endpoint lists a server hands out (docs/protocol.md, "Signed endpoint list"),
// signed once at start and held in memory. Relay links carry the secret that lets anyone use
// the relay, so the list with relays goes only to authenticated devices over the WebSocket;
// GET /v1/endpoints, which anyone (a censor's crawler included) can fetch, has addresses only.
#include "base/bytes.hpp"
#include "crypto/signing.hpp"
#include "wire/endpoint_list.hpp"

namespace pp::server {

struct SignedEndpoints {
    bool keyed = false;     // a server with a key pins it at registration, list or not
    crypto::VerifyKey key;  // what RegisterResponse.endpoint_key carries
    Bytes full;             // SignedEndpointList: addresses and relays
    Bytes addresses_only;   // SignedEndpointList: addresses, no relays
    bool empty() const { return full.empty(); }
};

// `list` must pass wire::check_endpoint_list (the configuration is checked at start). A list
// with no entries is no list: nothing is signed (GetEndpoints answers NOT_FOUND).
SignedEndpoints sign_endpoints(const wire::EndpointList& list, const crypto::SigningKey& key);

}  // namespace pp::server

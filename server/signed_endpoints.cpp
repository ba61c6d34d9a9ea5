#include "server/signed_endpoints.hpp"

namespace pp::server {

SignedEndpoints sign_endpoints(const wire::EndpointList& list, const crypto::SigningKey& key) {
    SignedEndpoints out;
    out.keyed = true;
    out.key = key.verify_key();
    if (list.endpoints.empty() && list.relays.empty()) return out;
    out.full = wire::sign_endpoint_list(list, key);
    wire::EndpointList addresses = list;
    addresses.relays.clear();
    addresses.relays_withheld = true;
    out.addresses_only = wire::sign_endpoint_list(addresses, key);
    return out;
}

}  // namespace pp::server

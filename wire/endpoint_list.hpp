#pragma once
// The server's signed endpoint list (docs/protocol.md, "Signed endpoint list"): the addresses a
// client may connect to directly and the Paperplane relays the operator vouches for, signed
// with the server's Ed25519 endpoint key, which clients pin at registration.
//
// Signed bytes: kEndpointListContext || 0x00 || the serialized EndpointList exactly as carried
// in SignedEndpointList.list. Verification runs over the received bytes, never over a
// re-serialization, so a list signed by a newer server with fields we do not know still
// verifies. Pure: no I/O, no clock.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.hpp"
#include "base/result.hpp"
#include "crypto/signing.hpp"

namespace pp::wire {

struct EndpointList {
    std::uint64_t issued_at = 0;         // unix seconds
    std::vector<std::string> endpoints;  // "host:port": DNS name, dotted IPv4 or "[v6]"
    std::vector<std::string> relays;     // paperplane://relay?... links
    bool relays_withheld = false;        // the public variant: relays left out, not absent
    friend bool operator==(const EndpointList&, const EndpointList&) = default;
};

constexpr std::size_t kMaxEndpointListBytes = 64 * 1024;  // signed blob
constexpr std::size_t kMaxEndpoints = 64;
constexpr std::size_t kMaxRelays = 64;
constexpr std::string_view kEndpointListContext = "paperplane endpoint list v1";
constexpr std::string_view kEndpointsLinkPrefix = "paperplane://endpoints?list=";

// One entry, checked the way verify_endpoint_list checks it; kMalformed with the rule broken.
Result<void> check_endpoint(std::string_view endpoint);
Result<void> check_vouched_relay(std::string_view relay_link);
// Counts and every entry.
Result<void> check_endpoint_list(const EndpointList& list);

// The SignedEndpointList bytes. The caller passes a list that check_endpoint_list accepts (the
// server checks its configuration at start); the result is at most kMaxEndpointListBytes then.
Bytes sign_endpoint_list(const EndpointList& list, const crypto::SigningKey& key);

// Checks the size, the signature, then every entry (at most kMaxEndpoints endpoints and
// kMaxRelays relays, each valid). kInvalidSignature when the signature does not verify under
// `key`; kMalformed for anything that does not parse or an invalid entry.
Result<EndpointList> verify_endpoint_list(ByteView signed_list, const crypto::VerifyKey& key);

// "paperplane://endpoints?list=<unpadded base64url of the SignedEndpointList>", for files and
// QR codes that carry the list out of band.
std::string format_endpoints_link(ByteView signed_list);
// Strict: the exact prefix, one `list` parameter, canonical unpadded base64url of 1 to
// kMaxEndpointListBytes bytes. Returns the SignedEndpointList bytes, still to be verified.
Result<Bytes> parse_endpoints_link(std::string_view link);

}  // namespace pp::wire

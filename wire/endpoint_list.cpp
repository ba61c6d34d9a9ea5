#include "wire/endpoint_list.hpp"

#include <sodium.h>

#include <algorithm>
#include <charconv>

#include "wire/paperplane.pb.h"
#include "wire/share_links.hpp"

namespace pp::wire {

namespace {

namespace v1 = paperplane::wire::v1;

constexpr std::size_t kMaxEndpointBytes = 2 + 253 + 1 + 5;  // "[" host "]" ":" port

Error malformed(std::string_view why) {
    return make_error(ErrorCode::kMalformed, why);
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// 1-65535 in plain decimal: no sign, no leading zero, so each port has one spelling.
bool valid_port(std::string_view s) {
    if (s.empty() || s.size() > 5 || s.front() == '0') return false;
    if (!std::all_of(s.begin(), s.end(), is_digit)) return false;
    unsigned value = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    return ec == std::errc() && end == s.data() + s.size() && value >= 1 && value <= 65535;
}

// What is signed: the context, a zero byte (no context is a prefix of another), the list.
Bytes signed_message(ByteView list) {
    // Sized up front: GCC 12 at -O3 misreads reserve + push_back as an overflow.
    Bytes m(kEndpointListContext.size() + 1 + list.size(), 0);
    std::copy(kEndpointListContext.begin(), kEndpointListContext.end(), m.begin());
    std::copy(list.begin(), list.end(),
              m.begin() + static_cast<std::ptrdiff_t>(kEndpointListContext.size() + 1));
    return m;
}

std::string base64url(ByteView in) {
    std::string out(sodium_base64_ENCODED_LEN(in.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                    '\0');
    sodium_bin2base64(out.data(), out.size(), in.data(), in.size(),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    out.resize(out.size() - 1);  // the terminating NUL
    return out;
}

bool base64url_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '-' || c == '_';
}

}  // namespace

Result<void> check_endpoint(std::string_view endpoint) {
    if (endpoint.empty() || endpoint.size() > kMaxEndpointBytes)
        return malformed("endpoint: must be host:port");
    const auto colon = endpoint.rfind(':');
    if (colon == std::string_view::npos) return malformed("endpoint: must be host:port");
    auto host = endpoint.substr(0, colon);
    if (!valid_port(endpoint.substr(colon + 1))) return malformed("endpoint: port must be 1-65535");
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
        // valid_host takes an IPv6 address exactly when the text has a colon.
        if (host.find(':') == std::string_view::npos || !valid_host(host))
            return malformed("endpoint: only an IPv6 address goes in brackets");
        return {};
    }
    if (host.find(':') != std::string_view::npos)
        return malformed("endpoint: an IPv6 address must be in brackets");
    if (!valid_host(host)) return malformed("endpoint: host is not a DNS name or IPv4 address");
    return {};
}

Result<void> check_vouched_relay(std::string_view relay_link) {
    auto parsed = parse_relay_link(relay_link);
    if (!parsed) return parsed.error();
    return {};
}

Result<void> check_endpoint_list(const EndpointList& list) {
    if (list.endpoints.size() > kMaxEndpoints)
        return malformed("endpoint list: more than 64 endpoints");
    if (list.relays.size() > kMaxRelays) return malformed("endpoint list: more than 64 relays");
    if (list.relays_withheld && !list.relays.empty())
        return malformed("endpoint list: relays in a list that withholds them");
    for (const auto& e : list.endpoints) PP_TRY_VOID(check_endpoint(e));
    for (const auto& r : list.relays) PP_TRY_VOID(check_vouched_relay(r));
    return {};
}

Bytes sign_endpoint_list(const EndpointList& list, const crypto::SigningKey& key) {
    v1::EndpointList w;
    w.set_issued_at(list.issued_at);
    for (const auto& e : list.endpoints) w.add_endpoints(e);
    for (const auto& r : list.relays) w.add_relays(r);
    w.set_relays_withheld(list.relays_withheld);
    const std::string serialized = w.SerializeAsString();
    const auto sig = crypto::sign(key, signed_message(as_bytes(serialized)));

    v1::SignedEndpointList s;
    s.set_list(serialized);
    s.set_signature(std::string(sig.begin(), sig.end()));
    const std::string out = s.SerializeAsString();
    return Bytes(out.begin(), out.end());
}

Result<EndpointList> verify_endpoint_list(ByteView signed_list, const crypto::VerifyKey& key) {
    if (signed_list.empty() || signed_list.size() > kMaxEndpointListBytes)
        return malformed("endpoint list: empty or larger than 64 KiB");
    v1::SignedEndpointList s;
    if (!s.ParseFromArray(signed_list.data(), static_cast<int>(signed_list.size())))
        return malformed("endpoint list: not a SignedEndpointList");
    // The signature covers the list bytes as received; they are parsed only once it verifies.
    PP_TRY_VOID(crypto::verify(key, signed_message(as_bytes(s.list())), as_bytes(s.signature())));

    v1::EndpointList w;
    if (!w.ParseFromString(s.list())) return malformed("endpoint list: not an EndpointList");
    if (static_cast<std::size_t>(w.endpoints_size()) > kMaxEndpoints)
        return malformed("endpoint list: more than 64 endpoints");
    if (static_cast<std::size_t>(w.relays_size()) > kMaxRelays)
        return malformed("endpoint list: more than 64 relays");
    EndpointList out;
    out.issued_at = w.issued_at();
    out.endpoints.assign(w.endpoints().begin(), w.endpoints().end());
    out.relays.assign(w.relays().begin(), w.relays().end());
    out.relays_withheld = w.relays_withheld();
    PP_TRY_VOID(check_endpoint_list(out));
    return out;
}

std::string format_endpoints_link(ByteView signed_list) {
    return std::string(kEndpointsLinkPrefix) + base64url(signed_list);
}

Result<Bytes> parse_endpoints_link(std::string_view link) {
    constexpr std::size_t kMaxChars = (kMaxEndpointListBytes * 4 + 2) / 3;
    if (!link.starts_with(kEndpointsLinkPrefix))
        return malformed("endpoints link: must start with paperplane://endpoints?list=");
    const auto text = link.substr(kEndpointsLinkPrefix.size());
    if (text.empty() || text.size() > kMaxChars)
        return malformed("endpoints link: list must be 1 byte to 64 KiB");
    // Any '&', '=', '#' or padding falls out here: `list` is the one parameter there is.
    if (!std::all_of(text.begin(), text.end(), base64url_char))
        return malformed("endpoints link: list must be unpadded base64url");
    Bytes out(text.size() * 3 / 4 + 1);
    std::size_t len = 0;
    const char* end = nullptr;
    if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != text.data() + text.size() || len == 0 || len > kMaxEndpointListBytes)
        return malformed("endpoints link: list must be unpadded base64url");
    out.resize(len);
    // One spelling per list: the unused low bits of the last character must be zero.
    if (base64url(out) != text) return malformed("endpoints link: list is not canonical base64url");
    return out;
}

}  // namespace pp::wire

#include "apps/server/config_file.hpp"

#include <toml++/toml.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <utility>

#include "wire/endpoint_list.hpp"
#include "wire/frame_codec.hpp"

namespace pp::apps {

std::optional<std::string> add_endpoint(const std::string& value, Settings& s) {
    if (auto r = wire::check_endpoint(value); !r)
        return "\"" + value + "\" is not a valid endpoint (" + std::string(r.error().detail) +
               "); expected host:port with a DNS name, an IPv4 address or [IPv6]";
    s.endpoint_addresses.push_back(value);
    return std::nullopt;
}

std::optional<std::string> add_vouched_relay(const std::string& value, Settings& s) {
    if (auto r = wire::check_vouched_relay(value); !r)
        return "not a valid paperplane://relay link (" + std::string(r.error().detail) + ")";
    s.vouched_relays.push_back(value);
    return std::nullopt;
}

std::optional<std::string> check_endpoint_counts(const Settings& s) {
    if (s.endpoint_addresses.size() > wire::kMaxEndpoints)
        return "at most " + std::to_string(wire::kMaxEndpoints) + " endpoint addresses";
    if (s.vouched_relays.size() > wire::kMaxRelays)
        return "at most " + std::to_string(wire::kMaxRelays) + " vouched relays";
    return std::nullopt;
}

namespace {

// [endpoints] addresses / relays: an array of strings, each checked by `add`.
std::optional<std::string> load_list(const toml::table& t, const char* key,
                                     std::optional<std::string> (*add)(const std::string&,
                                                                       Settings&),
                                     Settings& s) {
    const toml::node* node = t["endpoints"][key].node();
    if (node == nullptr) return std::nullopt;
    const std::string where = std::string("[endpoints] ") + key;
    const toml::array* array = node->as_array();
    if (array == nullptr) return where + " must be an array of strings";
    std::size_t index = 0;
    for (const auto& item : *array) {
        ++index;
        const auto value = item.value<std::string>();
        if (!value || !item.is_string()) return where + " must be an array of strings";
        if (auto err = add(*value, s))
            return where + ", entry " + std::to_string(index) + ": " + *err;
    }
    return std::nullopt;
}

// [section] key (a top-level key when `section` is empty), when present: a whole number in
// [min, max], stored in `out`. A float, a string or a value out of range is an error naming
// the setting and its range, so a typo never turns into a negative size cast to a huge one,
// or a TTL of zero.
template <typename T>
std::optional<std::string> whole(const toml::table& t, std::string_view section,
                                 std::string_view key, std::int64_t min, std::int64_t max, T& out) {
    const toml::node* n = section.empty() ? t[key].node() : t[section][key].node();
    if (n == nullptr) return std::nullopt;
    const auto v = n->value<std::int64_t>();
    if (!n->is_integer() || !v || *v < min || *v > max)
        return (section.empty() ? std::string() : "[" + std::string(section) + "] ") +
               std::string(key) + " must be a whole number from " + std::to_string(min) + " to " +
               std::to_string(max);
    out = static_cast<T>(*v);
    return std::nullopt;
}

std::optional<std::string> millis(const toml::table& t, const char* key, std::int64_t min,
                                  std::int64_t max, std::chrono::milliseconds& out) {
    std::int64_t ms = out.count();
    if (auto err = whole(t, "limits", key, min, max, ms)) return err;
    out = std::chrono::milliseconds(ms);
    return std::nullopt;
}

// [limits] key, when present: a finite number (an integer is taken as one) above 0, or at
// least 1 with `at_least_one`.
std::optional<std::string> positive(const toml::table& t, const char* key, bool at_least_one,
                                    double& out) {
    const toml::node* n = t["limits"][key].node();
    if (n == nullptr) return std::nullopt;
    const auto v = n->value<double>();
    if (!(n->is_floating_point() || n->is_integer()) || !v || !std::isfinite(*v) || *v <= 0 ||
        (at_least_one && *v < 1))
        return std::string("[limits] ") + key +
               (at_least_one ? " must be a number of at least 1" : " must be a positive number");
    out = *v;
    return std::nullopt;
}

}  // namespace

std::optional<std::string> parse_listen(const std::string& value, Settings& s) {
    auto colon = value.rfind(':');
    if (colon == std::string::npos || colon + 1 == value.size()) return "listen must be host:port";
    std::string host = value.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    try {
        unsigned long port = std::stoul(value.substr(colon + 1));
        if (port > 65535) return "port out of range";
        s.net.host = host;
        s.net.port = static_cast<std::uint16_t>(port);
    } catch (const std::exception&) {
        return "listen must be host:port";
    }
    return std::nullopt;
}

std::optional<std::string> parse_policy(const std::string& value, Settings& s) {
    if (value == "open")
        s.service.registration = server::RegistrationPolicy::kOpen;
    else if (value == "invite")
        s.service.registration = server::RegistrationPolicy::kInvite;
    else if (value == "pow")
        s.service.registration = server::RegistrationPolicy::kProofOfWork;
    else
        return "registration must be open, invite or pow";
    return std::nullopt;
}

std::optional<std::string> load_toml(const std::string& path, Settings& s) {
    // Debian's shared toml++ is built with exceptions: parse errors are thrown, not returned.
    toml::table t;
    try {
        t = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
        return "cannot read " + path + ": " + std::string(e.description());
    }
    if (auto v = t["listen"].value<std::string>())
        if (auto err = parse_listen(*v, s)) return err;
    if (auto v = t["data_dir"].value<std::string>()) s.data_dir = *v;
    if (auto err = whole(t, "", "io_threads", 1, kMaxIoThreads, s.net.threads)) return err;
    if (auto v = t["public_host"].value<std::string>()) s.public_host = *v;
    if (auto v = t["tls"]["cert"].value<std::string>()) s.tls_cert = *v;
    if (auto v = t["tls"]["key"].value<std::string>()) s.tls_key = *v;
    if (auto v = t["registration"]["policy"].value<std::string>())
        if (auto err = parse_policy(*v, s)) return err;
    if (auto err = whole(t, "registration", "pow_difficulty", 0, 32, s.service.pow_difficulty))
        return err;
    if (auto err = whole(t, "limits", "max_connections", 1, 1'000'000, s.net.max_connections))
        return err;
    if (auto err = millis(t, "handshake_timeout_ms", 100, 600'000, s.net.handshake_timeout))
        return err;
    if (auto err = millis(t, "idle_timeout_ms", 1'000, 86'400'000, s.net.idle_timeout)) return err;
    // Above the protocol's own bound a frame would be buffered only to be refused by the decoder.
    if (auto err = whole(t, "limits", "max_frame_bytes", 1'024,
                         static_cast<std::int64_t>(wire::kMaxFrameBytes), s.net.max_frame_bytes))
        return err;
    // Rates (per second, or per hour where the name says so): positive; bursts: at least 1.
    const std::pair<const char*, double*> rates[] = {
        {"requests_per_second", &s.service.requests_per_second},
        {"request_burst", &s.service.request_burst},
        {"account_requests_per_second", &s.service.account_requests_per_second},
        {"account_request_burst", &s.service.account_request_burst},
        {"address_requests_per_second", &s.service.address_requests_per_second},
        {"address_request_burst", &s.service.address_request_burst},
        {"registrations_per_address_per_second", &s.service.registrations_per_address_per_second},
        {"registration_burst", &s.service.registration_burst},
        {"prekey_fetches_per_target_per_hour", &s.service.prekey_fetches_per_target_per_hour},
        {"prekey_fetch_burst_per_target", &s.service.prekey_fetch_burst_per_target},
        {"prekey_fetches_per_hour", &s.service.prekey_fetches_per_hour},
        {"prekey_fetch_burst", &s.service.prekey_fetch_burst},
    };
    for (const auto& [key, out] : rates) {
        // A bucket hands out whole tokens: a burst below 1 would refuse everything.
        const bool burst = std::string_view(key).find("burst") != std::string_view::npos;
        if (auto err = positive(t, key, burst, *out)) return err;
    }
    if (auto err = whole(t, "limits", "rate_limit_max_keys", 1, 100'000'000,
                         s.service.rate_limit_max_keys))
        return err;
    if (auto err =
            whole(t, "limits", "max_pending_sends", 1, 10'000'000, s.service.max_pending_sends))
        return err;
    if (auto err = whole(t, "limits", "max_pending_send_bytes", 1, std::int64_t{1} << 40,
                         s.service.max_pending_send_bytes))
        return err;
    if (auto err =
            whole(t, "limits", "max_pending_acks", 1, 10'000'000, s.service.max_pending_acks))
        return err;
    if (auto v = t["logging"]["client_addresses"].value<bool>())
        s.service.log_client_addresses = *v;
    if (auto err = whole(t, "queues", "max_messages", 1, 100'000'000, s.service.max_queue_messages))
        return err;
    // Up to ten years: the expiry is kept in milliseconds, far from overflowing.
    std::int64_t ttl_hours = s.service.message_ttl.count();
    if (auto err = whole(t, "queues", "ttl_hours", 1, 87'600, ttl_hours)) return err;
    s.service.message_ttl = std::chrono::hours(ttl_hours);
    std::int64_t database_mib = static_cast<std::int64_t>(s.max_database_bytes >> 20);
    if (auto err = whole(t, "storage", "max_database_mib", 0, kMaxDatabaseMib, database_mib))
        return err;
    s.max_database_bytes = static_cast<std::uint64_t>(database_mib) << 20;
    if (auto err = load_list(t, "addresses", add_endpoint, s)) return err;
    if (auto err = load_list(t, "relays", add_vouched_relay, s)) return err;
    if (const toml::node* pub = t["endpoints"]["public"].node()) {
        if (!pub->is_boolean()) return "[endpoints] public must be true or false";
        s.public_endpoints = *pub->value<bool>();
    }
    return std::nullopt;
}

}  // namespace pp::apps

#include "apps/server/config_file.hpp"

#include <toml++/toml.h>

#include "wire/endpoint_list.hpp"

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
    if (const toml::node* n = t["io_threads"].node()) {
        const auto v = n->value<std::int64_t>();
        if (!n->is_integer() || !v || *v < 1 || *v > kMaxIoThreads)
            return "io_threads must be a whole number from 1 to " + std::to_string(kMaxIoThreads);
        s.net.threads = static_cast<unsigned>(*v);
    }
    if (auto v = t["public_host"].value<std::string>()) s.public_host = *v;
    if (auto v = t["tls"]["cert"].value<std::string>()) s.tls_cert = *v;
    if (auto v = t["tls"]["key"].value<std::string>()) s.tls_key = *v;
    if (auto v = t["registration"]["policy"].value<std::string>())
        if (auto err = parse_policy(*v, s)) return err;
    if (auto v = t["registration"]["pow_difficulty"].value<std::int64_t>())
        s.service.pow_difficulty = static_cast<unsigned>(*v);
    if (auto v = t["limits"]["max_connections"].value<std::int64_t>())
        s.net.max_connections = static_cast<std::size_t>(*v);
    if (auto v = t["limits"]["handshake_timeout_ms"].value<std::int64_t>())
        s.net.handshake_timeout = std::chrono::milliseconds(*v);
    if (auto v = t["limits"]["idle_timeout_ms"].value<std::int64_t>())
        s.net.idle_timeout = std::chrono::milliseconds(*v);
    if (auto v = t["limits"]["max_frame_bytes"].value<std::int64_t>())
        s.net.max_frame_bytes = static_cast<std::size_t>(*v);
    if (auto v = t["limits"]["requests_per_second"].value<double>())
        s.service.requests_per_second = *v;
    if (auto v = t["limits"]["request_burst"].value<double>()) s.service.request_burst = *v;
    if (auto v = t["limits"]["account_requests_per_second"].value<double>())
        s.service.account_requests_per_second = *v;
    if (auto v = t["limits"]["account_request_burst"].value<double>())
        s.service.account_request_burst = *v;
    if (auto v = t["limits"]["address_requests_per_second"].value<double>())
        s.service.address_requests_per_second = *v;
    if (auto v = t["limits"]["address_request_burst"].value<double>())
        s.service.address_request_burst = *v;
    if (auto v = t["limits"]["registrations_per_address_per_second"].value<double>())
        s.service.registrations_per_address_per_second = *v;
    if (auto v = t["limits"]["registration_burst"].value<double>())
        s.service.registration_burst = *v;
    if (auto v = t["limits"]["prekey_fetches_per_target_per_hour"].value<double>())
        s.service.prekey_fetches_per_target_per_hour = *v;
    if (auto v = t["limits"]["prekey_fetch_burst_per_target"].value<double>())
        s.service.prekey_fetch_burst_per_target = *v;
    if (auto v = t["limits"]["prekey_fetches_per_hour"].value<double>())
        s.service.prekey_fetches_per_hour = *v;
    if (auto v = t["limits"]["prekey_fetch_burst"].value<double>())
        s.service.prekey_fetch_burst = *v;
    if (auto v = t["limits"]["rate_limit_max_keys"].value<std::int64_t>())
        s.service.rate_limit_max_keys = static_cast<std::size_t>(*v);
    if (auto v = t["limits"]["max_pending_sends"].value<std::int64_t>())
        s.service.max_pending_sends = static_cast<std::size_t>(*v);
    if (auto v = t["limits"]["max_pending_send_bytes"].value<std::int64_t>()) {
        if (*v <= 0) return "[limits] max_pending_send_bytes must be positive";
        s.service.max_pending_send_bytes = static_cast<std::size_t>(*v);
    }
    if (auto v = t["limits"]["max_pending_acks"].value<std::int64_t>())
        s.service.max_pending_acks = static_cast<std::size_t>(*v);
    if (auto v = t["logging"]["client_addresses"].value<bool>())
        s.service.log_client_addresses = *v;
    if (auto v = t["queues"]["max_messages"].value<std::int64_t>())
        s.service.max_queue_messages = static_cast<std::size_t>(*v);
    if (auto v = t["queues"]["ttl_hours"].value<std::int64_t>())
        s.service.message_ttl = std::chrono::hours(*v);
    if (auto err = load_list(t, "addresses", add_endpoint, s)) return err;
    if (auto err = load_list(t, "relays", add_vouched_relay, s)) return err;
    if (const toml::node* pub = t["endpoints"]["public"].node()) {
        if (!pub->is_boolean()) return "[endpoints] public must be true or false";
        s.public_endpoints = *pub->value<bool>();
    }
    return std::nullopt;
}

}  // namespace pp::apps

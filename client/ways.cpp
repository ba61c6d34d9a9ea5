// Client: the ways to the server. Routes the user added, the account's own address and the
// server's signed endpoint list become the candidates a connection races; the winner is
// remembered and tried first next time, losers that failed rest for a while.
#include <algorithm>

#include "client/client_impl.hpp"
#include "client/server_errors.hpp"
#include "crypto/signing.hpp"
#include "wire/endpoint_list.hpp"
#include "wire/share_links.hpp"

namespace pp::client {

namespace {

constexpr std::string_view kEndpointKey = "endpoint_key";
constexpr std::string_view kEndpointList = "endpoint_list";
constexpr std::string_view kLastRoute = "last_route";
constexpr std::int64_t kEndpointListMaxAgeMs = 3600 * 1000;

std::string host_port(const std::string& host, std::uint16_t port) {
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<crypto::VerifyKey> pinned_endpoint_key(ProfileStore& store) {
    PP_TRY(key, store.setting(kEndpointKey));
    if (!key) return make_error(ErrorCode::kNoSession, "no endpoint key pinned for this server");
    return crypto::VerifyKey::from_bytes(*key);
}

// The cached list, verified again on the way out of the database.
Result<std::optional<wire::EndpointList>> cached_list(ProfileStore& store) {
    PP_TRY(blob, store.setting(kEndpointList));
    if (!blob) return std::optional<wire::EndpointList>{};
    PP_TRY(key, pinned_endpoint_key(store));
    PP_TRY(list, wire::verify_endpoint_list(*blob, key));
    return std::optional<wire::EndpointList>(std::move(list));
}

EndpointListInfo info_of(const wire::EndpointList& list) {
    EndpointListInfo info;
    info.issued_at = list.issued_at;
    info.endpoints = list.endpoints;
    for (const auto& link : list.relays) {
        if (auto r = wire::parse_relay_link(link))
            info.relays.push_back(host_port(r->host, r->port));
    }
    return info;
}

RouteInfo info_of(const Candidate& c, std::string_view last) {
    RouteInfo r;
    r.id = c.user_id;
    r.kind = route_kind_name(c.route.kind);
    r.address = c.route.kind == net::RouteKind::kRelay
                    ? host_port(c.route.relay.host, c.route.relay.port)
                    : host_port(c.route.host, c.route.port);
    r.source = route_source_name(c.source);
    r.last_used = c.key == last;
    return r;
}

}  // namespace

Result<std::vector<Candidate>> Client::Impl::route_candidates(const ServerAddress& server) {
    std::vector<Candidate> out;
    PP_TRY(mine, store->routes());
    for (const auto& e : mine) {
        auto r = route_from_link(e.link, server);
        if (!r) continue;  // a server link for another pin after re-registering: never raced
        out.push_back({std::move(*r), RouteSource::kUser, e.id, "user/" + std::to_string(e.id)});
    }
    const std::string own = host_port(server.host, server.port);
    {
        net::Route direct;
        direct.host = server.host;
        direct.port = server.port;
        out.push_back({std::move(direct), RouteSource::kAccount, 0, "account"});
    }
    if (auto list = cached_list(*store); list && *list) {
        for (const auto& ep : (*list)->endpoints) {
            auto r = route_from_endpoint(ep);
            if (!r || host_port(r->host, r->port) == own) continue;
            out.push_back({std::move(*r), RouteSource::kEndpointList, 0, "list/direct/" + ep});
        }
        for (const auto& link : (*list)->relays) {
            auto r = route_from_link(link, server);
            if (!r) continue;
            const auto key = "list/relay/" + host_port(r->relay.host, r->relay.port);
            out.push_back({std::move(*r), RouteSource::kEndpointList, 0, key});
        }
    }
    PP_TRY(last, store->setting(kLastRoute));
    if (last) put_last_winner_first(out, std::string(last->begin(), last->end()));
    return out;
}

Result<std::unique_ptr<Connection>> Client::Impl::open_connection(const ServerAddress& server,
                                                                  milliseconds timeout) {
    PP_TRY(all, route_candidates(server));
    const auto now = RouteBackoff::Clock::now();
    const auto usable = route_backoff.usable(all, now);
    std::vector<net::Route> routes;
    routes.reserve(usable.size());
    for (const auto& c : usable) routes.push_back(c.route);
    std::vector<net::AttemptReport> reports;
    auto opened =
        Connection::open(routes, {server.host, server.port, server.pin}, timeout, reports);

    // Attempts cancelled because another route won, or cut short by the race's end before
    // they had their own full time, were only slower; those that failed rest for a while.
    for (std::size_t i = 0; i < reports.size() && i < usable.size(); ++i) {
        const auto& r = reports[i];
        const auto& key = usable[i].key;
        if (r.won) {
            route_backoff.succeeded(key);
            route_in_use = usable[i].route.describe();
            // Only a preference: a failed write must not cost the connection just made.
            (void)store->set_setting(kLastRoute, as_bytes(key));
        } else if (r.started && !r.cancelled) {
            route_backoff.failed(key, now);
        }
    }
    return opened;
}

// Which list to keep. From the server's own authenticated connection the newest word is the
// server's, whatever its date (a clock set back, or a link the operator signed later than the
// running server's list, must not lock the client to a list). Anything else must be newer
// than what is kept, and never takes away every relay the kept one has (the public list
// withholds them; a copy signed without them would strand a blocked user just the same).
Result<EndpointListInfo> Client::Impl::accept_endpoint_list(ByteView signed_list,
                                                            bool from_server) {
    PP_TRY(key, pinned_endpoint_key(*store));
    PP_TRY(list, wire::verify_endpoint_list(signed_list, key));
    PP_TRY(cached, cached_list(*store));
    bool keep = !cached || from_server;
    if (!keep) {
        if (list.relays.empty() && !cached->relays.empty())
            return make_error(ErrorCode::kLimitExceeded,
                              "this endpoint list withholds the relays the kept one has");
        if (list.issued_at < cached->issued_at)
            return make_error(ErrorCode::kLimitExceeded,
                              "an older endpoint list than the one kept");
        keep = list.issued_at > cached->issued_at ||
               (cached->relays_withheld && !list.relays_withheld);
    }
    if (!keep) return info_of(*cached);  // the same list again: nothing changes
    PP_TRY_VOID(store->set_setting(kEndpointList, signed_list));
    return info_of(list);
}

Result<void> Client::Impl::refresh_endpoints(milliseconds timeout, bool force) {
    PP_TRY(fetched_ms, store->counter("endpoints_fetched_ms", 0));
    if (!force && unix_ms_now() - fetched_ms < kEndpointListMaxAgeMs) return {};
    if (!conn || !authenticated) return make_error(ErrorCode::kNoSession, "not connected");
    v1::Request req;
    req.mutable_get_endpoints();
    // On this connection only: called while connecting, it must neither drop the connection
    // nor reconnect (rpc() would do both).
    PP_TRY(resp, conn->call(req, timeout));
    // Answered: not asked again for an hour, whatever the answer.
    PP_TRY_VOID(store->set_counter("endpoints_fetched_ms", unix_ms_now()));
    if (resp.status() == v1::NOT_FOUND) return {};  // this server publishes no list
    if (resp.status() != v1::OK) return status_error(resp);
    const auto& body = resp.get_endpoints();
    PP_TRY(pinned, store->setting(kEndpointKey));
    const auto& offered = body.endpoint_key();
    if (!pinned) {
        // Registered before the server had an endpoint key: pin the one it shows now, over
        // this TLS connection that already proved the server's pinned certificate.
        PP_TRY_VOID(crypto::VerifyKey::from_bytes(as_bytes(offered)));
        PP_TRY_VOID(store->set_setting(kEndpointKey, as_bytes(offered)));
    } else if (as_bytes(offered).size() != pinned->size() ||
               !std::equal(pinned->begin(), pinned->end(), as_bytes(offered).begin())) {
        return make_error(ErrorCode::kUntrustedIdentity, "the server's endpoint key changed");
    }
    PP_TRY_VOID(accept_endpoint_list(as_bytes(body.signed_list()), true));
    return {};
}

Result<RouteInfo> Client::add_route(std::string_view link) {
    auto& im = *impl_;
    if (!im.account && link.substr(0, 19) == "paperplane://server")
        return make_error(ErrorCode::kNoSession,
                          "register first: a server address is checked against its pin");
    const ServerAddress server = im.account ? im.account->server : ServerAddress{};
    PP_TRY(route, route_from_link(link, server));
    PP_TRY(mine, im.store->routes());
    for (const auto& e : mine)
        if (e.link == link) return make_error(ErrorCode::kLimitExceeded, "that route is added");
    PP_TRY(id, im.store->add_route(link));
    return info_of(Candidate{std::move(route), RouteSource::kUser, id, ""}, {});
}

Result<std::vector<RouteInfo>> Client::routes() const {
    auto& im = *impl_;
    std::vector<RouteInfo> out;
    std::string last;
    if (auto l = im.store->setting(kLastRoute); l && *l) last.assign((*l)->begin(), (*l)->end());
    if (im.account) {
        PP_TRY(all, im.route_candidates(im.account->server));
        for (const auto& c : all) out.push_back(info_of(c, last));
        return out;
    }
    // Before registering only the user's own routes exist.
    PP_TRY(mine, im.store->routes());
    for (const auto& e : mine) {
        auto r = route_from_link(e.link, ServerAddress{});
        if (r) out.push_back(info_of(Candidate{std::move(*r), RouteSource::kUser, e.id, ""}, last));
    }
    return out;
}

Result<void> Client::remove_route(std::int64_t id) {
    PP_TRY(removed, impl_->store->remove_route(id));
    if (!removed) return make_error(ErrorCode::kNoSession, "no route with that id");
    return {};
}

Result<std::optional<EndpointListInfo>> Client::endpoint_list() const {
    PP_TRY(list, cached_list(*impl_->store));
    if (!list) return std::optional<EndpointListInfo>{};
    return std::optional<EndpointListInfo>(info_of(*list));
}

Result<EndpointListInfo> Client::refresh_endpoint_list(milliseconds timeout) {
    auto& im = *impl_;
    if (!im.account)
        return make_error(ErrorCode::kNoSession, "not registered yet: run `paperplane register`");
    im.next_attempt = {};
    PP_TRY_VOID(im.ensure_online(timeout));
    if (auto r = im.refresh_endpoints(timeout, true); !r) {
        // The connection may have died unnoticed (the server restarted): once more, anew.
        im.drop_connection(std::string(r.error().detail));
        im.next_attempt = {};
        PP_TRY_VOID(im.ensure_online(timeout));
        PP_TRY_VOID(im.refresh_endpoints(timeout, true));
    }
    PP_TRY(list, cached_list(*im.store));
    if (!list) return make_error(ErrorCode::kNoSession, "this server publishes no endpoint list");
    return info_of(*list);
}

Result<std::string> Client::export_endpoint_list() const {
    PP_TRY(blob, impl_->store->setting(kEndpointList));
    if (!blob) return make_error(ErrorCode::kNoSession, "no endpoint list yet: connect once first");
    return wire::format_endpoints_link(*blob);
}

Result<EndpointListInfo> Client::import_endpoint_list(std::string_view link) {
    if (!impl_->account)
        return make_error(ErrorCode::kNoSession, "not registered yet: run `paperplane register`");
    PP_TRY(blob, wire::parse_endpoints_link(link));
    return impl_->accept_endpoint_list(blob, false);
}

}  // namespace pp::client

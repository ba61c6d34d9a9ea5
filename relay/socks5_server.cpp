#include "relay/socks5_server.hpp"

#include <csignal>

#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <charconv>
#include <filesystem>

#include "relay/socks5/server_state.hpp"
#include "relay/socks5/session.hpp"

namespace pp::relay {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// "host:port" or "[v6]:port" -> endpoint; the host must be a literal address.
std::optional<tcp::endpoint> parse_listen(std::string_view text) {
    std::string_view host, port;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return std::nullopt;
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos) return std::nullopt;
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
    }
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || p > 65535)
        return std::nullopt;
    boost::system::error_code aec;
    auto addr = asio::ip::make_address(std::string(host), aec);
    if (aec) return std::nullopt;
    return tcp::endpoint(addr, static_cast<std::uint16_t>(p));
}

IpAddress to_ip(const asio::ip::address& a) {
    if (a.is_v4()) return IpAddress::from_v4(a.to_v4().to_bytes());
    return IpAddress::from_v6(a.to_v6().to_bytes());
}

// Every address of this host's interfaces, the listen address, and what public_host resolves
// to (behind 1:1 NAT the public address is on no interface): destinations that would loop back
// into the relay or reach the host itself. Failing to list the interfaces (say, a sandbox that
// forbids AF_NETLINK) is an error: a policy silently missing them would let clients reach
// services bound to the host's own addresses.
Result<std::vector<IpAddress>> own_addresses(const asio::ip::address& listen,
                                             const std::string& public_host) {
    std::vector<IpAddress> out;
    if (!public_host.empty()) {
        boost::system::error_code ec;
        const auto literal = asio::ip::make_address(public_host, ec);
        if (!ec) {
            out.push_back(to_ip(literal));
        } else {
            addrinfo hints{};
            hints.ai_socktype = SOCK_STREAM;
            addrinfo* res = nullptr;
            // Start-up only, before any client: a blocking lookup is fine here. A name that does
            // not resolve is not fatal (the interface list still covers the common case).
            if (::getaddrinfo(public_host.c_str(), nullptr, &hints, &res) == 0) {
                for (auto* r = res; r; r = r->ai_next) {
                    if (r->ai_family == AF_INET) {
                        const auto* sin = reinterpret_cast<const sockaddr_in*>(r->ai_addr);
                        std::array<std::uint8_t, 4> b;
                        std::memcpy(b.data(), &sin->sin_addr, 4);
                        out.push_back(IpAddress::from_v4(b));
                    } else if (r->ai_family == AF_INET6) {
                        const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(r->ai_addr);
                        std::array<std::uint8_t, 16> b;
                        std::memcpy(b.data(), &sin6->sin6_addr, 16);
                        out.push_back(IpAddress::from_v6(b));
                    }
                }
                ::freeaddrinfo(res);
            }
        }
    }
    if (!listen.is_unspecified()) {
        if (listen.is_v4())
            out.push_back(IpAddress::from_v4(listen.to_v4().to_bytes()));
        else
            out.push_back(IpAddress::from_v6(listen.to_v6().to_bytes()));
    }
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0)
        return make_error(ErrorCode::kInternal,
                          "socks5: cannot list this host's addresses (getifaddrs failed; does a "
                          "sandbox forbid AF_NETLINK?); the policy needs them to deny them");
    for (auto* i = list; i; i = i->ifa_next) {
        if (!i->ifa_addr) continue;
        if (i->ifa_addr->sa_family == AF_INET) {
            const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
            std::array<std::uint8_t, 4> b;
            std::memcpy(b.data(), &sin->sin_addr, 4);
            out.push_back(IpAddress::from_v4(b));
        } else if (i->ifa_addr->sa_family == AF_INET6) {
            const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
            std::array<std::uint8_t, 16> b;
            std::memcpy(b.data(), &sin6->sin6_addr, 16);
            out.push_back(IpAddress::from_v6(b));
        }
    }
    ::freeifaddrs(list);
    return out;
}

std::string users_path(const Config& c) {
    if (!c.socks5.users_file.empty()) return c.socks5.users_file;
    return (std::filesystem::path(c.data_dir) / "socks5-users").string();
}

}  // namespace

Socks5Server::Socks5Server(asio::io_context& io, const Config& config, Metrics& metrics)
    : io_(io),
      state_(std::make_shared<socks5::ServerState>(config, metrics)),
      strand_(asio::make_strand(io)),
      acceptor_(strand_),
      accept_backoff_(strand_) {}

Socks5Server::~Socks5Server() {
    stop();
}

Result<void> Socks5Server::start() {
    // splice(2) into a socket whose peer has gone raises SIGPIPE, and unlike send() it has no
    // MSG_NOSIGNAL: without this, one client vanishing mid-transfer would kill the relay.
    std::signal(SIGPIPE, SIG_IGN);
    const auto& cfg = state_->config;
    auto listen = parse_listen(cfg.socks5.listen);
    if (!listen) return make_error(ErrorCode::kMalformed, "socks5 listen is not address:port");

    const auto path = users_path(cfg);
    std::error_code fec;
    if (std::filesystem::exists(path, fec) || !cfg.socks5.allow_no_auth) {
        auto loaded = state_->users.load(path);
        if (!loaded) return loaded;
    }
    if (state_->users.size() == 0 && !cfg.socks5.allow_no_auth)
        return make_error(ErrorCode::kMalformed, "socks5 needs users unless allow_no_auth is set");

    auto own = own_addresses(listen->address(), cfg.public_host);
    if (!own) return own.error();
    auto policy = DestinationPolicy::create(cfg.socks5.allow, cfg.socks5.deny, std::move(*own));
    if (!policy) return policy.error();
    state_->policy = std::move(*policy);

    boost::system::error_code ec;
    acceptor_.open(listen->protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec && listen->address().is_v6()) acceptor_.set_option(asio::ip::v6_only(true), ec);
    if (!ec) acceptor_.bind(*listen, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        acceptor_.close(ec);
        return make_error(ErrorCode::kInternal, "cannot listen on the socks5 address");
    }
    port_ = acceptor_.local_endpoint(ec).port();
    accept();
    return {};
}

std::uint16_t Socks5Server::port() const {
    return port_;
}

void Socks5Server::set_resolve_for_tests(socks5::LookupService::Resolve r) {
    state_->lookups.set_resolve(std::move(r));
}

std::string Socks5Server::users_file() const {
    return users_path(state_->config);
}

Result<void> Socks5Server::reload_users() {
    return state_->users.load(users_path(state_->config));
}

void Socks5Server::accept() {
    acceptor_.async_accept(
        asio::make_strand(io_), [this](boost::system::error_code ec, tcp::socket socket) {
            if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
            if (ec) {
                // Out of descriptors or memory: pause instead of spinning on the same error.
                accept_backoff_.expires_after(std::chrono::milliseconds(50));
                accept_backoff_.async_wait([this](boost::system::error_code tec) {
                    if (!tec && acceptor_.is_open()) accept();
                });
                return;
            }
            auto& m = state_->metrics;
            m.connections_total.fetch_add(1, std::memory_order_relaxed);
            const auto open = m.connections_open.fetch_add(1, std::memory_order_relaxed);
            if (open >= static_cast<std::int64_t>(state_->config.max_connections)) {
                m.connections_open.fetch_sub(1, std::memory_order_relaxed);
                m.connections_over_cap.fetch_add(1, std::memory_order_relaxed);
                boost::system::error_code ignored;
                socket.close(ignored);
            } else {
                std::make_shared<socks5::Session>(state_, std::move(socket))->start();
            }
            accept();
        });
}

// From any thread (a signal watcher, a test): the acceptor is touched only on its strand.
void Socks5Server::stop() {
    // Lookups still running deliver nothing from now on: the io_context may be about to go.
    state_->lookups.shutdown();
    asio::dispatch(acceptor_.get_executor(), [this] { stop_now(); });
}

void Socks5Server::stop_now() {
    boost::system::error_code ec;
    acceptor_.close(ec);
    accept_backoff_.cancel();
    std::vector<std::shared_ptr<socks5::Session>> live;
    {
        std::lock_guard lock(state_->sessions_mutex);
        state_->stopping = true;
        for (auto& w : state_->sessions)
            if (auto s = w.lock()) live.push_back(std::move(s));
    }
    for (auto& s : live) asio::post(s->executor(), [s] { s->close(); });
}

}  // namespace pp::relay

#include "relay/socks5/udp_association.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <deque>
#include <functional>
#include <utility>

#include "relay/socks5/asio_addresses.hpp"

namespace pp::relay::socks5 {

namespace asio = boost::asio;
using asio::ip::udp;

namespace {
using Clock = std::chrono::steady_clock;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxDatagram = 65535;
constexpr std::size_t kHeaderRoom = 22;  // the largest IP header: RSV FRAG ATYP + 16 + 2

// One datagram buffer per io thread, shared by every association on it: a datagram is taken
// in, relayed and sent without suspending in between, so no association owns 64 KiB.
std::vector<std::uint8_t>& scratch() {
    thread_local std::vector<std::uint8_t> buf(kHeaderRoom + kMaxDatagram);
    return buf;
}
// Destinations whose answers we let back in; the oldest is forgotten past this many.
constexpr std::size_t kMaxPeers = 256;
constexpr unsigned kMaxErrorsInARow = 64;

}  // namespace

struct UdpAssociation::Shared : std::enable_shared_from_this<UdpAssociation::Shared> {
    Shared(std::shared_ptr<ServerState> s, Executor ex, std::shared_ptr<Metrics::UserCounters> u,
           std::uint64_t key)
        : state(std::move(s)),
          user(std::move(u)),
          lookup_key(key),
          client_socket(ex),
          remote_v4(ex),
          remote_v6(ex),
          idle_timer(ex) {}

    std::shared_ptr<ServerState> state;
    std::shared_ptr<Metrics::UserCounters> user;
    std::uint64_t lookup_key;
    udp::socket client_socket;
    udp::socket remote_v4, remote_v6;
    asio::steady_timer* lookup_wait = nullptr;  // while a name lookup is awaited
    asio::steady_timer idle_timer;
    Clock::time_point last_activity = Clock::now();
    std::function<void()> on_end;
    asio::ip::address client_ip;
    std::optional<udp::endpoint> client_endpoint;  // fixed once known
    std::deque<udp::endpoint> peers;
    bool closed = false;

    asio::awaitable<std::pair<boost::system::error_code, std::size_t>> receive(
        udp::socket& s, udp::endpoint& sender, std::size_t room);
    asio::awaitable<void> from_client();
    void arm_idle();
    void end();
    asio::awaitable<void> from_remote(udp::socket& s);
    void remember(const udp::endpoint& ep) {
        if (std::find(peers.begin(), peers.end(), ep) != peers.end()) return;
        if (peers.size() == kMaxPeers) peers.pop_front();
        peers.push_back(ep);
    }
    udp::socket* remote_for(const udp::endpoint& ep) {
        auto& s = ep.address().is_v4() ? remote_v4 : remote_v6;
        if (!s.is_open()) {
            boost::system::error_code ec;
            s.open(ep.protocol(), ec);
            if (!ec) s.bind(udp::endpoint(ep.protocol(), 0), ec);
            if (!ec) s.non_blocking(true, ec);
            if (ec) {
                s.close(ec);
                return nullptr;
            }
            asio::co_spawn(s.get_executor(), from_remote(s),
                           [self = shared_from_this()](std::exception_ptr) {});
        }
        return &s;
    }
};

UdpAssociation::UdpAssociation(std::shared_ptr<ServerState> state, Executor strand,
                               std::shared_ptr<Metrics::UserCounters> user,
                               std::uint64_t lookup_key)
    : shared_(std::make_shared<Shared>(std::move(state), std::move(strand), std::move(user),
                                       lookup_key)) {}

UdpAssociation::~UdpAssociation() {
    close();
}

std::optional<udp::endpoint> UdpAssociation::open(const asio::ip::address& local,
                                                  const asio::ip::address& client_ip,
                                                  const Address& announced) {
    auto& s = *shared_;
    s.client_ip = client_ip;
    // A client that names its address and port is held to the port; 0 means "not known yet".
    if (announced.port != 0) s.client_endpoint = udp::endpoint(client_ip, announced.port);
    boost::system::error_code ec;
    const udp::endpoint bind_to(local, 0);
    s.client_socket.open(bind_to.protocol(), ec);
    if (!ec) s.client_socket.bind(bind_to, ec);
    if (!ec) s.client_socket.non_blocking(true, ec);
    if (ec) return std::nullopt;
    auto ep = s.client_socket.local_endpoint(ec);
    if (ec) return std::nullopt;
    return ep;
}

void UdpAssociation::start(std::function<void()> on_end) {
    shared_->on_end = std::move(on_end);
    shared_->last_activity = Clock::now();
    shared_->arm_idle();
    asio::co_spawn(shared_->client_socket.get_executor(), shared_->from_client(),
                   [keep = shared_](std::exception_ptr) {});
}

void UdpAssociation::close() {
    auto& s = *shared_;
    if (s.closed) return;
    s.closed = true;
    boost::system::error_code ec;
    s.client_socket.close(ec);
    s.remote_v4.close(ec);
    s.remote_v6.close(ec);
    s.idle_timer.cancel();
    s.on_end = nullptr;
    if (s.lookup_wait) s.lookup_wait->cancel();
}

// Waits until `s` has a datagram and takes it into this thread's scratch buffer (at `room`),
// so an association holds no buffer while it waits. Returns 0 bytes with no error when the
// readiness was spurious. Callers relay the datagram before they next suspend.
asio::awaitable<std::pair<boost::system::error_code, std::size_t>> UdpAssociation::Shared::receive(
    udp::socket& s, udp::endpoint& sender, std::size_t room) {
    auto [wec] = co_await s.async_wait(udp::socket::wait_read, kUseTuple);
    if (wec) co_return std::pair{wec, std::size_t{0}};
    auto& buf = scratch();
    boost::system::error_code ec;
    const std::size_t n =
        s.receive_from(asio::buffer(buf.data() + room, buf.size() - room), sender, 0, ec);
    if (ec == asio::error::would_block)
        co_return std::pair{boost::system::error_code{}, std::size_t{0}};
    co_return std::pair{ec, n};
}

asio::awaitable<void> UdpAssociation::Shared::from_client() {
    auto self = shared_from_this();
    unsigned errors = 0;
    auto& metrics = state->metrics;
    const auto& policy = state->policy;
    for (;;) {
        udp::endpoint sender;
        auto [ec, n] = co_await receive(client_socket, sender, 0);
        if (closed) co_return;
        // An ICMP error reported on the socket is not fatal; a socket that only errs is.
        if (ec) {
            if (++errors > kMaxErrorsInARow) co_return end();
            continue;
        }
        errors = 0;
        if (n == 0) continue;
        if (sender.address() != client_ip) continue;
        if (client_endpoint && *client_endpoint != sender) continue;
        auto d = parse_udp_datagram(ByteView(scratch().data(), n));
        if (d.status != Status::kDone || d.value.fragment != 0) continue;  // no reassembly
        if (!client_endpoint) client_endpoint = sender;

        const Address& dst = d.value.destination;
        ByteView payload = d.value.data;
        std::vector<std::uint8_t> held;  // the payload, while a lookup suspends us
        std::optional<udp::endpoint> target;
        if (dst.type == AddressType::kDomain) {
            if (!DestinationPolicy::host_name_valid(dst.domain)) continue;  // no such host
            if (!policy.host_allowed(dst.domain)) {
                metrics.socks5_denied.fetch_add(1, std::memory_order_relaxed);
                continue;
            }
            held.assign(payload.begin(), payload.end());
            payload = ByteView(held.data(), held.size());
            std::string host = dst.domain;
            auto answer = co_await state->lookups.lookup(
                std::move(host), lookup_key, state->config.socks5.connect_timeout, &lookup_wait);
            if (closed) co_return;
            if (answer.outcome != LookupService::Outcome::kDone) continue;
            const bool via_allowed = policy.host_explicitly_allowed(dst.domain);
            for (const auto& a : answer.addresses)
                if (policy.address_allowed(to_ip(a), via_allowed)) {
                    target = udp::endpoint(a, dst.port);
                    break;
                }
        } else {
            const auto a = to_asio(dst);
            if (policy.address_allowed(to_ip(a))) target = udp::endpoint(a, dst.port);
        }
        if (!target) {
            metrics.socks5_denied.fetch_add(1, std::memory_order_relaxed);
            continue;
        }
        udp::socket* out = remote_for(*target);
        if (!out) continue;
        remember(*target);
        // Non-blocking: a datagram that finds the send buffer full is dropped, as UDP may.
        boost::system::error_code sec;
        const std::size_t sent =
            out->send_to(asio::buffer(payload.data(), payload.size()), *target, 0, sec);
        if (sec) continue;
        last_activity = Clock::now();
        metrics.socks5_udp_datagrams.fetch_add(1, std::memory_order_relaxed);
        user->bytes_up.fetch_add(sent, std::memory_order_relaxed);
    }
}

asio::awaitable<void> UdpAssociation::Shared::from_remote(udp::socket& s) {
    auto self = shared_from_this();
    unsigned errors = 0;
    for (;;) {
        udp::endpoint sender;
        auto [ec, n] = co_await receive(s, sender, kHeaderRoom);
        if (closed) co_return;
        if (ec) {
            if (++errors > kMaxErrorsInARow) co_return end();
            continue;
        }
        errors = 0;
        if (n == 0) continue;
        if (!client_endpoint || std::find(peers.begin(), peers.end(), sender) == peers.end())
            continue;
        auto& buf = scratch();
        Buffer header;
        const auto a = sender.address();
        const Address from = a.is_v4() ? Address::ipv4(a.to_v4().to_bytes(), sender.port())
                                       : Address::ipv6(a.to_v6().to_bytes(), sender.port());
        (void)encode_udp_header(header, from);
        const std::size_t start = kHeaderRoom - header.size();
        std::copy(header.begin(), header.end(), buf.begin() + static_cast<std::ptrdiff_t>(start));
        if (header.size() + n > kMaxDatagram) continue;  // would not fit one datagram back
        boost::system::error_code sec;
        (void)client_socket.send_to(asio::buffer(buf.data() + start, header.size() + n),
                                    *client_endpoint, 0, sec);
        if (sec) continue;
        last_activity = Clock::now();
        state->metrics.socks5_udp_datagrams.fetch_add(1, std::memory_order_relaxed);
        user->bytes_down.fetch_add(n, std::memory_order_relaxed);
    }
}

void UdpAssociation::Shared::arm_idle() {
    if (closed) return;
    idle_timer.expires_at(last_activity + state->config.socks5.idle_timeout);
    idle_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (ec || self->closed) return;
        if (Clock::now() - self->last_activity >= self->state->config.socks5.idle_timeout)
            return self->end();
        self->arm_idle();
    });
}

// Ends the association and, through the owner, its control connection: a client must see that
// its association is gone rather than send into a socket nobody reads.
void UdpAssociation::Shared::end() {
    if (closed) return;
    auto cb = std::move(on_end);
    if (cb) cb();
}

}  // namespace pp::relay::socks5

#include "net/relay_client.hpp"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>

#include "base/unix_time.hpp"
#include "crypto/random.hpp"
#include "net/client_common.hpp"

namespace pp::net {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
namespace rw = wire::relay;

namespace {

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
// ALPN as a browser would offer it to an HTTPS site.
constexpr unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

// Closes the socket when the deadline passes, which aborts whatever step is waiting on it.
struct Deadline {
    Deadline(tcp::socket& s, std::chrono::milliseconds timeout)
        : timer(s.get_executor()), expired(std::make_shared<bool>(false)) {
        timer.expires_after(timeout);
        timer.async_wait([&s, expired = expired](const error_code& ec) {
            if (ec || *expired) return;  // cancelled: the handshake finished (and may be gone)
            *expired = true;
            error_code ignored;
            s.close(ignored);
        });
    }
    ~Deadline() { disarm(); }
    void disarm() {
        if (!*expired) *expired = true;
        timer.cancel();
    }
    asio::steady_timer timer;
    std::shared_ptr<bool> expired;
};

// Random padding of random length, so the first record's size says nothing.
Bytes random_padding() {
    std::array<std::uint8_t, 1> len{};
    crypto::random_bytes(len);
    Bytes pad(len[0]);
    crypto::random_bytes(pad);
    return pad;
}

}  // namespace

Result<rw::SessionBinding> relay_session_binding(SSL* ssl) {
    rw::SessionBinding out{};
    if (ssl == nullptr ||
        SSL_export_keying_material(ssl, out.data(), out.size(), rw::kExporterLabel.data(),
                                   rw::kExporterLabel.size(), nullptr, 0, 0) != 1) {
        return make_error(ErrorCode::kInternal, "relay: no TLS exporter");
    }
    return out;
}

asio::awaitable<Result<RelayTunnel>> relay_handshake(tcp::socket socket, const RelayEndpoint& relay,
                                                     std::string target,
                                                     std::chrono::milliseconds timeout,
                                                     std::uint64_t unix_seconds) {
    // Built (and its errors turned into values) before the first suspension.
    std::unique_ptr<asio::ssl::context> ctx;
    std::unique_ptr<RelayTunnel::Outer> outer;
    auto pin = std::make_shared<detail::PinCheck>();
    pin->expected = relay.pin;
    try {
        ctx = std::make_unique<asio::ssl::context>(detail::pinned_client_context());
        SSL_CTX_set_alpn_protos(ctx->native_handle(), kAlpn, sizeof kAlpn);
        outer = std::make_unique<RelayTunnel::Outer>(std::move(socket), *ctx);
    } catch (...) {
        co_return make_error(ErrorCode::kInternal, "relay client setup failed");
    }
    outer->set_verify_callback([pin](bool pre, asio::ssl::verify_context& vc) {
        return detail::verify_pinned(*pin, pre, vc);
    });
    detail::set_sni(outer->native_handle(), relay.host);

    if (target.empty() || target.size() > rw::kMaxTargetSize) {
        co_return make_error(ErrorCode::kMalformed, "relay target empty or too long");
    }
    const rw::AuthKey key(relay.secret);

    // A shared deadline for the whole exchange: handshake, authenticator, status.
    Deadline deadline(outer->next_layer(), timeout);
    auto [hec] = co_await outer->async_handshake(asio::ssl::stream_base::client, kTok);
    if (hec) {
        if (pin->mismatch)
            co_return make_error(ErrorCode::kUntrustedIdentity, kRelayPinMismatchDetail);
        co_return *deadline.expired ? make_error(ErrorCode::kLimitExceeded, "timed out")
                                    : detail::to_error(hec, nullptr);
    }
    // Made now: its MAC covers this session's exporter value.
    const auto binding = relay_session_binding(outer->native_handle());
    if (!binding) co_return binding.error();
    rw::Nonce nonce;
    crypto::random_bytes(nonce);
    const Bytes padding = random_padding();
    auto auth = rw::encode_authenticator(key, *binding,
                                         unix_seconds != 0 ? unix_seconds : unix_seconds_now(),
                                         nonce, target, padding);
    if (!auth) co_return auth.error();
    // One write of the whole authenticator: one TLS record, which the relay reads in one go.
    auto [wec, wn] = co_await outer->async_write_some(asio::buffer(*auth), kTok);
    if (wec || wn != auth->size()) {
        co_return wec ? detail::to_error(wec, nullptr)
                      : make_error(ErrorCode::kInternal, "authenticator split");
    }
    std::array<std::uint8_t, rw::kReplySize> reply{};
    auto [rec, rn] = co_await asio::async_read(*outer, asio::buffer(reply), kTok);
    const bool timed_out = *deadline.expired;
    deadline.disarm();
    if (timed_out) co_return make_error(ErrorCode::kLimitExceeded, "timed out");
    if (rec) co_return detail::to_error(rec, nullptr);
    auto status = rw::parse_reply(reply);
    if (!status) {
        // Most likely the decoy website answering: the secret in the link is wrong, or this
        // is not a relay at all.
        co_return make_error(ErrorCode::kMalformed, "relay: no relay status (wrong secret?)");
    }
    switch (*status) {
        case rw::Status::kOk:
            co_return RelayTunnel(std::move(ctx), std::move(outer));
        case rw::Status::kNotAllowed:
            co_return make_error(ErrorCode::kLimitExceeded, "relay: target not allowed");
        case rw::Status::kUnreachable:
            co_return make_error(ErrorCode::kNoSession, "relay: target unreachable");
        case rw::Status::kBusy:
            co_return make_error(ErrorCode::kLimitExceeded, "relay: busy");
        case rw::Status::kInternal:
            break;
    }
    co_return make_error(ErrorCode::kInternal, "relay: internal error");
}

asio::awaitable<Result<RelayTunnel>> relay_connect(const RelayEndpoint& relay, std::string target,
                                                   std::chrono::milliseconds timeout) {
    const auto start = std::chrono::steady_clock::now();
    auto executor = co_await asio::this_coro::executor;
    tcp::socket socket(executor);
    {
        Deadline deadline(socket, timeout);
        tcp::resolver resolver(executor);
        auto [rec, results] =
            co_await resolver.async_resolve(relay.host, std::to_string(relay.port), kTok);
        if (rec) co_return make_error(ErrorCode::kInternal, "cannot resolve relay");
        auto [cec, ep] = co_await asio::async_connect(socket, results, kTok);
        if (*deadline.expired) co_return make_error(ErrorCode::kLimitExceeded, "timed out");
        if (cec) co_return make_error(ErrorCode::kNoSession, "cannot connect to relay");
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    const auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    const auto left = spent < timeout ? timeout - spent : std::chrono::milliseconds(1);
    co_return co_await relay_handshake(std::move(socket), relay, std::move(target), left);
}

}  // namespace pp::net

#pragma once
// The client's side of a Paperplane relay (relay mode of paperplane-relay): TLS to the relay,
// pinned to the certificate in the relay link, then the authenticator in the first record and
// the relay's two-byte status. What comes back is a byte stream to the home server, over which
// the caller runs its own end-to-end TLS: the relay only ever sees that inner ciphertext.
//
// Unlike net's other public headers this one carries Asio: the tunnel is an Asio AsyncStream
// so that asio::ssl::stream<RelayTunnel&> (or Beast) can sit directly on it.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "net/relay_endpoint.hpp"
#include "wire/relay_auth.hpp"

namespace pp::net {

// Bytes to and from the home server, through the relay. An Asio AsyncStream (get_executor,
// async_read_some, async_write_some); one read and one write may be outstanding at a time.
class RelayTunnel {
  public:
    using Outer = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;
    using executor_type = Outer::executor_type;
    using lowest_layer_type = Outer::lowest_layer_type;

    RelayTunnel(std::unique_ptr<boost::asio::ssl::context> ctx, std::unique_ptr<Outer> outer)
        : ctx_(std::move(ctx)), outer_(std::move(outer)) {}

    executor_type get_executor() noexcept { return outer_->get_executor(); }
    lowest_layer_type& lowest_layer() noexcept { return outer_->lowest_layer(); }
    Outer& outer() noexcept { return *outer_; }

    template <typename MutableBuffers, typename Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        return outer_->async_read_some(buffers, std::forward<Token>(token));
    }
    template <typename ConstBuffers, typename Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        return outer_->async_write_some(buffers, std::forward<Token>(token));
    }

  private:
    std::unique_ptr<boost::asio::ssl::context> ctx_;  // outlives the stream built on it
    std::unique_ptr<Outer> outer_;
};

// The error of a relay whose own certificate is not the one its link pins (the relay changed
// its certificate, or someone is in its place). Not the home server's pin mismatch.
inline constexpr std::string_view kRelayPinMismatchDetail =
    "relay certificate does not match its link";

// The value both ends of the relay's outer TLS session feed into the authenticator's MAC
// (SSL_export_keying_material, label wire::relay::kExporterLabel, no context). Fails only if
// the session has no keys yet.
Result<wire::relay::SessionBinding> relay_session_binding(ssl_st* ssl);

// Over an already connected socket (the route racer may have made it through a proxy): TLS
// handshake with pin check, authenticator for `target` ("host:port", as in the relay's allow
// list), status. `unix_seconds` 0: the system clock. Everything must finish within `timeout`.
// Errors: kUntrustedIdentity (pin mismatch), kLimitExceeded "relay: target not allowed", "relay:
// busy" or "timed out", kNoSession "relay: target unreachable" or connection closed, kMalformed
// (the answer is not a relay status: wrong secret, or not a relay), kInternal (other failures).
boost::asio::awaitable<Result<RelayTunnel>> relay_handshake(boost::asio::ip::tcp::socket socket,
                                                            const RelayEndpoint& relay,
                                                            std::string target,
                                                            std::chrono::milliseconds timeout,
                                                            std::uint64_t unix_seconds = 0);

// The same, resolving and connecting to relay.host:relay.port first.
boost::asio::awaitable<Result<RelayTunnel>> relay_connect(const RelayEndpoint& relay,
                                                          std::string target,
                                                          std::chrono::milliseconds timeout);

}  // namespace pp::net

#pragma once
// paperplane-relay's relay mode: a TLS listener that relays clients holding the link's secret to
// their home server and shows everyone else an ordinary website (docs/protocol.md, "Relay
// handshake"). The daemon constructs it, calls start(), and runs the io_context on as many
// threads as it likes: each connection runs on a strand of its own. Destroy it before the
// io_context (its acceptor belongs to that context); connections still open keep what they
// share alive by themselves.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "base/bytes.hpp"
#include "base/result.hpp"
#include "relay/config.hpp"
#include "relay/metrics.hpp"
#include "relay/relay_identity.hpp"

namespace pp::relay {

namespace detail {
struct RelayContext;
}

class RelayServer {
  public:
    // `metrics` must outlive the io_context's work (connections update it until they end).
    RelayServer(boost::asio::io_context& io, const Config& config, Metrics& metrics);
    ~RelayServer();
    RelayServer(const RelayServer&) = delete;
    RelayServer& operator=(const RelayServer&) = delete;

    // Loads or creates the TLS identity and link secret in data_dir, binds config.relay.listen
    // (port 0: an ephemeral one) and starts accepting.
    Result<void> start();
    // The bound port; 0 before start().
    std::uint16_t port() const { return port_; }
    // Lowercase hex SHA-256 of the DER certificate: the link's pin. Empty before start().
    const std::string& certificate_pin() const;
    // The 32-byte link secret. Empty before start().
    ByteView link_secret() const;
    // Stops accepting; connections already open run to their end (or the io_context's stop).
    void stop();

  private:
    boost::asio::io_context& io_;
    const Config config_;
    Metrics& metrics_;
    std::shared_ptr<detail::RelayContext> ctx_;
    std::shared_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
    std::uint16_t port_ = 0;
    bool stopped_ = false;
};

}  // namespace pp::relay

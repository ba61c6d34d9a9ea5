#pragma once
// One SOCKS5 client connection from accept to close: the negotiation (greeting, RFC 1929 auth,
// request) under the handshake deadline, then CONNECT's splice pump or a UDP association.
// Every handler runs on the connection's strand. After the negotiation the session holds no
// buffers: the coroutine frame that parsed the handshake is gone, and pipes are borrowed from the
// pool only while bytes are in flight.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <chrono>
#include <list>
#include <memory>

#include "relay/socks5/codec.hpp"
#include "relay/socks5/server_state.hpp"

namespace pp::relay::socks5 {

class UdpAssociation;

class Session : public std::enable_shared_from_this<Session> {
  public:
    using Socket = boost::asio::ip::tcp::socket;

    // `client` was accepted on its own strand; the caller already counted it in
    // connections_open, which the destructor gives back.
    Session(std::shared_ptr<ServerState> state, Socket client);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Registers the session (for stop()) and starts the negotiation.
    void start();
    // Closes everything; pending operations finish and the last reference goes. Strand only.
    void close();
    Socket::executor_type executor() { return client_.get_executor(); }

  private:
    struct Direction {
        Socket* from = nullptr;
        Socket* to = nullptr;
        Pipe pipe;
        std::size_t in_pipe = 0;
        bool eof = false;
        bool finished = false;
        bool source_drained = false;  // the last splice in got less than it asked for
        std::atomic<std::uint64_t>* bytes = nullptr;
    };

    boost::asio::awaitable<void> negotiate();
    boost::asio::awaitable<void> connect(const Address& dst, std::span<const std::uint8_t> early);
    boost::asio::awaitable<bool> send_reply(ReplyCode code, const Address* bound = nullptr);

    // Attaches the session to `user` and counts it open there; returns the count before.
    std::int64_t adopt_user(std::shared_ptr<Metrics::UserCounters> user);
    void arm_deadline(std::chrono::steady_clock::duration d, bool close_client);
    void start_pump();
    void pump(Direction& d);
    void wait_readable(Direction& d);
    void arm_idle_timer();
    void finish_if_done();

    std::shared_ptr<ServerState> state_;
    Socket client_;
    Socket upstream_;
    boost::asio::steady_timer timer_;
    std::shared_ptr<Metrics::UserCounters> user_;
    std::uint64_t lookup_key_ = 0;  // whose share of the name lookups this session uses
    std::unique_ptr<UdpAssociation> udp_;
    boost::asio::steady_timer* lookup_wait_ = nullptr;  // while a name lookup is awaited
    Direction up_, down_;
    std::chrono::steady_clock::time_point last_activity_;
    std::list<std::weak_ptr<Session>>::iterator registry_pos_;
    bool registered_ = false;
    bool closed_ = false;
    bool deadline_hit_ = false;
    unsigned timer_generation_ = 0;
    unsigned attempt_generation_ = 0;  // the connect attempt a per-address timer belongs to

    friend class UdpAssociation;
};

}  // namespace pp::relay::socks5

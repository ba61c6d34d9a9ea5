#pragma once
// Loopback plumbing for the SOCKS5 server tests: the server on its own io thread, small
// blocking destination servers (HTTP, echo, UDP echo), a raw SOCKS5 client over plain fds, and
// curl. Blocking sockets with poll() deadlines keep the tests simple and deterministic.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "relay/config.hpp"
#include "relay/metrics.hpp"
#include "relay/socks5/codec.hpp"
#include "relay/socks5_server.hpp"

namespace pp::relay::test {

using namespace std::chrono_literals;
using socks5::Buffer;

// The server under test, its io_context run on two threads as the daemon runs it on several
// (every connection's handlers must stay serialized on its strand), until stop().
class RunningServer {
  public:
    explicit RunningServer(Config config) : config_(std::move(config)) {
        server_ = std::make_unique<Socks5Server>(io_, config_, metrics_);
        auto r = server_->start();
        ok_ = r.ok();
        if (ok_)
            for (auto& t : threads_) t = std::thread([this] { io_.run(); });
    }
    ~RunningServer() {
        if (ok_) {
            server_->stop();  // from a thread that is not running the io_context
            for (auto& t : threads_) t.join();
        }
    }
    bool ok() const { return ok_; }
    std::uint16_t port() const { return server_->port(); }
    Metrics& metrics() { return metrics_; }
    Socks5Server& server() { return *server_; }

  private:
    Config config_;
    Metrics metrics_;
    boost::asio::io_context io_;
    std::unique_ptr<Socks5Server> server_;
    std::thread threads_[2];
    bool ok_ = false;
};

inline std::string write_users_file(const std::string& name, const std::string& text) {
    auto path = std::filesystem::temp_directory_path() /
                ("pp_socks5_" + name + "_" + std::to_string(::getpid()));
    std::ofstream(path) << text;
    return path.string();
}

inline Config base_config(const std::string& users_file) {
    Config c;
    c.socks5.enabled = true;
    c.socks5.listen = "127.0.0.1:0";
    c.socks5.users_file = users_file;
    c.socks5.allow = {"127.0.0.0/8", "::1"};
    c.socks5.handshake_timeout = 2s;
    c.socks5.connect_timeout = 2s;
    return c;
}

inline int listen_tcp(bool v6, std::uint16_t* port) {
    int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_storage ss{};
    socklen_t len;
    if (v6) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        len = sizeof *a;
    } else {
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *a;
    }
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, 4096) != 0) {
        ::close(fd);
        return -1;
    }
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    *port = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                     : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    return fd;
}

inline int connect_tcp(bool v6, std::uint16_t port) {
    int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage ss{};
    socklen_t len;
    if (v6) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        a->sin6_port = htons(port);
        len = sizeof *a;
    } else {
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a->sin_port = htons(port);
        len = sizeof *a;
    }
    if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

inline bool send_all(int fd, const void* p, std::size_t n) {
    auto* c = static_cast<const char*>(p);
    while (n > 0) {
        ssize_t w = ::send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0) return false;
        c += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}
inline bool send_all(int fd, const Buffer& b) {
    return send_all(fd, b.data(), b.size());
}

// Reads until `n` bytes, EOF, or the deadline; returns what arrived.
inline Buffer read_n(int fd, std::size_t n, std::chrono::milliseconds timeout = 3000ms) {
    Buffer out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out.size() < n) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        std::uint8_t buf[4096];
        ssize_t r = ::recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
        if (r <= 0) break;
        out.insert(out.end(), buf, buf + r);
    }
    return out;
}

// True once the peer closed (EOF or reset) within `timeout`.
inline bool closed_within(int fd, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        char b[4096];
        ssize_t r = ::recv(fd, b, sizeof b, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN)) return true;
    }
}

// A SOCKS5 client negotiation over `fd`: greeting, optional RFC 1929, returns the method the
// server chose (kNoAcceptable or a failed auth: nullopt-like kGssapi is never returned).
struct Negotiated {
    bool ok = false;
    socks5::Method method = socks5::Method::kNoAcceptable;
};
inline Negotiated negotiate(int fd, const std::string& user = {}, const std::string& pass = {}) {
    using namespace socks5;
    Buffer out;
    std::vector<Method> methods{Method::kNoAuth};
    if (!user.empty()) methods = {Method::kUserPass};
    (void)encode_greeting(out, methods);
    if (!send_all(fd, out)) return {};
    auto sel = parse_method_selection(read_n(fd, 2));
    if (sel.status != Status::kDone) return {};
    if (sel.value == Method::kNoAcceptable) return {false, sel.value};
    if (sel.value == Method::kUserPass) {
        out.clear();
        (void)encode_credentials(out, user, pass);
        if (!send_all(fd, out)) return {};
        auto r = parse_auth_reply(read_n(fd, 2));
        return {r.status == Status::kDone && r.value, sel.value};
    }
    return {true, sel.value};
}

// Sends a request and reads the reply (sized from its ATYP).
inline socks5::Parsed<socks5::Reply> request(int fd, socks5::Command c, const socks5::Address& a) {
    Buffer out;
    (void)socks5::encode_request(out, c, a);
    send_all(fd, out);
    Buffer in = read_n(fd, 5);
    if (in.size() == 5) {
        std::size_t rest = in[3] == 1 ? 5 : in[3] == 4 ? 17 : in[3] == 3 ? in[4] + 2u : 0;
        auto more = read_n(fd, rest);
        in.insert(in.end(), more.begin(), more.end());
    }
    return socks5::parse_reply(in);
}

// Accepts on `listen_fd` until stopped; `serve` handles each connection on its own thread.
class TcpServer {
  public:
    template <typename Serve>
    TcpServer(bool v6, Serve serve) {
        fd_ = listen_tcp(v6, &port_);
        thread_ = std::thread([this, serve] {
            while (!stop_) {
                pollfd p{fd_, POLLIN, 0};
                if (::poll(&p, 1, 50) <= 0) continue;
                int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
                if (c < 0) continue;
                workers_.emplace_back([c, serve] {
                    serve(c);
                    ::close(c);
                });
            }
        });
    }
    ~TcpServer() {
        stop_ = true;
        thread_.join();
        for (auto& w : workers_) w.join();
        ::close(fd_);
    }
    std::uint16_t port() const { return port_; }

  private:
    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
    std::vector<std::thread> workers_;
};

// Answers any request with a fixed HTTP response.
inline const std::string kBody = "hello through the relay\n";
inline void serve_http(int fd) {
    char buf[4096];
    std::string req;
    while (req.find("\r\n\r\n") == std::string::npos) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 3000) <= 0) return;
        ssize_t r = ::recv(fd, buf, sizeof buf, 0);
        if (r <= 0) return;
        req.append(buf, static_cast<std::size_t>(r));
    }
    std::string resp = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kBody.size()) +
                       "\r\nConnection: close\r\n\r\n" + kBody;
    send_all(fd, resp.data(), resp.size());
}

// Reads to EOF, then sends everything back and closes: needs half-close to work both ways.
inline void serve_echo_after_eof(int fd) {
    std::string all;
    char buf[4096];
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 3000) <= 0) return;
        ssize_t r = ::recv(fd, buf, sizeof buf, 0);
        if (r < 0) return;
        if (r == 0) break;
        all.append(buf, static_cast<std::size_t>(r));
    }
    send_all(fd, all.data(), all.size());
}

// Sends bytes until the peer goes away (a download the client abandons).
inline void serve_flood(int fd) {
    const std::string chunk(64 * 1024, 'x');
    for (int i = 0; i < 4096; ++i)
        if (!send_all(fd, chunk.data(), chunk.size())) return;
}

// Takes a little of an upload, then hangs up while the client is still sending.
inline void serve_read_then_close(int fd) {
    (void)read_n(fd, 64 * 1024);
}

// Counters move on the server's thread, a moment after the client saw the effect.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 2000ms) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

struct CurlResult {
    int exit_code = -1;
    std::string output;
};
inline CurlResult run_curl(const std::string& args) {
    CurlResult r;
    std::string cmd = "curl -sS --max-time 10 " + args + " 2>&1";
    FILE* f = ::popen(cmd.c_str(), "r");
    if (!f) return r;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) r.output.append(buf, n);
    int status = ::pclose(f);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

}  // namespace pp::relay::test

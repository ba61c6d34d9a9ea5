#pragma once
// A loopback TCP forwarder for tests: listens on an ephemeral 127.0.0.1 port and copies bytes
// both ways to the target port (settable later: the forwarder's address can be handed to a
// server before that server has its own port). close() stops listening and cuts every
// connection, which is how a test makes an address "blocked" (refused from then on).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace pp::test {

class TcpForwarder {
  public:
    explicit TcpForwarder(std::uint16_t target_port = 0) : target_(target_port) {
        listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a = loopback(0);
        if (::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
            ::listen(listener_, 64) != 0)
            return;
        socklen_t len = sizeof a;
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        acceptor_ = std::thread([this] { accept_loop(); });
    }
    ~TcpForwarder() { close(); }
    TcpForwarder(const TcpForwarder&) = delete;
    TcpForwarder& operator=(const TcpForwarder&) = delete;

    std::uint16_t port() const { return port_; }
    void set_target(std::uint16_t target_port) { target_ = target_port; }
    // A black hole for answers: what the target sends is no longer passed on (nor read, so it
    // piles up in the kernel), while what the client sends still arrives. Connections stay
    // open: the client only notices by waiting in vain.
    void swallow_replies() { swallow_ = true; }

    void close() {
        if (stopping_.exchange(true)) return;
        ::shutdown(listener_, SHUT_RDWR);
        // Joined before closing: a closed descriptor's number could be reused meanwhile and
        // the acceptor would take someone else's connections.
        if (acceptor_.joinable()) acceptor_.join();
        ::close(listener_);
        std::vector<std::thread> pumps;
        {
            std::lock_guard lock(mutex_);
            for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
            pumps.swap(pumps_);
        }
        for (auto& t : pumps) t.join();
        std::lock_guard lock(mutex_);
        for (int fd : fds_) ::close(fd);
        fds_.clear();
    }

  private:
    static sockaddr_in loopback(std::uint16_t port) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return a;
    }

    void accept_loop() {
        while (!stopping_) {
            pollfd p{listener_, POLLIN, 0};
            if (::poll(&p, 1, 100) <= 0) continue;
            const int in = ::accept(listener_, nullptr, nullptr);
            if (in < 0) continue;
            const int out = ::socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in t = loopback(target_);
            if (::connect(out, reinterpret_cast<sockaddr*>(&t), sizeof t) != 0) {
                ::close(in);
                ::close(out);
                continue;
            }
            std::lock_guard lock(mutex_);
            if (stopping_) {
                ::close(in);
                ::close(out);
                return;
            }
            fds_.push_back(in);
            fds_.push_back(out);
            pumps_.emplace_back([this, in, out] { pump(in, out, nullptr); });
            pumps_.emplace_back([this, in, out] { pump(out, in, &swallow_); });
        }
    }

    void pump(int from, int to, const std::atomic<bool>* swallow) {
        char buf[16384];
        for (;;) {
            if (swallow != nullptr && *swallow) {
                if (stopping_) break;
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
                continue;
            }
            pollfd p{from, POLLIN, 0};
            if (::poll(&p, 1, 50) == 0) continue;
            if (swallow != nullptr && *swallow) continue;  // it may have begun while waiting
            const auto n = ::read(from, buf, sizeof buf);
            if (n <= 0) break;
            if (::send(to, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) break;
        }
        ::shutdown(to, SHUT_WR);
    }

    std::atomic<std::uint16_t> target_;
    std::uint16_t port_ = 0;
    int listener_ = -1;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> swallow_{false};
    std::thread acceptor_;
    std::mutex mutex_;
    std::vector<int> fds_;
    std::vector<std::thread> pumps_;
};

}  // namespace pp::test

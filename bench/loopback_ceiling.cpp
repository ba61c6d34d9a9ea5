// pp_loopback_ceiling: a ceiling for the traffic bench/server_load.sh sends, measured in the
// same run as the server. Two processes, one thread each: a forwarder and a generator, over
// loopback TCP, in plain epoll loops with no framework. Each message costs the frames of the
// wire protocol and nothing else:
//
//   sender -> forwarder   send (content + 64 bytes)
//   forwarder -> sender   OK
//   forwarder -> peer     push (content + 48 bytes)
//   peer -> forwarder     ack, one per --ack-batch pushes on that connection (default 1)
//   forwarder -> peer     OK for the ack (unless --no-ack-response)
//
// With --tls each frame is a TLS 1.3 record (OpenSSL, its default suites, read-ahead on as in
// the server's stream); without it the frames go as plain bytes. Nothing is parsed beyond a
// length and a destination, nothing is stored, checked or logged. What it bounds: a server
// that writes each frame as it comes (a record and a send() each), with one forwarding thread,
// sharing the machine with its load generator, as bench/server_load.sh runs it on a 2-core
// machine. A real server adds WebSocket framing, protobuf, checks and a durable commit per
// message on top. --coalesce writes what each round of events (every ready connection, until
// epoll has nothing more) queued for a connection in one record and one send().
//
// The generator runs a closed loop like pp_server_load's: every connection keeps at most W sends
// awaiting their OK and sends to random peers until M messages per connection were delivered.
// CPU per message is read from /proc for the forwarder and from getrusage for the generator, over
// the timed phase only (handshakes excluded).
//
//   pp_loopback_ceiling [--connections N] [--messages M] [--window W] [--content-bytes B]
//                       [--ack-batch K] [--tls] [--coalesce] [--no-ack-response]
//                       [--timeout-s S]
// Prints a Markdown table row: connections, mode, deliveries/s, generator, forwarder and total
// CPU per message. Exits 1 if the phase does not finish within the timeout.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct Options {
    unsigned connections = 1000;
    unsigned messages = 20;
    unsigned window = 4;
    unsigned content_bytes = 256;
    unsigned timeout_s = 600;
    bool tls = false;
    unsigned ack_batch = 1;
    bool ack_response = true;
    bool coalesce = false;
};

// The forwarder, so that the generator failing anywhere does not leave it behind (it would
// hold the caller's stdout pipe open and wait in accept() forever).
pid_t g_forwarder = 0;

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "pp_loopback_ceiling: %s: %s\n", what, std::strerror(errno));
    ERR_print_errors_fp(stderr);
    if (g_forwarder > 0) kill(g_forwarder, SIGKILL);
    std::exit(1);
}

// Frame: u32 length (whole frame), u32 destination connection, u8 kind, padding.
enum Kind : std::uint8_t { kSend = 0, kOk = 1, kPush = 2, kAck = 3, kAckOk = 4 };
constexpr std::size_t kHeader = 9;
constexpr std::size_t kOkBytes = 12;  // a bare response: request id and status
constexpr std::size_t kAckBytes = 28;

std::vector<std::uint8_t> make_frame(std::size_t size, Kind kind, std::uint32_t dest = 0) {
    std::vector<std::uint8_t> f(size, 0x5a);
    const auto len = static_cast<std::uint32_t>(size);
    std::memcpy(f.data(), &len, 4);
    std::memcpy(f.data() + 4, &dest, 4);
    f[8] = kind;
    return f;
}

// One end of a connection: a socket, its TLS state if any, what was read and not yet framed,
// and what could not be written yet.
struct Conn {
    int fd = -1;
    SSL* ssl = nullptr;
    std::vector<std::uint8_t> in;
    std::vector<std::uint8_t> out;
    bool want_out = false;
    unsigned outstanding = 0;  // generator: sends awaiting their OK
    unsigned to_send = 0;      // generator: sends this connection still makes
    unsigned unacked = 0;      // generator: pushes not yet acknowledged
};

class Loop {
  public:
    Loop(std::vector<Conn>& conns, bool coalesce)
        : conns_(conns), coalesce_(coalesce), ep_(epoll_create1(0)) {
        if (ep_ < 0) die("epoll_create1");
    }
    ~Loop() { close(ep_); }
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;

    void add(std::uint32_t idx) {
        epoll_event e{};
        e.events = EPOLLIN;
        e.data.u32 = idx;
        if (fcntl(conns_[idx].fd, F_SETFL, O_NONBLOCK) != 0) die("fcntl");
        if (epoll_ctl(ep_, EPOLL_CTL_ADD, conns_[idx].fd, &e) != 0) die("epoll_ctl");
    }

    // Writes now if nothing is waiting; what the socket does not take waits for EPOLLOUT.
    void write(std::uint32_t idx, const std::uint8_t* p, std::size_t n) {
        Conn& c = conns_[idx];
        if (coalesce_ && !c.want_out) {
            // Held until the end of this round of events: one record and one send for all.
            if (c.out.empty()) dirty_.push_back(idx);
            c.out.insert(c.out.end(), p, p + n);
            return;
        }
        if (c.out.empty()) {
            const std::size_t done = write_some(c, p, n);
            p += done;
            n -= done;
        }
        if (n == 0) return;
        c.out.insert(c.out.end(), p, p + n);
        if (!c.want_out) set_out(idx, true);
    }

    // Runs until done() says so or the deadline passes; on_frame(idx, frame, size) per frame.
    template <class OnFrame, class Done>
    bool run(OnFrame on_frame, Done done, std::chrono::steady_clock::time_point deadline) {
        // Records the blocking hello read pulled into OpenSSL's buffer: epoll will not report
        // them, the socket having been read already.
        for (std::uint32_t idx = 0; idx < conns_.size(); ++idx)
            if (conns_[idx].ssl != nullptr && SSL_has_pending(conns_[idx].ssl) == 1)
                if (!read_frames(idx, on_frame)) return false;
        std::vector<epoll_event> ev(std::max<std::size_t>(conns_.size(), 1));
        bool more_ready = false;  // the last epoll_wait filled the array: the round goes on
        while (!done()) {
            if (!more_ready) flush_dirty();  // the round (or the caller) is done queueing
            if (std::chrono::steady_clock::now() > deadline) return false;
            const int n =
                epoll_wait(ep_, ev.data(), static_cast<int>(ev.size()), more_ready ? 0 : 1000);
            if (n < 0 && errno != EINTR) die("epoll_wait");
            more_ready = n == static_cast<int>(ev.size());
            for (int k = 0; k < n; ++k) {
                const std::uint32_t idx = ev[k].data.u32;
                if ((ev[k].events & EPOLLOUT) != 0) flush(idx);
                if ((ev[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) == 0) continue;
                if (!read_frames(idx, on_frame)) return false;
            }
        }
        return true;
    }

    // Reads until the socket would block, handing over each whole frame. False at end of
    // stream (the other process went away).
    template <class OnFrame>
    bool read_frames(std::uint32_t idx, OnFrame& on_frame) {
        Conn& c = conns_[idx];
        for (;;) {
            const long got = read_some(c, buf_.data(), buf_.size());
            if (got == 0) return true;  // would block
            if (got < 0) return false;
            c.in.insert(c.in.end(), buf_.data(), buf_.data() + got);
            std::size_t off = 0;
            while (c.in.size() - off >= kHeader) {
                std::uint32_t len = 0;
                std::memcpy(&len, c.in.data() + off, 4);
                if (len < kHeader) {
                    std::fprintf(stderr, "pp_loopback_ceiling: bad frame length\n");
                    std::exit(1);
                }
                if (c.in.size() - off < len) break;
                on_frame(idx, c.in.data() + off, len);
                off += len;
            }
            c.in.erase(c.in.begin(), c.in.begin() + static_cast<long>(off));
        }
    }

    // Coalescing: writes what this round of events queued, a connection at a time.
    void flush_dirty() {
        for (const std::uint32_t idx : dirty_) {
            Conn& c = conns_[idx];
            if (c.want_out) continue;  // already waiting for EPOLLOUT
            flush(idx);
            if (!c.out.empty() && !c.want_out) set_out(idx, true);
        }
        dirty_.clear();
    }

    std::size_t write_some(Conn& c, const std::uint8_t* p, std::size_t n) {
        if (c.ssl != nullptr) {
            const int r = SSL_write(c.ssl, p, static_cast<int>(n));
            if (r > 0) return static_cast<std::size_t>(r);
            const int e = SSL_get_error(c.ssl, r);
            if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) return 0;
            die("SSL_write");
        }
        const ssize_t r = ::send(c.fd, p, n, MSG_NOSIGNAL);
        if (r >= 0) return static_cast<std::size_t>(r);
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        die("send");
    }

    // Bytes read, 0 when it would block, -1 at end of stream.
    static long read_some(Conn& c, std::uint8_t* p, std::size_t n) {
        if (c.ssl != nullptr) {
            const int r = SSL_read(c.ssl, p, static_cast<int>(n));
            if (r > 0) return r;
            const int e = SSL_get_error(c.ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
            return -1;
        }
        const ssize_t r = ::recv(c.fd, p, n, 0);
        if (r > 0) return r;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        return -1;
    }

    void flush(std::uint32_t idx) {
        Conn& c = conns_[idx];
        while (!c.out.empty()) {
            const std::size_t done = write_some(c, c.out.data(), c.out.size());
            if (done == 0) return;
            c.out.erase(c.out.begin(), c.out.begin() + static_cast<long>(done));
        }
        if (c.want_out) set_out(idx, false);
    }

    void set_out(std::uint32_t idx, bool on) {
        epoll_event e{};
        e.events = EPOLLIN | (on ? EPOLLOUT : 0u);
        e.data.u32 = idx;
        if (epoll_ctl(ep_, EPOLL_CTL_MOD, conns_[idx].fd, &e) != 0) die("epoll_ctl");
        conns_[idx].want_out = on;
    }

    std::vector<Conn>& conns_;
    bool coalesce_;
    std::vector<std::uint32_t> dirty_;
    std::array<std::uint8_t, 16384> buf_{};
    int ep_;
};

// A throwaway P-256 key and self-signed certificate for the forwarder; the generator does not
// verify it (a ceiling needs the record costs, not the trust decision).
SSL_CTX* server_context() {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    if (ctx == nullptr || key == nullptr || cert == nullptr) die("TLS set-up");
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    if (X509_sign(cert, key, EVP_sha256()) == 0 || SSL_CTX_use_certificate(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, key) != 1)
        die("self-signed certificate");
    X509_free(cert);
    EVP_PKEY_free(key);
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_num_tickets(ctx, 0);
    return ctx;
}

SSL_CTX* client_context() {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == nullptr) die("TLS set-up");
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    return ctx;
}

SSL* start_tls(SSL_CTX* ctx, int fd, bool server) {
    SSL* ssl = SSL_new(ctx);
    if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) die("SSL_new");
    SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_set_read_ahead(ssl, 1);  // one read() for whatever arrived, as the server's stream does
    if ((server ? SSL_accept(ssl) : SSL_connect(ssl)) != 1) die("TLS handshake");
    return ssl;
}

void set_nodelay(int fd) {
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Blocking handshake and a 4-byte hello naming the connection's index, before the timed phase.
void blocking_write(Conn& c, const void* p, std::size_t n) {
    const int r = c.ssl != nullptr ? SSL_write(c.ssl, p, static_cast<int>(n))
                                   : static_cast<int>(::send(c.fd, p, n, MSG_NOSIGNAL));
    if (r != static_cast<int>(n)) die("hello");
}

void blocking_read(Conn& c, void* p, std::size_t n) {
    const int r = c.ssl != nullptr ? SSL_read(c.ssl, p, static_cast<int>(n))
                                   : static_cast<int>(::recv(c.fd, p, n, MSG_WAITALL));
    if (r != static_cast<int>(n)) die("hello");
}

// The forwarder: answers every send with OK and hands it to its destination as a push;
// answers acks. Runs until the generator closes a connection.
[[noreturn]] void forwarder(int listener, const Options& opt) {
    SSL_CTX* ctx = opt.tls ? server_context() : nullptr;
    std::vector<Conn> conns(opt.connections);
    for (unsigned i = 0; i < opt.connections; ++i) {
        const int fd = accept(listener, nullptr, nullptr);
        if (fd < 0) die("accept");
        set_nodelay(fd);
        Conn c;
        c.fd = fd;
        if (ctx != nullptr) c.ssl = start_tls(ctx, fd, true);
        std::uint32_t idx = 0;
        blocking_read(c, &idx, sizeof idx);
        if (idx >= opt.connections) die("hello index");
        conns[idx] = std::move(c);
    }
    close(listener);
    Loop loop(conns, opt.coalesce);
    for (std::uint32_t i = 0; i < opt.connections; ++i) loop.add(i);
    const auto ok = make_frame(kOkBytes, kOk);
    const auto ack_ok = make_frame(kOkBytes, kAckOk);
    const std::size_t push_bytes = opt.content_bytes + 48;
    std::vector<std::uint8_t> push;
    loop.run(
        [&](std::uint32_t from, std::uint8_t* f, std::uint32_t len) {
            if (f[8] == kSend) {
                std::uint32_t dest = 0;
                std::memcpy(&dest, f + 4, 4);
                if (dest >= opt.connections || len < kHeader) return;
                // The push carries the content, not the send's envelope.
                push.assign(f, f + std::min<std::size_t>(len, push_bytes));
                const auto plen = static_cast<std::uint32_t>(push.size());
                std::memcpy(push.data(), &plen, 4);
                push[8] = kPush;
                loop.write(dest, push.data(), push.size());
                loop.write(from, ok.data(), ok.size());
            } else if (f[8] == kAck && opt.ack_response) {
                loop.write(from, ack_ok.data(), ack_ok.size());
            }
        },
        [] { return false; }, std::chrono::steady_clock::time_point::max());
    std::exit(0);
}

double process_cpu_s(pid_t pid) {
    const std::string path = "/proc/" + std::to_string(pid) + "/stat";
    FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) die("/proc stat");
    char line[1024] = {};
    const bool read = std::fgets(line, sizeof line, f) != nullptr;
    std::fclose(f);
    const char* p = read ? std::strrchr(line, ')') : nullptr;  // the command may hold spaces
    // After the command: state, then ten fields, then utime and stime (fields 14 and 15).
    unsigned long utime = 0, stime = 0;
    if (p == nullptr || std::sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                                    &utime, &stime) != 2)
        die("/proc stat");
    return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double own_cpu_s() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

int generator(std::uint16_t port, pid_t forwarder_pid, const Options& opt) {
    SSL_CTX* ctx = opt.tls ? client_context() : nullptr;
    std::vector<Conn> conns(opt.connections);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (std::uint32_t i = 0; i < opt.connections; ++i) {
        Conn& c = conns[i];
        c.fd = socket(AF_INET, SOCK_STREAM, 0);
        if (c.fd < 0) die("socket");
        if (connect(c.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
            die("connect");
        set_nodelay(c.fd);
        if (ctx != nullptr) c.ssl = start_tls(ctx, c.fd, false);
        blocking_write(c, &i, sizeof i);
        c.to_send = opt.messages;
    }
    Loop loop(conns, opt.coalesce);
    for (std::uint32_t i = 0; i < opt.connections; ++i) loop.add(i);

    const std::uint64_t total = std::uint64_t{opt.connections} * opt.messages;
    std::uint64_t delivered = 0, acks = 0, ack_oks = 0;
    std::mt19937 rng(12345);
    std::uniform_int_distribution<std::uint32_t> pick(0, opt.connections - 1);
    auto send = make_frame(opt.content_bytes + 64, kSend);
    const auto ack = make_frame(kAckBytes, kAck);
    auto send_one = [&](std::uint32_t from) {
        Conn& c = conns[from];
        const std::uint32_t dest = pick(rng);
        std::memcpy(send.data() + 4, &dest, 4);
        --c.to_send;
        ++c.outstanding;
        loop.write(from, send.data(), send.size());
    };

    const double fwd0 = process_cpu_s(forwarder_pid);
    const double gen0 = own_cpu_s();
    const auto t0 = std::chrono::steady_clock::now();
    for (std::uint32_t i = 0; i < opt.connections; ++i)
        while (conns[i].to_send > 0 && conns[i].outstanding < opt.window) send_one(i);
    const bool finished = loop.run(
        [&](std::uint32_t at, std::uint8_t* f, std::uint32_t) {
            switch (f[8]) {
                case kOk:
                    --conns[at].outstanding;
                    if (conns[at].to_send > 0) send_one(at);
                    break;
                case kPush:
                    ++delivered;
                    // Pushes left over at the end go unacknowledged: fewer frames, so the
                    // ceiling stays an upper bound.
                    if (++conns[at].unacked >= opt.ack_batch) {
                        conns[at].unacked = 0;
                        ++acks;
                        loop.write(at, ack.data(), ack.size());
                    }
                    break;
                case kAckOk:
                    ++ack_oks;
                    break;
                default:
                    break;
            }
        },
        [&] { return delivered == total && (!opt.ack_response || ack_oks == acks); },
        t0 + std::chrono::seconds(opt.timeout_s));
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double gen_us = (own_cpu_s() - gen0) * 1e6 / static_cast<double>(total);
    const double fwd_us = (process_cpu_s(forwarder_pid) - fwd0) * 1e6 / static_cast<double>(total);
    if (!finished) {
        std::fprintf(stderr, "pp_loopback_ceiling: %llu of %llu delivered in %.1f s: gave up\n",
                     static_cast<unsigned long long>(delivered),
                     static_cast<unsigned long long>(total), secs);
        return 1;
    }
    const std::string acking = opt.ack_batch == 1
                                   ? "ack per push"
                                   : "ack per " + std::to_string(opt.ack_batch) + " pushes";
    const std::string mode = std::string(opt.tls ? "TLS 1.3" : "plain TCP") + ", " + acking +
                             (opt.ack_response ? "" : " (no ack OK)") +
                             (opt.coalesce ? ", coalesced" : "");
    std::printf("| %u | %s | %.0f | %.1f | %.1f | %.1f |\n", opt.connections, mode.c_str(),
                static_cast<double>(total) / secs, gen_us, fwd_us, gen_us + fwd_us);
    return 0;
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        auto u = [&]() -> unsigned {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "pp_loopback_ceiling: %s needs a value\n", argv[i]);
                std::exit(2);
            }
            return static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
        };
        if (a == "--connections")
            o.connections = u();
        else if (a == "--messages")
            o.messages = u();
        else if (a == "--window")
            o.window = u();
        else if (a == "--content-bytes")
            o.content_bytes = u();
        else if (a == "--timeout-s")
            o.timeout_s = u();
        else if (a == "--tls")
            o.tls = true;
        else if (a == "--ack-batch")
            o.ack_batch = u();
        else if (a == "--coalesce")
            o.coalesce = true;
        else if (a == "--no-ack-response")
            o.ack_response = false;
        else {
            std::fprintf(stderr,
                         "usage: pp_loopback_ceiling [--connections N] [--messages M] "
                         "[--window W] [--content-bytes B] [--ack-batch K] [--tls] [--coalesce] "
                         "[--no-ack-response] "
                         "[--timeout-s S]\n");
            std::exit(2);
        }
    }
    // Connections: the generator's end of each needs an ephemeral port (32768-60999 here).
    if (o.connections < 2 || o.connections > 20000 || o.messages < 1 || o.window < 1 ||
        o.ack_batch < 1 || o.content_bytes < 8 || o.content_bytes > 60000 || o.timeout_s < 1) {
        std::fprintf(stderr, "pp_loopback_ceiling: a setting is out of range\n");
        std::exit(2);
    }
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    const Options opt = parse(argc, argv);
    const rlimit files{65536, 65536};
    setrlimit(RLIMIT_NOFILE, &files);  // best effort: too few shows up as a failed accept

    const int listener = socket(AF_INET, SOCK_STREAM, 0);
    if (listener < 0) die("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(listener, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(listener, 65535) != 0 ||
        getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
        die("listen");

    const pid_t parent = getpid();
    const pid_t child = fork();
    if (child < 0) die("fork");
    if (child == 0) {
        // Gone with the generator, however it ends.
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) std::_Exit(1);
        forwarder(listener, opt);
    }
    g_forwarder = child;
    close(listener);
    const int rc = generator(ntohs(addr.sin_port), child, opt);
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    return rc;
}

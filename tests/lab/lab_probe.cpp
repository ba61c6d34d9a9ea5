// pp_lab_probe: what the censorship lab's censor does to a suspected relay, and the capture
// reading it needs. Tests only.
//
//   pp_lab_probe stream PCAP CLIENT_IP SERVER_IP PORT OUT
//       writes to OUT the client-to-server bytes of the first TCP connection in PCAP (a tcpdump
//       capture, Ethernet or Linux cooked) that opened with a SYN from CLIENT_IP to
//       SERVER_IP:PORT, in sequence order, each byte once (retransmissions collapse).
//   pp_lab_probe records IN
//       lists the TLS records of the byte stream IN: "TYPE LENGTH" per line.
//   pp_lab_probe record IN TYPE N OUT
//       writes to OUT the body of the N-th (from 1) TLS record of content type TYPE in IN.
//   pp_lab_probe send HOST PORT FILE [--tls] [--out FILE] [--wait SECONDS]
//       connects to HOST:PORT (an IPv4 address), sends FILE's bytes (inside a fresh TLS session
//       with --tls, the certificate unchecked, as `curl -k`), then reads until the peer closes
//       or WAIT seconds (default 5) pass. Prints "received=N end=eof|reset|timeout|tls-error
//       first=XX" (XX: the first byte received, in hex, or "none"); --out keeps what came back.
//
// Exit status: 0 when the command ran (whatever the peer did), 1 on a local error, 2 on usage.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace {

using Bytes = std::vector<std::uint8_t>;

int usage() {
    std::fprintf(stderr,
                 "usage: pp_lab_probe stream PCAP CLIENT_IP SERVER_IP PORT OUT\n"
                 "       pp_lab_probe records IN\n"
                 "       pp_lab_probe record IN TYPE N OUT\n"
                 "       pp_lab_probe send HOST PORT FILE [--tls] [--out FILE] [--wait S]\n");
    return 2;
}

std::optional<Bytes> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool write_file(const std::string& path, const Bytes& data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data.data()),
              static_cast<std::streamsize>(data.size()));
    return static_cast<bool>(out);
}

std::uint32_t be32(const std::uint8_t* p) {
    return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 |
           std::uint32_t{p[3]};
}
std::uint16_t be16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}

// pcap's own fields are in the writer's byte order, told by the magic number.
struct PcapReader {
    const Bytes& data;
    bool swapped = false;
    std::uint32_t u32(std::size_t at) const {
        std::uint32_t v;
        std::memcpy(&v, data.data() + at, 4);
        return swapped ? __builtin_bswap32(v) : v;
    }
};

std::optional<std::uint32_t> parse_ipv4(const std::string& text) {
    in_addr a{};
    if (inet_pton(AF_INET, text.c_str(), &a) != 1) return std::nullopt;
    return ntohl(a.s_addr);
}

int cmd_stream(const std::string& pcap_path, const std::string& client_text,
               const std::string& server_text, const std::string& port_text,
               const std::string& out_path) {
    const auto pcap = read_file(pcap_path);
    const auto client = parse_ipv4(client_text);
    const auto server = parse_ipv4(server_text);
    const long port = std::strtol(port_text.c_str(), nullptr, 10);
    if (!pcap || !client || !server || port <= 0 || port > 65535) {
        std::fprintf(stderr, "stream: cannot read %s or bad address/port\n", pcap_path.c_str());
        return 1;
    }
    if (pcap->size() < 24) {
        std::fprintf(stderr, "stream: %s is not a pcap file\n", pcap_path.c_str());
        return 1;
    }
    PcapReader r{*pcap};
    const std::uint32_t magic = r.u32(0);
    if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1) {
        r.swapped = true;
    } else if (magic != 0xa1b2c3d4 && magic != 0xa1b23c4d) {
        std::fprintf(stderr, "stream: %s is not a pcap file (pcapng is not read)\n",
                     pcap_path.c_str());
        return 1;
    }
    const std::uint32_t linktype = r.u32(20);
    std::size_t link_header = 0;
    if (linktype == 1) {
        link_header = 14;  // Ethernet
    } else if (linktype == 113) {
        link_header = 16;  // Linux cooked (tcpdump -i any)
    } else if (linktype == 276) {
        link_header = 20;  // Linux cooked v2
    } else if (linktype == 101 || linktype == 12) {
        link_header = 0;  // raw IP
    } else {
        std::fprintf(stderr, "stream: link type %u not read\n", linktype);
        return 1;
    }

    std::optional<std::uint16_t> client_port;
    std::uint32_t isn = 0;
    std::map<std::uint32_t, Bytes> segments;  // offset in the stream -> payload
    for (std::size_t at = 24; at + 16 <= pcap->size();) {
        const std::uint32_t caplen = r.u32(at + 8);
        const std::size_t start = at + 16;
        at = start + caplen;
        if (at > pcap->size()) break;
        if (caplen < link_header + 20) continue;
        const std::uint8_t* ip = pcap->data() + start + link_header;
        const std::size_t avail = caplen - link_header;
        if ((ip[0] >> 4) != 4 || ip[9] != 6) continue;  // IPv4 TCP only
        const std::size_t ihl = static_cast<std::size_t>(ip[0] & 0x0f) * 4;
        std::size_t total = be16(ip + 2);
        if (total == 0 || total > avail) total = avail;  // GSO super-packets, truncation
        if (ihl < 20 || total < ihl + 20) continue;
        if (be32(ip + 12) != *client || be32(ip + 16) != *server) continue;
        const std::uint8_t* tcp = ip + ihl;
        const std::uint16_t sport = be16(tcp);
        const std::uint16_t dport = be16(tcp + 2);
        if (dport != port) continue;
        const std::uint32_t seq = be32(tcp + 4);
        const std::size_t doff = static_cast<std::size_t>(tcp[12] >> 4) * 4;
        const bool syn = (tcp[13] & 0x02) != 0;
        if (!client_port) {
            if (!syn) continue;
            client_port = sport;
            isn = seq;
            continue;
        }
        if (sport != *client_port || syn || doff < 20 || ihl + doff > total) continue;
        const std::size_t len = total - ihl - doff;
        if (len == 0) continue;
        const std::uint32_t offset = seq - isn - 1;
        auto& seg = segments[offset];
        if (seg.size() < len) seg.assign(tcp + doff, tcp + doff + len);
    }
    if (!client_port) {
        std::fprintf(stderr, "stream: no SYN from %s to %s:%ld in %s\n", client_text.c_str(),
                     server_text.c_str(), port, pcap_path.c_str());
        return 1;
    }
    Bytes stream;
    for (const auto& [offset, seg] : segments) {
        if (offset > stream.size()) break;  // a gap: the capture missed bytes
        const std::size_t skip = stream.size() - offset;
        if (skip < seg.size())
            stream.insert(stream.end(), seg.begin() + static_cast<long>(skip), seg.end());
    }
    if (!write_file(out_path, stream)) {
        std::fprintf(stderr, "stream: cannot write %s\n", out_path.c_str());
        return 1;
    }
    std::printf("%zu bytes from %s:%u\n", stream.size(), client_text.c_str(), *client_port);
    return 0;
}

struct Record {
    std::uint8_t type;
    Bytes body;
};

std::vector<Record> split_records(const Bytes& s) {
    std::vector<Record> out;
    for (std::size_t at = 0; at + 5 <= s.size();) {
        const std::size_t len = be16(s.data() + at + 3);
        if (at + 5 + len > s.size()) break;
        out.push_back({s[at], Bytes(s.begin() + static_cast<long>(at + 5),
                                    s.begin() + static_cast<long>(at + 5 + len))});
        at += 5 + len;
    }
    return out;
}

int cmd_records(const std::string& in_path) {
    const auto s = read_file(in_path);
    if (!s) return 1;
    for (const auto& rec : split_records(*s)) std::printf("%u %zu\n", rec.type, rec.body.size());
    return 0;
}

int cmd_record(const std::string& in_path, const std::string& type_text, const std::string& n_text,
               const std::string& out_path) {
    const auto s = read_file(in_path);
    if (!s) return 1;
    const long type = std::strtol(type_text.c_str(), nullptr, 10);
    long n = std::strtol(n_text.c_str(), nullptr, 10);
    for (const auto& rec : split_records(*s))
        if (rec.type == type && --n == 0) return write_file(out_path, rec.body) ? 0 : 1;
    std::fprintf(stderr, "record: no such record in %s\n", in_path.c_str());
    return 1;
}

using Clock = std::chrono::steady_clock;

// Waits until fd is readable (or writable) or the deadline passes.
bool wait_for(int fd, short events, Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    return ::poll(&p, 1, static_cast<int>(left)) > 0;
}

int connect_to(const std::string& host, const std::string& port_text, Clock::time_point deadline) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    const long port = std::strtol(port_text.c_str(), nullptr, 10);
    if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1 || port <= 0 || port > 65535) return -1;
    sa.sin_port = htons(static_cast<std::uint16_t>(port));
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 && errno != EINPROGRESS) {
        ::close(fd);
        return -1;
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (!wait_for(fd, POLLOUT, deadline) ||
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

struct Outcome {
    Bytes received;
    std::string end = "timeout";
};

Outcome exchange_raw(int fd, const Bytes& payload, Clock::time_point deadline) {
    Outcome o;
    for (std::size_t sent = 0; sent < payload.size();) {
        const ssize_t n = ::send(fd, payload.data() + sent, payload.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && wait_for(fd, POLLOUT, deadline))
            continue;
        if (n < 0 && errno != EAGAIN) o.end = "reset";
        break;
    }
    std::uint8_t buf[16384];
    while (wait_for(fd, POLLIN, deadline)) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
            o.received.insert(o.received.end(), buf, buf + n);
        } else if (n == 0) {
            o.end = "eof";
            break;
        } else if (errno != EAGAIN && errno != EINTR) {
            o.end = "reset";
            break;
        }
    }
    return o;
}

Outcome exchange_tls(int fd, const Bytes& payload, Clock::time_point deadline) {
    Outcome o;
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL* ssl = ctx ? SSL_new(ctx) : nullptr;
    if (!ssl || SSL_set_fd(ssl, fd) != 1) {
        o.end = "tls-error";
        SSL_free(ssl);
        SSL_CTX_free(ctx);
        return o;
    }
    SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
    // Drives one OpenSSL call over the non-blocking socket until it completes or fails.
    auto drive = [&](auto call) -> int {
        for (;;) {
            const int rc = call();
            if (rc > 0) return rc;
            const int err = SSL_get_error(ssl, rc);
            if (err == SSL_ERROR_WANT_READ && wait_for(fd, POLLIN, deadline)) continue;
            if (err == SSL_ERROR_WANT_WRITE && wait_for(fd, POLLOUT, deadline)) continue;
            if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return -2;  // timeout
            if (err == SSL_ERROR_ZERO_RETURN) return 0;
            return -1;
        }
    };
    const int hs = drive([&] { return SSL_connect(ssl); });
    if (hs <= 0) {
        o.end = hs == -2 ? "timeout" : "tls-error";
    } else {
        // One write: the relay decides by the first record.
        int wr = 1;
        if (!payload.empty())
            wr = drive(
                [&] { return SSL_write(ssl, payload.data(), static_cast<int>(payload.size())); });
        if (wr <= 0) o.end = wr == -2 ? "timeout" : "reset";
        std::uint8_t buf[16384];
        while (wr > 0) {
            const int n = drive([&] { return SSL_read(ssl, buf, sizeof buf); });
            if (n > 0) {
                o.received.insert(o.received.end(), buf, buf + n);
                continue;
            }
            o.end = n == 0 ? "eof" : n == -2 ? "timeout" : "reset";
            break;
        }
    }
    ERR_clear_error();
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    return o;
}

int cmd_send(int argc, char** argv) {
    if (argc < 5) return usage();
    const std::string host = argv[2], port = argv[3], file = argv[4];
    bool tls = false;
    std::string out_path;
    long wait_s = 5;
    for (int i = 5; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--tls") {
            tls = true;
        } else if (a == "--out" && i + 1 < argc) {
            out_path = argv[++i];
        } else if (a == "--wait" && i + 1 < argc) {
            wait_s = std::strtol(argv[++i], nullptr, 10);
        } else {
            return usage();
        }
    }
    const auto payload = read_file(file);
    if (!payload) {
        std::fprintf(stderr, "send: cannot read %s\n", file.c_str());
        return 1;
    }
    const auto deadline = Clock::now() + std::chrono::seconds(wait_s);
    const int fd = connect_to(host, port, deadline);
    if (fd < 0) {
        std::fprintf(stderr, "send: cannot connect to %s:%s\n", host.c_str(), port.c_str());
        return 1;
    }
    const Outcome o =
        tls ? exchange_tls(fd, *payload, deadline) : exchange_raw(fd, *payload, deadline);
    ::close(fd);
    if (!out_path.empty() && !write_file(out_path, o.received)) return 1;
    char first[8] = "none";
    if (!o.received.empty()) std::snprintf(first, sizeof first, "%02x", o.received[0]);
    std::printf("received=%zu end=%s first=%s\n", o.received.size(), o.end.c_str(), first);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return usage();
    const std::string cmd = argv[1];
    if (cmd == "stream" && argc == 7)
        return cmd_stream(argv[2], argv[3], argv[4], argv[5], argv[6]);
    if (cmd == "records" && argc == 3) return cmd_records(argv[2]);
    if (cmd == "record" && argc == 6) return cmd_record(argv[2], argv[3], argv[4], argv[5]);
    if (cmd == "send") return cmd_send(argc, argv);
    return usage();
}

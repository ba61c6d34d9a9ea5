// Load tool for SOCKS5 servers (bench/relay_bench.sh runs it against each one): the same
// workload directly (the physical limit) or through a SOCKS5 proxy on loopback.
//
//   bulk_1, bulk_16  Gbit/s one way into a sink, through 1 and 16 streams, for a fixed time
//   cps              connections per second: connect, SOCKS5 greeting + CONNECT, 1 KiB echo
//                    round trip, close; several workers at once, for a fixed time
//   idle_*           memory per idle proxied connection: the proxy's RSS (and PSS) summed over
//                    its process tree, with N connections open to an idle sink, minus before
//
// The sink and echo servers run in a child process of this one. Output: one
// "key value" line per figure, for the script to put in a table. Exit status 1 if any
// connection failed or a test overran its time limit, so a smoke run can fail.
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

constexpr std::size_t kEchoBytes = 1024;
constexpr std::size_t kChunk = 256 * 1024;
// Handshakes in flight at once while opening the idle connections: enough to be quick, few
// enough not to overflow a listen backlog.
constexpr unsigned kOpeners = 128;

struct Options {
    std::optional<tcp::endpoint> proxy;  // none: connect directly
    int pid = 0;                         // the proxy's process, for the memory figures
    std::chrono::milliseconds duration{3000};
    std::chrono::milliseconds warmup{300};
    unsigned streams = 16;
    unsigned workers = 8;
    unsigned idle = 10000;
    std::string only;  // run one test: bulk_1, bulk_16, cps, idle
};

// ---- the servers on the far side ------------------------------------------------------------

// Shared between this process and the servers' child process (an anonymous shared mapping).
struct Shared {
    std::atomic<std::uint64_t> sunk{0};      // bytes the sink has read
    std::atomic<std::int64_t> sink_open{0};  // sink connections open now
    std::atomic<std::uint16_t> sink_port{0}, echo_port{0};
};

// The servers run in a child process so that each side has a whole descriptor limit to itself:
// the idle test holds one descriptor per connection on each side.
struct Servers {
    Shared* shared = nullptr;
    pid_t child = -1;
    tcp::endpoint sink_endpoint() const {
        return {asio::ip::make_address_v4("127.0.0.1"), shared->sink_port.load()};
    }
    tcp::endpoint echo_endpoint() const {
        return {asio::ip::make_address_v4("127.0.0.1"), shared->echo_port.load()};
    }
};

struct ServerLoop {
    asio::io_context ioc{1};
    tcp::acceptor sink{ioc}, echo{ioc};
    std::atomic<std::uint64_t>& sunk;
    std::atomic<std::int64_t>& sink_open;

    explicit ServerLoop(Shared& sh) : sunk(sh.sunk), sink_open(sh.sink_open) {
        for (auto* a : {&sink, &echo}) {
            a->open(tcp::v4());
            a->set_option(tcp::acceptor::reuse_address(true));
            a->bind({asio::ip::make_address_v4("127.0.0.1"), 0});
            a->listen(4096);
        }
        asio::co_spawn(ioc, accept_loop(sink, true), asio::detached);
        asio::co_spawn(ioc, accept_loop(echo, false), asio::detached);
        sh.echo_port = echo.local_endpoint().port();
        sh.sink_port = sink.local_endpoint().port();  // last: the parent waits for it
    }

    asio::awaitable<void> accept_loop(tcp::acceptor& a, bool is_sink) {
        for (;;) {
            auto [ec, s] = co_await a.async_accept(kTok);
            if (ec) {
                if (ec == asio::error::operation_aborted) co_return;
                continue;
            }
            if (is_sink)
                asio::co_spawn(ioc, sink_session(std::move(s)), asio::detached);
            else
                asio::co_spawn(ioc, echo_session(std::move(s)), asio::detached);
        }
    }

    // Waits for readability and then reads into one buffer all sessions share (they run on
    // one thread), so an idle sink connection costs no buffer of its own.
    asio::awaitable<void> sink_session(tcp::socket s) {
        static std::array<char, kChunk> buf;
        sink_open.fetch_add(1);
        s.non_blocking(true);
        for (bool open = true; open;) {
            auto [ec] = co_await s.async_wait(tcp::socket::wait_read, kTok);
            if (ec) break;
            for (int i = 0; i < 16; ++i) {
                boost::system::error_code rec;
                const auto n = s.read_some(asio::buffer(buf), rec);
                if (rec == asio::error::would_block) break;
                if (rec) {
                    open = false;
                    break;
                }
                sunk.fetch_add(n, std::memory_order_relaxed);
            }
        }
        sink_open.fetch_sub(1);
    }

    asio::awaitable<void> echo_session(tcp::socket s) {
        s.set_option(tcp::no_delay(true));
        std::array<char, kEchoBytes> buf;
        auto [rec, n] = co_await asio::async_read(s, asio::buffer(buf), kTok);
        if (rec) co_return;
        auto [wec, w] = co_await asio::async_write(s, asio::buffer(buf), kTok);
        if (wec) co_return;
        // This side closes first, as an HTTP server would, so TIME_WAIT lands here on the
        // listening port and not on the proxy's outgoing ports: a proxy that binds its outgoing
        // socket before connecting (Dante) would otherwise run out of ephemeral ports.
        boost::system::error_code ignored;
        s.shutdown(tcp::socket::shutdown_send, ignored);
        (void)co_await s.async_read_some(asio::buffer(buf), kTok);
    }
};

// Forks the servers' process before this one starts any thread. It dies with us.
Servers start_servers() {
    Servers srv;
    void* mem =
        mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) throw std::runtime_error("mmap failed");
    srv.shared = new (mem) Shared;
    srv.child = fork();
    if (srv.child < 0) throw std::runtime_error("fork failed");
    if (srv.child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        try {
            ServerLoop loop(*srv.shared);
            loop.ioc.run();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "relay_bench servers: %s\n", e.what());
        }
        std::_Exit(1);
    }
    for (int i = 0; i < 500 && srv.shared->sink_port.load() == 0; ++i)
        std::this_thread::sleep_for(10ms);
    if (srv.shared->sink_port.load() == 0) throw std::runtime_error("servers did not start");
    return srv;
}

void stop_servers(const Servers& srv) {
    kill(srv.child, SIGKILL);
    waitpid(srv.child, nullptr, 0);
}

// ---- the client side ------------------------------------------------------------------------

struct Stats {
    std::atomic<std::uint64_t> failures{0};
    std::string first_failure;
    void fail(const char* what) {
        if (failures.fetch_add(1) == 0) first_failure = what;
    }
};

// Connects to `target`, through the SOCKS5 proxy if there is one: no-auth method, CONNECT by
// IPv4 address (RFC 1928). Returns false (and counts the failure) on any error.
asio::awaitable<bool> open_via(tcp::socket& s, const Options& o, const tcp::endpoint& target,
                               Stats& stats) {
    auto [cec] = co_await s.async_connect(o.proxy ? *o.proxy : target, kTok);
    if (cec) {
        stats.fail("connect");
        co_return false;
    }
    s.set_option(tcp::no_delay(true));
    if (!o.proxy) co_return true;
    const std::array<std::uint8_t, 3> greeting{5, 1, 0};
    if (auto [ec, n] = co_await asio::async_write(s, asio::buffer(greeting), kTok); ec) {
        stats.fail("greeting write");
        co_return false;
    }
    std::array<std::uint8_t, 2> method{};
    if (auto [ec, n] = co_await asio::async_read(s, asio::buffer(method), kTok);
        ec || method[0] != 5 || method[1] != 0) {
        stats.fail("no-auth method refused");
        co_return false;
    }
    const auto ip = target.address().to_v4().to_bytes();
    const std::array<std::uint8_t, 10> request{5,
                                               1,
                                               0,
                                               1,
                                               ip[0],
                                               ip[1],
                                               ip[2],
                                               ip[3],
                                               static_cast<std::uint8_t>(target.port() >> 8),
                                               static_cast<std::uint8_t>(target.port() & 0xFF)};
    if (auto [ec, n] = co_await asio::async_write(s, asio::buffer(request), kTok); ec) {
        stats.fail("connect request write");
        co_return false;
    }
    std::array<std::uint8_t, 4 + 256 + 2> reply{};
    if (auto [ec, n] = co_await asio::async_read(s, asio::buffer(reply.data(), 4), kTok);
        ec || reply[0] != 5 || reply[1] != 0) {
        stats.fail("CONNECT refused");
        co_return false;
    }
    std::size_t rest = 0;
    if (reply[3] == 1) {
        rest = 4 + 2;
    } else if (reply[3] == 4) {
        rest = 16 + 2;
    } else if (reply[3] == 3) {
        if (auto [ec, n] = co_await asio::async_read(s, asio::buffer(reply.data() + 4, 1), kTok);
            ec) {
            stats.fail("CONNECT reply");
            co_return false;
        }
        rest = std::size_t{reply[4]} + 2;
    } else {
        stats.fail("CONNECT reply address type");
        co_return false;
    }
    if (auto [ec, n] = co_await asio::async_read(s, asio::buffer(reply.data() + 5, rest), kTok);
        ec) {
        stats.fail("CONNECT reply");
        co_return false;
    }
    co_return true;
}

void close(tcp::socket& s) {
    boost::system::error_code ignored;
    s.shutdown(tcp::socket::shutdown_both, ignored);
    s.close(ignored);
}

// Runs the client io_context until its work is done, or fails the whole run after `limit`:
// a stuck proxy must not hang the benchmark (or the ctest smoke run).
void run_bounded(asio::io_context& ioc, std::chrono::milliseconds limit, const char* test) {
    ioc.restart();
    ioc.run_for(limit);
    if (!ioc.stopped()) {
        std::fprintf(stderr, "%s: did not finish in %lld ms\n", test,
                     static_cast<long long>(limit.count()));
        std::fflush(stdout);
        std::_Exit(1);
    }
}

double bulk(const Options& o, const Servers& srv, unsigned streams, Stats& stats) {
    asio::io_context ioc{1};
    static const std::vector<char> data(kChunk, 'x');
    std::vector<tcp::socket> sockets;
    for (unsigned i = 0; i < streams; ++i) sockets.emplace_back(ioc);
    std::atomic<bool> stop{false};
    std::uint64_t b0 = 0, b1 = 0;
    Clock::time_point t0, t1;
    auto run = [&]() -> asio::awaitable<void> {
        unsigned ready = 0;
        for (auto& s : sockets)
            if (co_await open_via(s, o, srv.sink_endpoint(), stats)) ++ready;
        if (ready != streams) co_return;
        for (auto& s : sockets) {
            asio::co_spawn(
                ioc,
                [&]() -> asio::awaitable<void> {
                    while (!stop.load()) {
                        auto [ec, n] = co_await s.async_write_some(asio::buffer(data), kTok);
                        if (ec) break;
                    }
                },
                asio::detached);
        }
        asio::steady_timer timer(ioc);
        timer.expires_after(o.warmup);
        co_await timer.async_wait(kTok);
        b0 = srv.shared->sunk.load();
        t0 = Clock::now();
        timer.expires_after(o.duration);
        co_await timer.async_wait(kTok);
        b1 = srv.shared->sunk.load();
        t1 = Clock::now();
        stop = true;
        for (auto& s : sockets) close(s);
    };
    asio::co_spawn(ioc, run(), asio::detached);
    run_bounded(ioc, o.duration + o.warmup + 30s, "bulk");
    if (t1 <= t0 || b1 == b0) {
        stats.fail("bulk: no data reached the sink");
        return 0;
    }
    const double seconds = std::chrono::duration<double>(t1 - t0).count();
    return static_cast<double>(b1 - b0) * 8 / seconds / 1e9;
}

double connections_per_second(const Options& o, const Servers& srv, Stats& stats) {
    asio::io_context ioc{1};
    std::uint64_t done = 0;
    const auto start = Clock::now();
    const auto deadline = start + o.duration;
    auto worker = [&]() -> asio::awaitable<void> {
        std::array<char, kEchoBytes> out, in;
        for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(i * 7);
        while (Clock::now() < deadline) {
            tcp::socket s(ioc);
            if (!co_await open_via(s, o, srv.echo_endpoint(), stats)) {
                asio::steady_timer pause(ioc, 1ms);  // no busy loop against a failing proxy
                co_await pause.async_wait(kTok);
                continue;
            }
            auto [wec, w] = co_await asio::async_write(s, asio::buffer(out), kTok);
            auto [rec, r] = co_await asio::async_read(s, asio::buffer(in), kTok);
            if (wec || rec || in != out) {
                stats.fail("echo");
            } else {
                // The server closes first; the end of stream completes the exchange.
                std::array<char, 1> eof{};
                auto [eec, e] = co_await s.async_read_some(asio::buffer(eof), kTok);
                if (eec == asio::error::eof)
                    ++done;
                else
                    stats.fail("echo: no close after the reply");
            }
            close(s);
        }
    };
    for (unsigned i = 0; i < o.workers; ++i) asio::co_spawn(ioc, worker(), asio::detached);
    run_bounded(ioc, o.duration + 30s, "cps");
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return static_cast<double>(done) / seconds;
}

// ---- memory of the proxy's process tree -----------------------------------------------------

struct Memory {
    std::uint64_t rss_kib = 0, pss_kib = 0;
    bool pss_known = true;
};

std::uint64_t field_kib(const std::filesystem::path& file, std::string_view key, bool& found) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
        if (!line.starts_with(key)) continue;
        std::uint64_t v = 0;
        const auto digits = line.find_first_of("0123456789");
        if (digits == std::string::npos) break;
        std::from_chars(line.data() + digits, line.data() + line.size(), v);
        found = true;
        return v;
    }
    found = false;
    return 0;
}

int parent_of(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto paren = stat.rfind(')');  // the command name may contain spaces
    if (paren == std::string::npos) return -1;
    char state = 0;
    int ppid = -1;
    if (std::sscanf(stat.c_str() + paren + 1, " %c %d", &state, &ppid) != 2) return -1;
    return ppid;
}

// Dante forks helper processes; microsocks and ours are one process. Sum over all of them.
Memory tree_memory(int root) {
    std::vector<int> tree{root};
    std::vector<std::pair<int, int>> all;  // pid, parent
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
        const auto name = e.path().filename().string();
        int pid = 0;
        auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
        if (ec == std::errc() && p == name.data() + name.size())
            all.emplace_back(pid, parent_of(pid));
    }
    for (std::size_t i = 0; i < tree.size(); ++i)
        for (auto [pid, parent] : all)
            if (parent == tree[i]) tree.push_back(pid);
    Memory m;
    for (int pid : tree) {
        const std::filesystem::path dir = "/proc/" + std::to_string(pid);
        bool found = false;
        m.rss_kib += field_kib(dir / "status", "VmRSS:", found);
        m.pss_kib += field_kib(dir / "smaps_rollup", "Pss:", found);
        if (!found) m.pss_known = false;
    }
    return m;
}

struct IdleResult {
    double rss_kib = 0, pss_kib = 0;
    bool pss_known = false;
};

IdleResult idle(const Options& o, const Servers& srv, Stats& stats) {
    IdleResult r;
    const auto before = tree_memory(o.pid);
    asio::io_context ioc{1};
    std::vector<tcp::socket> sockets;
    sockets.reserve(o.idle);
    for (unsigned i = 0; i < o.idle; ++i) sockets.emplace_back(ioc);
    std::atomic<unsigned> next{0};
    auto opener = [&]() -> asio::awaitable<void> {
        for (unsigned i = next++; i < o.idle; i = next++)
            (void)co_await open_via(sockets[i], o, srv.sink_endpoint(), stats);
    };
    for (unsigned i = 0; i < kOpeners; ++i) asio::co_spawn(ioc, opener(), asio::detached);
    run_bounded(ioc, 120s, "idle");
    // Every connection must have reached the sink; then give the proxy a moment to settle.
    const auto limit = Clock::now() + 10s;
    while (srv.shared->sink_open.load() < static_cast<std::int64_t>(o.idle) && Clock::now() < limit)
        std::this_thread::sleep_for(10ms);
    if (srv.shared->sink_open.load() < static_cast<std::int64_t>(o.idle))
        stats.fail("idle: sink count");
    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(o.warmup * 3, 1s));
    const auto after = tree_memory(o.pid);
    for (auto& s : sockets) close(s);
    const auto n = static_cast<double>(o.idle);
    r.rss_kib = (static_cast<double>(after.rss_kib) - static_cast<double>(before.rss_kib)) / n;
    r.pss_kib = (static_cast<double>(after.pss_kib) - static_cast<double>(before.pss_kib)) / n;
    r.pss_known = before.pss_known && after.pss_known;
    // Let the sink see the closes before another run starts.
    const auto drain = Clock::now() + 10s;
    while (srv.shared->sink_open.load() > 0 && Clock::now() < drain)
        std::this_thread::sleep_for(10ms);
    return r;
}

// ---- command line ---------------------------------------------------------------------------

[[noreturn]] void usage(const char* argv0) {
    std::fprintf(stderr,
                 "usage: %s [--proxy IP:PORT] [--pid PID] [--seconds S] [--streams N]\n"
                 "          [--workers N] [--idle N] [--only bulk_1|bulk_16|cps|idle] [--smoke]\n"
                 "  no --proxy: connect directly (the physical limit); --pid: the proxy's\n"
                 "  process, for memory per idle connection (skipped without it)\n",
                 argv0);
    std::exit(2);
}

Options parse(int argc, char** argv) {
    Options o;
    auto number = [&](int& i) -> unsigned long {
        if (i + 1 >= argc) usage(argv[0]);
        char* end = nullptr;
        const auto v = std::strtoul(argv[++i], &end, 10);
        if (*end != '\0') usage(argv[0]);
        return v;
    };
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--proxy" && i + 1 < argc) {
            const std::string_view hp = argv[++i];
            const auto colon = hp.rfind(':');
            if (colon == std::string_view::npos) usage(argv[0]);
            boost::system::error_code ec;
            const auto ip = asio::ip::make_address_v4(std::string(hp.substr(0, colon)), ec);
            unsigned port = 0;
            std::from_chars(hp.data() + colon + 1, hp.data() + hp.size(), port);
            if (ec || port == 0 || port > 65535) usage(argv[0]);
            o.proxy = tcp::endpoint(ip, static_cast<std::uint16_t>(port));
        } else if (a == "--pid") {
            o.pid = static_cast<int>(number(i));
        } else if (a == "--seconds") {
            o.duration = std::chrono::milliseconds(number(i) * 1000);
        } else if (a == "--streams") {
            o.streams = static_cast<unsigned>(number(i));
        } else if (a == "--workers") {
            o.workers = static_cast<unsigned>(number(i));
        } else if (a == "--idle") {
            o.idle = static_cast<unsigned>(number(i));
        } else if (a == "--only" && i + 1 < argc) {
            o.only = argv[++i];
        } else if (a == "--smoke") {
            o.duration = 300ms;
            o.warmup = 50ms;
            o.idle = 200;
        } else {
            usage(argv[0]);
        }
    }
    if (o.streams == 0 || o.workers == 0 || o.idle == 0) usage(argv[0]);
    return o;
}

// Two descriptors per idle connection here (client and sink side) plus spare.
void raise_fd_limit() {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
    lim.rlim_cur = lim.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &lim);
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    raise_fd_limit();
    try {
        const Servers srv = start_servers();
        Stats stats;
        auto want = [&](std::string_view t) { return o.only.empty() || o.only == t; };
        std::uint64_t reported = 0;
        // After each test: how many of its connections failed, if any.
        auto failed = [&](const char* test) {
            const auto now = stats.failures.load();
            if (now != reported)
                std::printf("%s_failed %llu\n", test,
                            static_cast<unsigned long long>(now - reported));
            reported = now;
        };
        if (want("bulk_1")) std::printf("bulk_1 %.2f\n", bulk(o, srv, 1, stats));
        failed("bulk_1");
        if (want("bulk_16")) std::printf("bulk_16 %.2f\n", bulk(o, srv, o.streams, stats));
        failed("bulk_16");
        if (want("cps")) std::printf("cps %.0f\n", connections_per_second(o, srv, stats));
        failed("cps");
        if (want("idle") && o.pid > 0) {
            const auto r = idle(o, srv, stats);
            std::printf("idle_rss_kib %.1f\n", r.rss_kib);
            if (r.pss_known) std::printf("idle_pss_kib %.1f\n", r.pss_kib);
            failed("idle");
        }
        std::printf("failures %llu\n", static_cast<unsigned long long>(stats.failures.load()));
        std::fflush(stdout);
        stop_servers(srv);
        if (stats.failures.load() != 0) {
            std::fprintf(stderr, "%llu connections failed; the first: %s\n",
                         static_cast<unsigned long long>(stats.failures.load()),
                         stats.first_failure.c_str());
            return 1;
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "relay_bench: %s\n", e.what());
        return 1;
    }
    return 0;
}

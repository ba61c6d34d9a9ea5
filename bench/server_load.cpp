// pp_server_load: load generator for a running paperplane-server on loopback.
//
// One process, one or two io threads, one coroutine-driven TLS 1.3 WebSocket per simulated
// device (bench/load_link.hpp: framed as lean as the server's side, so the generator takes as
// little of the shared machine as it can), each pinned to the server's certificate (SHA-256
// of the leaf, as every client does).
//   Phase 1  connect N clients, register N accounts (open policy), authenticate each; the
//            server's RSS (/proc/<pid>/status) is read before and with all N connections idle.
//   Phase 2  closed loop: every client sends M 1:1 messages to random peers with at most W
//            sends outstanding; receivers acknowledge pushes in batches. Measures acknowledged
//            sends/s, deliveries/s and send->deliver latency (the first 8 content bytes carry
//            the sender's steady-clock time; sender and receiver share this process's clock).
//   Phase 3  (--rate R) open loop at R messages/s in total, same measurements.
// Every wait is bounded: each phase has a deadline, after which the tool reports what it has,
// closes every connection and exits.
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/verify_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/bytes.hpp"
#include "base/hex.hpp"
#include "bench/load_link.hpp"
#include "crypto/keys.hpp"
#include "crypto/random.hpp"
#include "crypto/xeddsa.hpp"
#include "protocol/prekeys.hpp"
#include "wire/frame_codec.hpp"
#include "wire/message_id.hpp"
#include "wire/server_clock.hpp"

namespace {

namespace asio = boost::asio;
namespace v1 = pp::wire::v1;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
using pp::Bytes;
using pp::ByteView;

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

// Request ids carry what they were for: kind in the top byte, an ack's id count in the next two.
constexpr std::uint64_t kKindSend = 1;
constexpr std::uint64_t kKindAck = 2;
constexpr std::uint64_t kKindSetup = 3;
constexpr std::size_t kStatusSlots = 16;
// The largest message the generator takes from the server.
constexpr std::size_t kMaxFrameBytes = 4 << 20;

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
        .count();
}

struct Options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    std::string pin;  // lowercase hex SHA-256 of the server's DER certificate
    long server_pid = 0;
    std::size_t connections = 1000;
    unsigned messages = 20;
    unsigned window = 4;
    unsigned threads = 1;
    double rate = 0;  // total messages/s for the open-loop phase; 0 skips it
    double rate_seconds = 5;
    unsigned rate_window = 64;
    unsigned ack_batch = 64;
    unsigned ack_delay_ms = 50;
    unsigned setup_concurrency = 128;
    unsigned content_bytes = 256;
    unsigned setup_timeout_s = 300;
    unsigned phase_timeout_s = 120;
    unsigned settle_ms = 2000;
};

void usage() {
    std::fprintf(stderr,
                 "usage: pp_server_load --port P --pin HEX [--host 127.0.0.1] [--server-pid PID]\n"
                 "       [--connections N] [--messages M] [--window W] [--threads 1|2]\n"
                 "       [--rate MSGS_PER_S] [--rate-seconds S] [--rate-window W]\n"
                 "       [--ack-batch K] [--ack-delay-ms MS] [--setup-concurrency C]\n"
                 "       [--content-bytes B] [--setup-timeout-s S] [--phase-timeout-s S] "
                 "[--settle-ms MS]\n");
}

std::optional<Options> parse_args(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "-h" || a == "--help") return std::nullopt;
        if (i + 1 >= argc) {
            std::fprintf(stderr, "error: %s needs a value\n", a.c_str());
            return std::nullopt;
        }
        const std::string v = argv[++i];
        try {
            auto u = [&] { return static_cast<unsigned>(std::stoul(v)); };
            if (a == "--host")
                o.host = v;
            else if (a == "--port")
                o.port = static_cast<std::uint16_t>(std::stoul(v));
            else if (a == "--pin")
                o.pin = v;
            else if (a == "--server-pid")
                o.server_pid = std::stol(v);
            else if (a == "--connections" || a == "-n")
                o.connections = std::stoul(v);
            else if (a == "--messages" || a == "-m")
                o.messages = u();
            else if (a == "--window")
                o.window = u();
            else if (a == "--threads")
                o.threads = u();
            else if (a == "--rate")
                o.rate = std::stod(v);
            else if (a == "--rate-seconds")
                o.rate_seconds = std::stod(v);
            else if (a == "--rate-window")
                o.rate_window = u();
            else if (a == "--ack-batch")
                o.ack_batch = u();
            else if (a == "--ack-delay-ms")
                o.ack_delay_ms = u();
            else if (a == "--setup-concurrency")
                o.setup_concurrency = u();
            else if (a == "--content-bytes")
                o.content_bytes = u();
            else if (a == "--setup-timeout-s")
                o.setup_timeout_s = u();
            else if (a == "--phase-timeout-s")
                o.phase_timeout_s = u();
            else if (a == "--settle-ms")
                o.settle_ms = u();
            else {
                std::fprintf(stderr, "error: unknown option %s\n", a.c_str());
                return std::nullopt;
            }
        } catch (const std::exception&) {
            std::fprintf(stderr, "error: bad value for %s: %s\n", a.c_str(), v.c_str());
            return std::nullopt;
        }
    }
    if (o.pin.rfind("sha256:", 0) == 0) o.pin = o.pin.substr(7);
    std::transform(o.pin.begin(), o.pin.end(), o.pin.begin(),
                   [](char c) { return static_cast<char>(std::tolower(c)); });
    if (o.port == 0 || o.pin.size() != 64) {
        std::fprintf(stderr, "error: --port and --pin (64 hex digits) are required\n");
        return std::nullopt;
    }
    if (o.connections < 2 || o.connections > 60000 || o.threads < 1 || o.threads > 2 ||
        o.window < 1 || o.rate_window < 1 || o.ack_batch < 1 || o.ack_batch > 255 ||
        o.content_bytes < 8 || o.content_bytes > 200 * 1024 || o.setup_concurrency < 1 ||
        o.rate < 0 || o.rate_seconds <= 0 || o.rate_seconds > 600 || o.messages > 100000) {
        std::fprintf(stderr, "error: an option is out of range\n");
        return std::nullopt;
    }
    return o;
}

// ---- measurements ---------------------------------------------------------------------------

struct PhaseStats {
    std::uint64_t sent = 0;
    std::uint64_t ok = 0;
    std::uint64_t delivered = 0;
    std::uint64_t duplicates = 0;
    std::uint64_t acked_ok = 0;
    std::uint64_t ack_requests = 0;
    std::uint64_t transport_errors = 0;  // connections lost while the phase ran
    std::uint64_t bad_frames = 0;
    std::int64_t last_ok_ns = 0;
    std::int64_t last_delivery_ns = 0;
    std::array<std::uint64_t, kStatusSlots> status_errors{};
    std::vector<std::int64_t> deliver_latency_ns;  // send -> push received
    std::vector<std::int64_t> commit_latency_ns;   // send -> OK received

    void merge(PhaseStats&& o) {
        sent += o.sent;
        ok += o.ok;
        delivered += o.delivered;
        duplicates += o.duplicates;
        acked_ok += o.acked_ok;
        ack_requests += o.ack_requests;
        transport_errors += o.transport_errors;
        bad_frames += o.bad_frames;
        last_ok_ns = std::max(last_ok_ns, o.last_ok_ns);
        last_delivery_ns = std::max(last_delivery_ns, o.last_delivery_ns);
        for (std::size_t i = 0; i < kStatusSlots; ++i) status_errors[i] += o.status_errors[i];
        deliver_latency_ns.insert(deliver_latency_ns.end(), o.deliver_latency_ns.begin(),
                                  o.deliver_latency_ns.end());
        commit_latency_ns.insert(commit_latency_ns.end(), o.commit_latency_ns.begin(),
                                 o.commit_latency_ns.end());
    }
};

double percentile_ms(std::vector<std::int64_t>& v, double p) {
    if (v.empty()) return 0;
    auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return static_cast<double>(v[k]) / 1e6;
}

double max_ms(const std::vector<std::int64_t>& v) {
    if (v.empty()) return 0;
    return static_cast<double>(*std::max_element(v.begin(), v.end())) / 1e6;
}

std::optional<long> read_rss_kib(long pid) {
    if (pid <= 0) return std::nullopt;
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
    }
    return std::nullopt;
}

// User + system CPU time a process has used so far, in seconds (/proc/<pid>/stat fields 14
// and 15); `pid` 0 means this process.
std::optional<double> read_cpu_seconds(long pid) {
    std::ifstream in(pid > 0 ? "/proc/" + std::to_string(pid) + "/stat" : "/proc/self/stat");
    std::string stat;
    if (!std::getline(in, stat)) return std::nullopt;
    // The command name (field 2) may hold spaces: count fields from after its ')'.
    const auto close = stat.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream rest(stat.substr(close + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14) utime = std::stoull(field);
        if (i == 15) stime = std::stoull(field);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::string load_average() {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    in >> a >> b >> c;
    return a + " " + b + " " + c;
}

// ---- shared state ---------------------------------------------------------------------------

struct Client;

struct Worker {
    asio::io_context ioc{1};
    std::thread thread;
    std::atomic<bool> finished{false};
    std::mt19937_64 rng{std::random_device{}()};
    PhaseStats stats;              // touched on this worker's thread only
    std::vector<Client*> clients;  // the clients living on this worker
};

struct Account {
    std::size_t client = 0;
    std::string id;  // 16 bytes
};

struct PhaseSpec {
    unsigned count = 0;   // messages per client
    unsigned window = 1;  // outstanding sends per client
    std::int64_t start_ns = 0;
    std::int64_t interval_ns = 0;  // 0: closed loop, as fast as the window allows
};

struct Shared {
    Options opt;
    asio::ssl::context ssl{asio::ssl::context::tls_client};
    Bytes pin;  // 32 bytes
    asio::ip::tcp::endpoint endpoint;
    std::string host_header;
    std::array<std::uint8_t, 4> run_tag{};

    std::vector<Bytes> register_frames;  // per client, prebuilt
    std::vector<pp::crypto::KeyPair> identities;
    std::vector<std::unique_ptr<Client>> clients;
    std::vector<Account> accounts;  // registered and authenticated; fixed after phase 1

    std::atomic<std::size_t> next_setup{0};
    std::atomic<std::size_t> setup_done{0};
    std::atomic<std::size_t> setup_ok{0};
    std::array<std::atomic<std::uint64_t>, 6> setup_failures{};  // by Step
    std::atomic<std::uint64_t> pin_mismatches{0};
    std::atomic<bool> stopping{false};

    // Progress of the running phase, for the main thread's completion check.
    std::atomic<std::uint64_t> sent{0};
    std::atomic<std::uint64_t> responded{0};
    std::atomic<std::uint64_t> ok{0};
    std::atomic<std::uint64_t> delivered{0};
    std::atomic<std::uint64_t> ack_answered{0};  // ids in answered AckRequests
    std::atomic<std::uint64_t> senders_done{0};
};

Shared* g = nullptr;

enum Step : std::size_t { kConnect, kTls, kUpgrade, kRegister, kAuthenticate, kTimeout };
const char* const kStepNames[] = {"tcp connect", "tls handshake", "ws upgrade",
                                  "register",    "authenticate",  "setup timeout"};

const char* status_name(std::size_t s) {
    static const char* const names[] = {
        "OK",        "BAD_REQUEST", "UNAUTHENTICATED", "FORBIDDEN",
        "NOT_FOUND", "CONFLICT",    "STALE_DEVICES",   "RATE_LIMITED",
        "TOO_LARGE", "QUEUE_FULL",  "INTERNAL",        "UNSUPPORTED_VERSION"};
    return s < std::size(names) ? names[s] : "UNKNOWN";
}

// ---- TLS pinning ----------------------------------------------------------------------------

bool verify_pinned(bool /*preverified*/, asio::ssl::verify_context& vc) {
    X509_STORE_CTX* store = vc.native_handle();
    // The pin replaces CA validation: only the leaf is judged, and it must be exactly the pinned
    // certificate. TLS 1.3's CertificateVerify proves the server holds its key.
    if (X509_STORE_CTX_get_error_depth(store) > 0) return true;
    X509* leaf = X509_STORE_CTX_get_current_cert(store);
    if (leaf == nullptr) return false;
    const int len = i2d_X509(leaf, nullptr);
    if (len <= 0) return false;
    Bytes der(static_cast<std::size_t>(len));
    unsigned char* p = der.data();
    i2d_X509(leaf, &p);
    std::array<std::uint8_t, 32> digest{};
    unsigned int dlen = 0;
    if (EVP_Digest(der.data(), der.size(), digest.data(), &dlen, EVP_sha256(), nullptr) != 1 ||
        dlen != digest.size())
        return false;
    const bool ok = std::equal(digest.begin(), digest.end(), g->pin.begin(), g->pin.end());
    if (!ok) g->pin_mismatches.fetch_add(1);
    return ok;
}

void configure_tls(asio::ssl::context& ctx) {
    SSL_CTX* c = ctx.native_handle();
    SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
    SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
    ctx.set_verify_mode(asio::ssl::verify_peer);
    ctx.set_verify_callback(verify_pinned);
}

// ---- one simulated device -------------------------------------------------------------------

struct Client {
    Client(Worker& w, std::size_t i)
        : worker(w),
          index(i),
          link(w.ioc, g->ssl, kMaxFrameBytes),
          wake(w.ioc),
          pace(w.ioc),
          ack_timer(w.ioc),
          setup_deadline(w.ioc) {}

    Worker& worker;
    const std::size_t index;
    pp::bench::LoadLink link;
    std::atomic<bool> alive{false};
    std::string account;  // 16 bytes
    std::uint32_t next_seq = 1;
    std::uint32_t sends_made = 0;
    unsigned outstanding = 0;
    asio::steady_timer wake;  // the sender waits on it for window room; the reader cancels it
    asio::steady_timer pace;
    asio::steady_timer ack_timer;
    asio::steady_timer setup_deadline;
    bool setup_over = false;  // set before the deadline is cancelled: a late expiry is moot
    bool setup_timed_out = false;
    bool ack_armed = false;
    std::vector<std::string> acks;
    std::unordered_map<std::uint64_t, std::int64_t> send_times;
    std::unordered_set<std::string> seen;
    pp::wire::ServerClock server_clock;  // from the server's answers, as the client keeps it

    std::uint64_t make_id(std::uint64_t kind, std::uint64_t count = 0) {
        return (kind << 56) | ((count & 0xFFFF) << 32) | next_seq++;
    }
};

void mark_dead(Client& c) {
    if (!c.alive.exchange(false)) return;
    if (!g->stopping.load()) c.worker.stats.transport_errors++;
    // Sends still outstanding will never be answered: count them so the phase can end.
    g->responded.fetch_add(c.outstanding);
    c.outstanding = 0;
    c.wake.cancel();
    c.pace.cancel();
    c.ack_timer.cancel();
    c.link.close();
}

// Serialized straight into the link's queue of outgoing frames.
void enqueue(Client& c, const v1::Frame& f) {
    if (!c.alive.load(std::memory_order_relaxed)) return;
    const std::size_t size = f.ByteSizeLong();
    c.link.send(
        size, [&f](std::span<std::uint8_t> out) { f.SerializeWithCachedSizesToArray(out.data()); });
}

void flush_acks(Client& c) {
    if (c.acks.empty() || !c.alive.load(std::memory_order_relaxed)) return;
    v1::Frame f;
    f.set_version(pp::wire::kProtocolVersion);
    auto* req = f.mutable_request();
    req->set_id(c.make_id(kKindAck, c.acks.size()));
    auto* ack = req->mutable_ack();
    for (auto& id : c.acks) ack->add_message_ids(std::move(id));
    c.acks.clear();
    c.worker.stats.ack_requests++;
    enqueue(c, f);
}

void arm_ack_timer(Client& c) {
    if (c.ack_armed) return;
    c.ack_armed = true;
    c.ack_timer.expires_after(std::chrono::milliseconds(g->opt.ack_delay_ms));
    c.ack_timer.async_wait([&c](error_code ec) {
        c.ack_armed = false;
        if (!ec) flush_acks(c);
    });
}

void on_response(Client& c, const v1::Response& r) {
    auto& st = c.worker.stats;
    const std::uint64_t kind = r.id() >> 56;
    const auto status = static_cast<std::size_t>(r.status());
    if (kind == kKindSend) {
        if (c.outstanding > 0) c.outstanding--;
        const std::int64_t t = now_ns();
        if (auto it = c.send_times.find(r.id()); it != c.send_times.end()) {
            if (status == v1::OK) {
                st.commit_latency_ns.push_back(t - it->second);
                // As the client library does: the answer's clock refreshes the estimate.
                const auto at = [](std::int64_t ns) {
                    return Clock::time_point(
                        std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
                };
                c.server_clock.observe(r.send().server_time_ms(), at(it->second), at(t));
            }
            c.send_times.erase(it);
        }
        if (status == v1::OK) {
            st.ok++;
            st.last_ok_ns = t;
            g->ok.fetch_add(1);
        } else {
            st.status_errors[std::min(status, kStatusSlots - 1)]++;
        }
        g->responded.fetch_add(1);
        c.wake.cancel();
    } else if (kind == kKindAck) {
        const std::uint64_t count = (r.id() >> 32) & 0xFFFF;
        if (status == v1::OK)
            st.acked_ok += count;
        else
            st.status_errors[std::min(status, kStatusSlots - 1)]++;
        g->ack_answered.fetch_add(count);
    } else if (status != v1::OK) {
        st.status_errors[std::min(status, kStatusSlots - 1)]++;
    }
}

void on_push(Client& c, const v1::Push& p) {
    if (!p.has_envelope()) return;  // QueueEmpty
    auto& st = c.worker.stats;
    const auto& e = p.envelope();
    const std::int64_t t = now_ns();
    if (!c.seen.insert(e.message_id()).second) {
        st.duplicates++;
    } else {
        if (e.content().size() >= 8) {
            std::int64_t sent_ns = 0;
            std::memcpy(&sent_ns, e.content().data(), sizeof sent_ns);
            st.deliver_latency_ns.push_back(t - sent_ns);
        }
        st.delivered++;
        st.last_delivery_ns = t;
        g->delivered.fetch_add(1);
    }
    c.acks.push_back(e.message_id());
    if (c.acks.size() >= g->opt.ack_batch)
        flush_acks(c);
    else
        arm_ack_timer(c);
}

asio::awaitable<void> reader(Client& c) {
    co_await c.link.read_messages([&c](ByteView message) {
        auto frame = pp::wire::decode_frame(message, kMaxFrameBytes);
        if (!frame) {
            c.worker.stats.bad_frames++;
            return;
        }
        if (frame->has_response())
            on_response(c, frame->response());
        else if (frame->has_push())
            on_push(c, frame->push());
    });
    mark_dead(c);
}

// Phase 1 exchanges are strictly sequential, before the reader loop starts.
asio::awaitable<std::optional<v1::Response>> request(Client& c, const Bytes& frame,
                                                     std::uint64_t id) {
    if (!c.link.send(frame.size(), [&frame](std::span<std::uint8_t> out) {
            std::copy(frame.begin(), frame.end(), out.begin());
        }))
        co_return std::nullopt;
    for (int frames = 0; frames < 64; ++frames) {
        auto [ec, message] = co_await c.link.next_message();
        if (ec) co_return std::nullopt;
        auto f = pp::wire::decode_frame(message, kMaxFrameBytes);
        if (f && f->has_response() && f->response().id() == id) co_return f->response();
    }
    co_return std::nullopt;
}

Bytes build_register(const pp::crypto::KeyPair& identity, std::uint32_t prekey_count) {
    const auto spk = pp::protocol::generate_signed_prekey(identity, 1, 0);
    const auto prekeys = pp::protocol::generate_prekeys(1, prekey_count);
    v1::Frame f;
    f.set_version(pp::wire::kProtocolVersion);
    auto* req = f.mutable_request();
    req->set_id(kKindSetup << 56 | 1);
    auto* r = req->mutable_register_();
    const auto ik = identity.public_key.serialize();
    r->set_identity_key(std::string(ik.begin(), ik.end()));
    r->set_registration_id(pp::protocol::generate_registration_id());
    auto* s = r->mutable_signed_prekey();
    s->set_id(spk.id);
    const auto spk_pub = spk.key_pair.public_key.serialize();
    s->set_public_key(std::string(spk_pub.begin(), spk_pub.end()));
    s->set_signature(std::string(spk.signature.begin(), spk.signature.end()));
    for (const auto& pk : prekeys) {
        auto* out = r->add_prekeys();
        out->set_id(pk.id);
        const auto pub = pk.key_pair.public_key.serialize();
        out->set_public_key(std::string(pub.begin(), pub.end()));
    }
    return pp::wire::encode_frame(f);
}

asio::awaitable<bool> setup(Client& c) {
    auto& failures = g->setup_failures;
    // One deadline for the whole setup: closing the link fails whichever step is pending.
    c.setup_deadline.expires_after(std::chrono::seconds(60));
    c.setup_deadline.async_wait([&c](error_code ec) {
        if (ec || c.setup_over) return;
        c.setup_timed_out = true;
        c.link.close();
    });
    // No Nagle delay on small frames, as the client library (net/route_racer.cpp).
    if (auto err = co_await c.link.open(g->endpoint, g->host_header, "/v1/ws")) {
        using S = pp::bench::LoadLink::OpenStep;
        failures[c.setup_timed_out          ? kTimeout
                 : err->step == S::kConnect ? kConnect
                 : err->step == S::kTls     ? kTls
                                            : kUpgrade]++;
        co_return false;
    }

    auto reg = co_await request(c, g->register_frames[c.index], kKindSetup << 56 | 1);
    if (!reg || reg->status() != v1::OK || reg->register_().account_id().size() != 16) {
        failures[c.setup_timed_out ? kTimeout : kRegister]++;
        co_return false;
    }
    c.account = reg->register_().account_id();
    const std::uint32_t device = reg->register_().device_id();

    v1::Frame ch;
    ch.set_version(pp::wire::kProtocolVersion);
    ch.mutable_request()->set_id(kKindSetup << 56 | 2);
    ch.mutable_request()->mutable_challenge();
    auto nonce = co_await request(c, pp::wire::encode_frame(ch), kKindSetup << 56 | 2);
    if (!nonce || nonce->status() != v1::OK || nonce->challenge().nonce().empty()) {
        failures[c.setup_timed_out ? kTimeout : kAuthenticate]++;
        co_return false;
    }
    // "paperplane-auth-v1" || nonce || account id || device id (big-endian), as server/auth.
    // Built by copying into a presized buffer: GCC 12 at -O3 misreports vector::insert here.
    const std::string_view label = "paperplane-auth-v1";
    const std::string& nonce_bytes = nonce->challenge().nonce();
    Bytes msg(label.size() + nonce_bytes.size() + c.account.size() + 4);
    auto* out = msg.data();
    std::memcpy(out, label.data(), label.size());
    out += label.size();
    std::memcpy(out, nonce_bytes.data(), nonce_bytes.size());
    out += nonce_bytes.size();
    std::memcpy(out, c.account.data(), c.account.size());
    out += c.account.size();
    for (int shift = 24; shift >= 0; shift -= 8)
        *out++ = static_cast<std::uint8_t>(device >> shift);
    const auto sig = pp::crypto::xeddsa_sign(g->identities[c.index].private_key, msg);
    v1::Frame au;
    au.set_version(pp::wire::kProtocolVersion);
    au.mutable_request()->set_id(kKindSetup << 56 | 3);
    auto* a = au.mutable_request()->mutable_authenticate();
    a->set_account_id(c.account);
    a->set_device_id(device);
    a->set_nonce(nonce->challenge().nonce());
    a->set_signature(std::string(sig.begin(), sig.end()));
    const auto auth_sent = Clock::now();
    auto auth = co_await request(c, pp::wire::encode_frame(au), kKindSetup << 56 | 3);
    if (!auth || auth->status() != v1::OK) {
        failures[c.setup_timed_out ? kTimeout : kAuthenticate]++;
        co_return false;
    }
    c.server_clock.observe(auth->authenticate().server_time_ms(), auth_sent, Clock::now());
    c.setup_over = true;
    c.setup_deadline.cancel();
    // The server pings idle sockets; the link answers them as the reader reads.
    co_return true;
}

asio::awaitable<void> setup_worker(Worker& w) {
    for (;;) {
        const std::size_t i = g->next_setup.fetch_add(1);
        if (i >= g->opt.connections || g->stopping.load()) co_return;
        auto owned = std::make_unique<Client>(w, i);
        Client& c = *owned;
        g->clients[i] = std::move(owned);
        w.clients.push_back(&c);
        bool ok = false;
        try {
            ok = co_await setup(c);
        } catch (const std::exception&) {
            ok = false;
        }
        if (ok) {
            c.alive = true;
            c.link.on_write_error([&c](error_code) { mark_dead(c); });
            g->setup_ok.fetch_add(1);
            asio::co_spawn(w.ioc, reader(c), asio::detached);
        } else {
            c.setup_over = true;
            c.setup_deadline.cancel();
            c.link.close();
        }
        g->setup_done.fetch_add(1);
    }
}

// ---- phase 2 / 3: sending -------------------------------------------------------------------

void send_one(Client& c) {
    auto& accounts = g->accounts;
    std::uniform_int_distribution<std::size_t> pick(0, accounts.size() - 1);
    const Account* peer = &accounts[pick(c.worker.rng)];
    for (int tries = 0; tries < 8 && peer->client == c.index; ++tries)
        peer = &accounts[pick(c.worker.rng)];

    v1::Frame f;
    f.set_version(pp::wire::kProtocolVersion);
    auto* req = f.mutable_request();
    const std::uint64_t id = c.make_id(kKindSend);
    req->set_id(id);
    auto* s = req->mutable_send();
    // Laid out as the client library lays it out (the server's clock first, as estimated from
    // its answers: wire/message_id.hpp, wire/server_clock.hpp), with a tail that is unique by
    // construction: client index, per-client counter, run tag.
    std::array<std::uint8_t, pp::wire::kMessageIdTailBytes> tail{};
    const auto idx = static_cast<std::uint32_t>(c.index);
    std::memcpy(tail.data(), &idx, 4);
    const std::uint32_t n = c.sends_made++;
    std::memcpy(tail.data() + 4, &n, 4);
    std::memcpy(tail.data() + 8, g->run_tag.data(), 2);
    // Without an estimate (none given, or too old) the clock bytes are random, as the client's.
    pp::wire::MessageIdBytes mid{};
    if (const auto clock = c.server_clock.at(Clock::now())) {
        mid = pp::wire::message_id_at(*clock, tail);
    } else {
        pp::crypto::random_bytes(mid);
        std::copy(tail.begin(), tail.end(), mid.end() - static_cast<long>(tail.size()));
    }
    s->set_message_id(std::string(mid.begin(), mid.end()));
    s->set_recipient(peer->id);
    auto* m = s->add_messages();
    m->set_device_id(1);
    m->set_type(2);
    std::string content(g->opt.content_bytes, '\x5a');
    const std::int64_t t = now_ns();
    std::memcpy(content.data(), &t, sizeof t);
    m->set_content(std::move(content));
    c.send_times[id] = t;
    c.outstanding++;
    c.worker.stats.sent++;
    g->sent.fetch_add(1);
    enqueue(c, f);
}

asio::awaitable<void> sender(Client& c, PhaseSpec spec, std::int64_t offset_ns) {
    for (unsigned i = 0; i < spec.count && c.alive.load(std::memory_order_relaxed); ++i) {
        if (spec.interval_ns > 0) {
            const std::int64_t due =
                spec.start_ns + offset_ns + static_cast<std::int64_t>(i) * spec.interval_ns;
            const std::int64_t wait = due - now_ns();
            if (wait > 0) {
                c.pace.expires_after(std::chrono::nanoseconds(wait));
                co_await c.pace.async_wait(kTok);
            }
        }
        while (c.outstanding >= spec.window && c.alive.load(std::memory_order_relaxed)) {
            c.wake.expires_after(std::chrono::seconds(1));
            co_await c.wake.async_wait(kTok);
        }
        if (!c.alive.load(std::memory_order_relaxed)) break;
        send_one(c);
    }
    g->senders_done.fetch_add(1);
}

// ---- orchestration --------------------------------------------------------------------------

template <typename Pred>
bool wait_until(Pred done, Clock::time_point deadline) {
    while (!done()) {
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

// Takes each worker's statistics on its own thread, so nothing races with the io threads.
PhaseStats collect(std::vector<std::unique_ptr<Worker>>& workers) {
    PhaseStats all;
    for (auto& w : workers) {
        auto p = std::make_shared<std::promise<PhaseStats>>();
        auto fut = p->get_future();
        asio::post(w->ioc, [p, wp = w.get()] { p->set_value(std::exchange(wp->stats, {})); });
        if (fut.wait_for(std::chrono::seconds(10)) == std::future_status::ready)
            all.merge(fut.get());
    }
    return all;
}

void reset_progress() {
    g->sent = 0;
    g->responded = 0;
    g->ok = 0;
    g->delivered = 0;
    g->ack_answered = 0;
    g->senders_done = 0;
}

struct PhaseResult {
    std::string mode;
    double seconds = 0;
    double sends_per_s = 0;
    double deliveries_per_s = 0;
    double p50 = 0, p99 = 0, pmax = 0;
    double commit_p50 = 0, commit_p99 = 0;
    // CPU time per delivered message over the phase: the server's (what a dedicated machine
    // would spend) and this generator's (which shares the cores with it here).
    std::optional<double> server_us_per_msg, generator_us_per_msg;
    std::uint64_t errors = 0;
    std::string error_detail;
    bool complete = true;
    PhaseStats stats;
};

std::string fmt(const char* f, double v);

PhaseResult run_phase(std::vector<std::unique_ptr<Worker>>& workers, const std::string& mode,
                      unsigned count, unsigned window, double rate) {
    reset_progress();
    (void)collect(workers);  // drop stray counts from before
    const std::size_t alive = g->accounts.size();
    PhaseSpec spec;
    spec.count = count;
    spec.window = window;
    spec.start_ns = now_ns() + 50'000'000;  // 50 ms from now, so every sender is scheduled
    if (rate > 0)
        spec.interval_ns = static_cast<std::int64_t>(static_cast<double>(alive) / rate * 1e9);
    // Paced senders wait for start_ns; closed-loop senders start as soon as they are posted,
    // so their phase is timed from now (timing it from start_ns overstated short runs).
    const std::int64_t phase_start = spec.interval_ns > 0 ? spec.start_ns : now_ns();
    const auto server_cpu_before = read_cpu_seconds(g->opt.server_pid);
    const auto own_cpu_before = read_cpu_seconds(0);
    for (auto& w : workers) {
        asio::post(w->ioc, [wp = w.get(), spec] {
            for (Client* c : wp->clients) {
                if (!c->alive.load()) continue;
                std::int64_t offset = 0;
                if (spec.interval_ns > 0) {
                    std::uniform_int_distribution<std::int64_t> d(0, spec.interval_ns - 1);
                    offset = d(wp->rng);
                }
                asio::co_spawn(wp->ioc, sender(*c, spec, offset), asio::detached);
            }
        });
    }
    const auto deadline = Clock::now() + std::chrono::seconds(g->opt.phase_timeout_s);
    PhaseResult res;
    res.mode = mode;
    res.complete = wait_until(
        [&] {
            const auto ok = g->ok.load();
            return g->senders_done.load() >= alive && g->responded.load() >= g->sent.load() &&
                   g->delivered.load() >= ok && g->ack_answered.load() >= g->delivered.load();
        },
        deadline);
    const std::int64_t end_ns = now_ns();
    const auto server_cpu_after = read_cpu_seconds(g->opt.server_pid);
    const auto own_cpu_after = read_cpu_seconds(0);
    PhaseStats st = collect(workers);
    res.seconds = static_cast<double>(end_ns - phase_start) / 1e9;
    const auto span = [&](std::int64_t last) {
        return static_cast<double>(std::max<std::int64_t>(last - phase_start, 1)) / 1e9;
    };
    res.sends_per_s = st.ok ? static_cast<double>(st.ok) / span(st.last_ok_ns) : 0;
    res.deliveries_per_s =
        st.delivered ? static_cast<double>(st.delivered) / span(st.last_delivery_ns) : 0;
    res.p50 = percentile_ms(st.deliver_latency_ns, 0.50);
    res.p99 = percentile_ms(st.deliver_latency_ns, 0.99);
    res.pmax = max_ms(st.deliver_latency_ns);
    res.commit_p50 = percentile_ms(st.commit_latency_ns, 0.50);
    res.commit_p99 = percentile_ms(st.commit_latency_ns, 0.99);
    res.errors = st.transport_errors + st.bad_frames;
    for (std::size_t s = 1; s < kStatusSlots; ++s) {
        if (st.status_errors[s] == 0) continue;
        res.errors += st.status_errors[s];
        res.error_detail +=
            std::string(status_name(s)) + "=" + std::to_string(st.status_errors[s]) + " ";
    }
    if (st.transport_errors)
        res.error_detail += "conn_lost=" + std::to_string(st.transport_errors) + " ";
    if (st.bad_frames) res.error_detail += "bad_frames=" + std::to_string(st.bad_frames) + " ";
    if (st.ok > st.delivered) {
        res.error_detail += "undelivered=" + std::to_string(st.ok - st.delivered) + " ";
    }
    if (!res.complete) res.error_detail += "(phase timed out) ";
    const auto per_msg = [&](std::optional<double> a, std::optional<double> b) {
        std::optional<double> us;
        if (a && b && st.delivered > 0) us = (*b - *a) * 1e6 / static_cast<double>(st.delivered);
        return us;
    };
    if (g->opt.server_pid > 0) res.server_us_per_msg = per_msg(server_cpu_before, server_cpu_after);
    res.generator_us_per_msg = per_msg(own_cpu_before, own_cpu_after);
    if (res.generator_us_per_msg) {
        std::printf("[%s] CPU per delivered message: server %s, load generator %.1f us\n",
                    mode.c_str(),
                    res.server_us_per_msg ? fmt("%.1f us", *res.server_us_per_msg).c_str()
                                          : "n/a (no --server-pid)",
                    *res.generator_us_per_msg);
    }
    std::printf(
        "[%s] sent %llu, OK %llu, delivered %llu (dup %llu), acked %llu in %llu AckRequests, "
        "%.2f s; commit (send->OK) p50 %.1f ms p99 %.1f ms; load %s\n",
        mode.c_str(), static_cast<unsigned long long>(st.sent),
        static_cast<unsigned long long>(st.ok), static_cast<unsigned long long>(st.delivered),
        static_cast<unsigned long long>(st.duplicates),
        static_cast<unsigned long long>(st.acked_ok),
        static_cast<unsigned long long>(st.ack_requests), res.seconds, res.commit_p50,
        res.commit_p99, load_average().c_str());
    std::fflush(stdout);
    res.stats = std::move(st);
    return res;
}

std::string fmt(const char* f, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

}  // namespace

int main(int argc, char** argv) {
    auto parsed = parse_args(argc, argv);
    if (!parsed) {
        usage();
        return 2;
    }
    Shared shared;
    g = &shared;
    shared.opt = *parsed;
    const Options& opt = shared.opt;
    auto pin = pp::from_hex(opt.pin);
    if (!pin || pin->size() != 32) {
        std::fprintf(stderr, "error: --pin must be 64 hex digits\n");
        return 2;
    }
    shared.pin = *pin;
    configure_tls(shared.ssl);
    error_code aec;
    auto addr = asio::ip::make_address(opt.host, aec);
    if (aec || !addr.is_loopback()) {
        std::fprintf(stderr, "error: --host must be a loopback IP address\n");
        return 2;
    }
    shared.endpoint = asio::ip::tcp::endpoint(addr, opt.port);
    shared.host_header = opt.host + ":" + std::to_string(opt.port);
    pp::crypto::random_bytes(shared.run_tag);

    std::printf(
        "pp_server_load: %zu connections, %u io thread(s), %u msgs/client window %u, "
        "ack batch %u / %u ms, rate %.0f msg/s, load %s\n",
        opt.connections, opt.threads, opt.messages, opt.window, opt.ack_batch, opt.ack_delay_ms,
        opt.rate, load_average().c_str());
    std::fflush(stdout);

    // Keys first, outside the timed phase: it is client work, not the server's.
    const auto keygen_start = Clock::now();
    shared.identities.resize(opt.connections);
    shared.register_frames.resize(opt.connections);
    {
        std::vector<std::thread> gen;
        const unsigned parts = 2;
        for (unsigned p = 0; p < parts; ++p) {
            gen.emplace_back([&, p] {
                for (std::size_t i = p; i < opt.connections; i += parts) {
                    shared.identities[i] = pp::crypto::KeyPair::generate();
                    shared.register_frames[i] =
                        build_register(shared.identities[i], 1 + static_cast<std::uint32_t>(i % 2));
                }
            });
        }
        for (auto& t : gen) t.join();
    }
    std::printf("generated %zu identities + signed prekeys in %.2f s\n", opt.connections,
                std::chrono::duration<double>(Clock::now() - keygen_start).count());

    shared.clients.resize(opt.connections);
    std::vector<std::unique_ptr<Worker>> workers;
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
    for (unsigned t = 0; t < opt.threads; ++t) {
        workers.push_back(std::make_unique<Worker>());
        guards.push_back(asio::make_work_guard(workers.back()->ioc));
    }
    for (auto& w : workers) {
        w->thread = std::thread([wp = w.get()] {
            try {
                wp->ioc.run();
            } catch (const std::exception& e) {
                std::fprintf(stderr, "io thread: %s\n", e.what());
            }
            wp->finished = true;
        });
    }

    // ---- phase 1 ----
    const auto rss_before = read_rss_kib(opt.server_pid);
    const auto setup_start = Clock::now();
    const unsigned per_worker = std::max(1u, opt.setup_concurrency / opt.threads);
    for (auto& w : workers) {
        for (unsigned k = 0; k < per_worker; ++k)
            asio::co_spawn(w->ioc, setup_worker(*w), asio::detached);
    }
    const bool setup_complete =
        wait_until([&] { return shared.setup_done.load() >= opt.connections; },
                   Clock::now() + std::chrono::seconds(opt.setup_timeout_s));
    const double setup_s = std::chrono::duration<double>(Clock::now() - setup_start).count();
    if (!setup_complete) shared.stopping = true;  // no more setups are started
    std::printf("phase 1: %zu/%zu connected, registered and authenticated in %.2f s (%.0f/s)%s\n",
                shared.setup_ok.load(), opt.connections, setup_s,
                static_cast<double>(shared.setup_ok.load()) / setup_s,
                setup_complete ? "" : " (timed out)");
    std::uint64_t setup_failed = 0;
    for (std::size_t s = 0; s < shared.setup_failures.size(); ++s) {
        if (const auto n = shared.setup_failures[s].load()) {
            std::printf("  setup failures at %s: %llu\n", kStepNames[s],
                        static_cast<unsigned long long>(n));
            setup_failed += n;
        }
    }
    if (shared.pin_mismatches.load())
        std::printf("  certificate pin mismatches: %llu\n",
                    static_cast<unsigned long long>(shared.pin_mismatches.load()));

    // Accounts of live clients, read on their threads.
    for (auto& w : workers) {
        auto p = std::make_shared<std::promise<std::vector<Account>>>();
        auto fut = p->get_future();
        asio::post(w->ioc, [p, wp = w.get()] {
            std::vector<Account> out;
            for (Client* c : wp->clients)
                if (c->alive.load()) out.push_back({c->index, c->account});
            p->set_value(std::move(out));
        });
        if (fut.wait_for(std::chrono::seconds(10)) == std::future_status::ready) {
            auto v = fut.get();
            shared.accounts.insert(shared.accounts.end(), v.begin(), v.end());
        }
    }

    std::this_thread::sleep_for(std::chrono::milliseconds(opt.settle_ms));
    const auto rss_idle = read_rss_kib(opt.server_pid);
    const std::size_t idle_conns = shared.accounts.size();
    double kib_per_conn = 0;
    if (rss_before && rss_idle && idle_conns > 0)
        kib_per_conn =
            static_cast<double>(*rss_idle - *rss_before) / static_cast<double>(idle_conns);
    if (rss_before && rss_idle)
        std::printf(
            "server RSS: %ld KiB before, %ld KiB with %zu idle connections -> %.1f KiB/conn\n",
            *rss_before, *rss_idle, idle_conns, kib_per_conn);
    std::fflush(stdout);

    std::vector<PhaseResult> results;
    if (shared.accounts.size() >= 2 && opt.messages > 0) {
        results.push_back(run_phase(workers, "closed loop W=" + std::to_string(opt.window),
                                    opt.messages, opt.window, 0));
    }
    if (shared.accounts.size() >= 2 && opt.rate > 0) {
        const auto per_client = static_cast<unsigned>(std::max(
            1.0, opt.rate * opt.rate_seconds / static_cast<double>(shared.accounts.size())));
        results.push_back(run_phase(workers, "rate " + fmt("%.0f", opt.rate) + "/s", per_client,
                                    opt.rate_window, opt.rate));
    }
    const auto rss_end = read_rss_kib(opt.server_pid);
    std::size_t still_open = 0;
    for (const auto& c : shared.clients)
        if (c && c->alive.load()) still_open++;

    // ---- stop: close every socket, let the io threads run dry, bounded ----
    shared.stopping = true;
    for (auto& w : workers) {
        asio::post(w->ioc, [wp = w.get()] {
            for (Client* c : wp->clients) mark_dead(*c);
        });
    }
    guards.clear();
    const bool drained = wait_until(
        [&] {
            return std::all_of(workers.begin(), workers.end(),
                               [](const auto& w) { return w->finished.load(); });
        },
        Clock::now() + std::chrono::seconds(10));
    if (!drained)
        for (auto& w : workers) w->ioc.stop();
    for (auto& w : workers) w->thread.join();
    // Clients' sockets and timers belong to the workers' io_contexts: they go first.
    shared.clients.clear();

    // ---- report ----
    auto rss_str = [](std::optional<long> k) {
        return k ? fmt("%.1f MiB", static_cast<double>(*k) / 1024.0) : std::string("n/a");
    };
    std::printf("\nconnections still open at the end: %zu of %zu; server RSS at end %s; load %s\n",
                still_open, opt.connections, rss_str(rss_end).c_str(), load_average().c_str());
    std::printf(
        "| %-11s | %-18s | %-13s | %-14s | %-8s | %-9s | %-12s | %-8s | %-8s | %-9s | %-13s | %-6s "
        "|\n",
        "connections", "mode", "registered in", "RSS idle total", "KiB/conn", "sends/s",
        "deliveries/s", "p50 ms", "p99 ms", "max ms", "server us/msg", "errors");
    std::printf(
        "|-------------|--------------------|---------------|----------------|----------|"
        "-----------|--------------|----------|----------|-----------|---------------|--------|\n");
    for (const auto& r : results) {
        std::printf(
            "| %-11s | %-18s | %-13s | %-14s | %-8s | %-9s | %-12s | %-8s | %-8s | %-9s | %-13s | "
            "%-6llu |\n",
            (std::to_string(idle_conns) + "/" + std::to_string(opt.connections)).c_str(),
            r.mode.c_str(), fmt("%.2f s", setup_s).c_str(), rss_str(rss_idle).c_str(),
            fmt("%.1f", kib_per_conn).c_str(), fmt("%.0f", r.sends_per_s).c_str(),
            fmt("%.0f", r.deliveries_per_s).c_str(), fmt("%.1f", r.p50).c_str(),
            fmt("%.1f", r.p99).c_str(), fmt("%.1f", r.pmax).c_str(),
            r.server_us_per_msg ? fmt("%.1f", *r.server_us_per_msg).c_str() : "n/a",
            static_cast<unsigned long long>(r.errors + setup_failed));
    }
    for (const auto& r : results)
        if (!r.error_detail.empty())
            std::printf("  errors [%s]: %s\n", r.mode.c_str(), r.error_detail.c_str());
    std::fflush(stdout);
    bool all_ok = setup_complete && setup_failed == 0;
    for (const auto& r : results) all_ok = all_ok && r.complete && r.errors == 0;
    return all_ok ? 0 : 1;
}

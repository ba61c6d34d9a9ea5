// pp_forward_floor: the transport floor paperplane-server is measured against in
// bench/server_load.sh. It runs the server's own network edge (net::Server: TLS 1.3, WebSocket,
// the same io threads and strands) and speaks just enough of the wire protocol for
// pp_server_load, but stores nothing and checks nothing: a registration gets a fresh account
// id, any authentication is accepted, a send is answered `OK` at once and forwarded to the
// recipient's connection, and an ack is answered `OK`.
//
// It is not a server anyone should run. Its figures say what the machine charges for the
// frames alone (TLS records, WebSocket framing, protobuf, loopback TCP), so the real server's
// figures can be read as that floor plus what durability and checking cost.
//
//   pp_forward_floor [--listen 127.0.0.1:0] [--threads 2]
// Prints "pp_forward_floor listening on HOST:PORT" and "certificate pin: sha256:HEX", then
// serves until SIGTERM or SIGINT.
#include <pthread.h>

#include <array>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/bytes.hpp"
#include "base/unix_time.hpp"
#include "crypto/random.hpp"
#include "net/server.hpp"
#include "net/tls.hpp"
#include "net/tls_buffer_cache.hpp"
#include "wire/frame_codec.hpp"

namespace {

namespace v1 = pp::wire::v1;
using pp::Bytes;

class ForwardingHandler final : public pp::net::Handler {
  public:
    void on_open(const std::shared_ptr<pp::net::Connection>&) override {}

    void on_frame(const std::shared_ptr<pp::net::Connection>& conn, Bytes bytes) override {
        auto frame = pp::wire::decode_frame(bytes);
        if (!frame || !frame->has_request()) return;
        const v1::Request& req = frame->request();
        v1::Frame out = pp::wire::make_response(req.id(), v1::OK);
        v1::Response* resp = out.mutable_response();
        switch (req.body_case()) {
            case v1::Request::kRegister: {
                std::array<std::uint8_t, 16> account{};
                pp::crypto::random_bytes(account);
                resp->mutable_register_()->set_account_id(account.data(), account.size());
                resp->mutable_register_()->set_device_id(1);
                break;
            }
            case v1::Request::kChallenge: {
                std::array<std::uint8_t, 32> nonce{};
                pp::crypto::random_bytes(nonce);
                resp->mutable_challenge()->set_nonce(nonce.data(), nonce.size());
                break;
            }
            case v1::Request::kAuthenticate: {
                std::lock_guard lock(mu_);
                by_account_[req.authenticate().account_id()] = conn;
                account_of_[conn->id()] = req.authenticate().account_id();
                // As the server answers: the generator stamps its ids with this clock.
                resp->mutable_authenticate()->set_server_time_ms(
                    static_cast<std::uint64_t>(pp::unix_ms_now()));
                break;
            }
            case v1::Request::kSend:
                forward(*conn, req.send());
                resp->mutable_send()->set_server_time_ms(
                    static_cast<std::uint64_t>(pp::unix_ms_now()));  // as the server's OK
                break;
            default:  // acks and everything else: answered OK, nothing to do
                break;
        }
        conn->send(pp::wire::encode_frame(out));
    }

    void on_close(const std::shared_ptr<pp::net::Connection>& conn) override {
        std::lock_guard lock(mu_);
        if (auto it = account_of_.find(conn->id()); it != account_of_.end()) {
            // Only if no later connection signed in as the same account since.
            if (auto route = by_account_.find(it->second);
                route != by_account_.end() && route->second.lock() == conn)
                by_account_.erase(route);
            account_of_.erase(it);
        }
    }

  private:
    // The push the real server would send, built the same way, minus the store in between.
    void forward(const pp::net::Connection& from, const v1::SendRequest& send) {
        std::shared_ptr<pp::net::Connection> to;
        std::string sender;
        {
            std::lock_guard lock(mu_);
            if (auto it = by_account_.find(send.recipient()); it != by_account_.end())
                to = it->second.lock();
            if (auto it = account_of_.find(from.id()); it != account_of_.end()) sender = it->second;
        }
        if (!to) return;
        for (const v1::DeviceMessage& m : send.messages()) {
            v1::Frame f;
            f.set_version(pp::wire::kProtocolVersion);
            v1::Envelope* e = f.mutable_push()->mutable_envelope();
            e->set_message_id(send.message_id());
            e->set_sender_account(sender);
            e->set_sender_device(1);
            e->set_type(m.type());
            e->set_content(m.content());
            e->set_server_time_ms(0);
            to->send(pp::wire::encode_frame(f));
        }
    }

    std::mutex mu_;
    std::unordered_map<std::string, std::weak_ptr<pp::net::Connection>> by_account_;
    std::unordered_map<std::uint64_t, std::string> account_of_;
};

int usage() {
    std::fprintf(stderr, "usage: pp_forward_floor [--listen HOST:PORT] [--threads N]\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    // As paperplane-server does, so the floor stays the server's own network edge.
    (void)pp::net::install_tls_buffer_cache();
    pp::net::ServerOptions opts;
    opts.max_connections = 100000;
    opts.idle_timeout = std::chrono::minutes(10);
    opts.handshake_timeout = std::chrono::minutes(1);
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (i + 1 >= argc) return usage();
        const std::string value = argv[++i];
        if (arg == "--listen") {
            const auto colon = value.rfind(':');
            if (colon == std::string::npos) return usage();
            opts.host = value.substr(0, colon);
            opts.port = static_cast<std::uint16_t>(std::atoi(value.c_str() + colon + 1));
        } else if (arg == "--threads") {
            opts.threads = static_cast<unsigned>(std::atoi(value.c_str()));
        } else {
            return usage();
        }
    }

    // A throwaway certificate: the generator pins whatever this run prints.
    char dir_template[] = "/tmp/pp-floor.XXXXXX";
    if (!mkdtemp(dir_template)) {
        std::perror("mkdtemp");
        return 1;
    }
    const std::filesystem::path tls_dir = dir_template;
    auto tls = pp::net::load_or_create_self_signed(tls_dir);
    std::error_code ignored;
    std::filesystem::remove_all(tls_dir, ignored);
    if (!tls) {
        std::fprintf(stderr, "certificate: %.*s\n", static_cast<int>(tls.error().detail.size()),
                     tls.error().detail.data());
        return 1;
    }

    // Blocked in every thread before any starts; the main thread waits for them below.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    ForwardingHandler handler;
    pp::net::Server server(opts, *tls, handler, [](std::string_view) {
        return pp::net::HttpReply{404, "text/plain; charset=utf-8", "not found\n"};
    });
    if (auto started = server.start(); !started) {
        std::fprintf(stderr, "listen: %.*s\n", static_cast<int>(started.error().detail.size()),
                     started.error().detail.data());
        return 1;
    }
    std::printf("pp_forward_floor listening on %s:%u\n", opts.host.c_str(), server.port());
    std::printf("  certificate pin: sha256:%s\n", tls->fingerprint_sha256().c_str());
    std::fflush(stdout);
    int sig = 0;
    sigwait(&stop_signals, &sig);
    server.shutdown();
    return 0;
}

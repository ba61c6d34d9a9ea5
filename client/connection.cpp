#include "client/connection.hpp"

namespace pp::client {

namespace {
// Responses nobody waits for (submitted acks) are kept only up to this many.
constexpr std::size_t kMaxStrayResponses = 1024;
}  // namespace

Result<std::unique_ptr<Connection>> Connection::open(const std::vector<net::Route>& routes,
                                                     const net::ServerTarget& server,
                                                     milliseconds timeout,
                                                     std::vector<net::AttemptReport>& reports) {
    net::WsClientOptions o;
    o.connect_timeout = timeout;
    o.max_frame_bytes = wire::kMaxFrameBytes;
    net::RaceOptions race;
    race.timeout = timeout;
    // A route that has not got through in two thirds of the time counts as failed (and rests
    // a while), which a route cut short by the end of the race would not.
    race.attempt_timeout = timeout * 2 / 3;
    auto ws = net::WsClient::connect_racing(routes, server, race, o, &reports);
    if (!ws) return ws.error();
    return std::unique_ptr<Connection>(new Connection(std::move(*ws)));
}

Result<void> Connection::read_one(milliseconds timeout) {
    auto bytes = ws_.receive(timeout);
    if (!bytes) return bytes.error();
    auto frame = wire::decode_frame(*bytes);
    if (!frame) return make_error(ErrorCode::kMalformed, "the server sent a malformed frame");
    if (frame->has_push()) {
        pushes_.push_back(std::move(*frame->mutable_push()));
    } else if (frame->has_response()) {
        const auto id = frame->response().id();
        if (responses_.size() >= kMaxStrayResponses) responses_.erase(responses_.begin());
        responses_[id] = std::move(*frame->mutable_response());
    } else {
        return make_error(ErrorCode::kMalformed, "the server sent a request");
    }
    return {};
}

Result<void> Connection::submit(v1::Request req) {
    req.set_id(next_id_++);
    v1::Frame f;
    f.set_version(wire::kProtocolVersion);
    *f.mutable_request() = std::move(req);
    return ws_.send(wire::encode_frame(f));
}

Result<v1::Response> Connection::call(v1::Request req, milliseconds timeout) {
    const std::uint64_t id = next_id_;
    PP_TRY_VOID(submit(std::move(req)));
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (auto it = responses_.find(id); it != responses_.end()) {
            v1::Response r = std::move(it->second);
            responses_.erase(it);
            return r;
        }
        // A response with id 0 answers a frame the server could not read: ours was bad.
        if (auto it = responses_.find(0); it != responses_.end()) {
            responses_.erase(it);
            return make_error(ErrorCode::kMalformed, "the server could not read our request");
        }
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) return make_error(ErrorCode::kLimitExceeded, "server timed out");
        PP_TRY_VOID(
            read_one(std::chrono::duration_cast<milliseconds>(deadline - now) + milliseconds(1)));
    }
}

Result<std::optional<v1::Push>> Connection::next_push(milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pushes_.empty()) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) return std::optional<v1::Push>{};
        auto r =
            read_one(std::chrono::duration_cast<milliseconds>(deadline - now) + milliseconds(1));
        if (!r && r.error().code == ErrorCode::kLimitExceeded) return std::optional<v1::Push>{};
        if (!r) return r.error();
    }
    v1::Push p = std::move(pushes_.front());
    pushes_.pop_front();
    return std::optional<v1::Push>(std::move(p));
}

void Connection::close() {
    ws_.close(std::chrono::milliseconds(500));
}

}  // namespace pp::client

#include "wire/frame_codec.hpp"

namespace pp::wire {

Result<v1::Frame> decode_frame(ByteView bytes, std::size_t max_bytes) {
    if (bytes.size() > max_bytes) return make_error(ErrorCode::kLimitExceeded, "frame too large");
    v1::Frame frame;
    if (!frame.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
        return make_error(ErrorCode::kMalformed, "frame does not parse");
    if (frame.version() != kProtocolVersion)
        return make_error(ErrorCode::kInvalidVersion, "unsupported protocol version");
    if (frame.kind_case() == v1::Frame::KIND_NOT_SET)
        return make_error(ErrorCode::kMalformed, "empty frame");
    return frame;
}

Bytes encode_frame(const v1::Frame& frame) {
    Bytes out(frame.ByteSizeLong());
    frame.SerializeWithCachedSizesToArray(out.data());
    return out;
}

v1::Frame make_response(std::uint64_t id, v1::Status status, std::string_view detail) {
    v1::Frame f;
    f.set_version(kProtocolVersion);
    auto* r = f.mutable_response();
    r->set_id(id);
    r->set_status(status);
    if (!detail.empty()) r->set_detail(std::string(detail));
    return f;
}

}  // namespace pp::wire

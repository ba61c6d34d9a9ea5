#pragma once
// Frames on the wire: one protobuf `Frame` per binary WebSocket message. Decoding is the only
// parser of untrusted bytes on the server's hot path: it bounds the size, refuses other
// versions and frames with no content, and never throws.
#include <cstddef>

#include "base/bytes.hpp"
#include "base/result.hpp"
#include "wire/paperplane.pb.h"

namespace pp::wire {

namespace v1 = paperplane::wire::v1;

inline constexpr std::uint32_t kProtocolVersion = 1;
inline constexpr std::size_t kMaxFrameBytes = 256 * 1024;

Result<v1::Frame> decode_frame(ByteView bytes, std::size_t max_bytes = kMaxFrameBytes);
Bytes encode_frame(const v1::Frame& frame);

// Builders for the frames the server sends most.
v1::Frame make_response(std::uint64_t id, v1::Status status, std::string_view detail = {});

}  // namespace pp::wire

#pragma once
// The plaintext of every end-to-end message: a protobuf Content (client/content.proto) padded
// so that its length reveals little, and parsed strictly on the way in.
#include "base/bytes.hpp"
#include "base/result.hpp"
#include "client/content.pb.h"

namespace pp::client {

namespace content = paperplane::content::v1;

inline constexpr std::size_t kPaddingBlock = 160;
inline constexpr std::size_t kMaxContentBytes = 64 * 1024;  // text is capped well below this

// Serialises with zero padding up to the next multiple of kPaddingBlock.
Bytes encode_content(const content::Content& c);
// kMalformed for bytes that are not a Content with a body, or are too large.
Result<content::Content> decode_content(ByteView bytes);

}  // namespace pp::client

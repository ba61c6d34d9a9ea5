#include "client/content_codec.hpp"

namespace pp::client {

Bytes encode_content(const content::Content& c) {
    content::Content padded = c;
    padded.clear_padding();
    // The padding field costs a tag byte and a 1- or 2-byte length of its own: aim at the next
    // block boundary with those included.
    const std::size_t bare = padded.ByteSizeLong();
    const std::size_t target = (bare + 3 + kPaddingBlock - 1) / kPaddingBlock * kPaddingBlock;
    const std::size_t room = target - bare;  // >= 3
    const std::size_t fill = room - 2 < 128 ? room - 2 : room - 3;
    padded.set_padding(std::string(fill, '\0'));
    Bytes out(padded.ByteSizeLong());
    padded.SerializeToArray(out.data(), static_cast<int>(out.size()));
    return out;
}

Result<content::Content> decode_content(ByteView bytes) {
    if (bytes.size() > kMaxContentBytes)
        return make_error(ErrorCode::kMalformed, "content too large");
    content::Content c;
    if (!c.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) ||
        c.body_case() == content::Content::BODY_NOT_SET)
        return make_error(ErrorCode::kMalformed, "content does not parse");
    return c;
}

}  // namespace pp::client

#include "server/endpoint_key.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "crypto/compare.hpp"
#include "net/durable_file.hpp"

namespace pp::server {

namespace {

constexpr std::size_t kFileSize = crypto::kSigningSeedSize + crypto::kVerifyKeySize;

// Reads at most kFileSize + 1 bytes, into a buffer that wipes itself.
Result<SecretBytes> read_key_file(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return make_error(ErrorCode::kNoSession, "no endpoint key yet");
        return make_error(ErrorCode::kInternal, "cannot open endpoint-signing.key");
    }
    SecretBytes buf(kFileSize + 1);
    std::size_t done = 0;
    bool ok = true;
    while (done < buf.size()) {
        const ssize_t n = ::read(fd, buf.data() + done, buf.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) ok = false;
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
    }
    ::close(fd);
    if (!ok) return make_error(ErrorCode::kInternal, "cannot read endpoint-signing.key");
    if (done != kFileSize)
        return make_error(ErrorCode::kMalformed,
                          "endpoint-signing.key is corrupt: it must be exactly 64 bytes");
    return SecretBytes(ByteView(buf.data(), kFileSize));
}

}  // namespace

Result<crypto::SigningKey> load_endpoint_key(const std::filesystem::path& data_dir) {
    PP_TRY(content, read_key_file(data_dir / kEndpointKeyFile));
    const ByteView all = content.view();
    auto key = crypto::SigningKey::from_seed(all.first(crypto::kSigningSeedSize));
    if (!key) return key.error();
    if (!crypto::constant_time_equal(key->verify_key().view(),
                                     all.subspan(crypto::kSigningSeedSize)))
        return make_error(ErrorCode::kMalformed,
                          "endpoint-signing.key is corrupt: its public key does not match");
    return key;
}

Result<crypto::SigningKey> load_or_create_endpoint_key(const std::filesystem::path& data_dir) {
    auto loaded = load_endpoint_key(data_dir);
    if (loaded || loaded.error().code != ErrorCode::kNoSession) return loaded;
    auto key = crypto::SigningKey::generate();
    // libsodium's 64-byte secret key is exactly the file's layout: seed || public key.
    if (auto w = net::write_file_durably(data_dir / kEndpointKeyFile, key.secret().view(), 0600);
        !w)
        return make_error(ErrorCode::kInternal, "cannot write endpoint-signing.key");
    return key;
}

}  // namespace pp::server

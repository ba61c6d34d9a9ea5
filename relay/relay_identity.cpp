#include "relay/relay_identity.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include "crypto/random.hpp"
#include "net/durable_file.hpp"

namespace pp::relay {

namespace {

using wire::relay::kSecretSize;
using wire::relay::LinkSecret;

Result<LinkSecret> read_secret(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return make_error(ErrorCode::kInternal, "cannot open relay link secret");
    SecretArray<kSecretSize + 1> buf;  // one more: a longer file is an error, not a prefix
    std::size_t got = 0;
    bool ok = true;
    while (got < buf.size()) {
        const ssize_t n = ::read(fd, buf.data() + got, buf.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ok = n == 0;
            break;
        }
        got += static_cast<std::size_t>(n);
    }
    ::close(fd);
    if (!ok || got != kSecretSize) {
        return make_error(ErrorCode::kInvalidKey, "relay link secret file is not 32 bytes");
    }
    return LinkSecret(buf.view().first(kSecretSize));
}

}  // namespace

Result<LinkSecret> load_or_create_link_secret(const std::string& data_dir) {
    std::error_code ec;
    std::filesystem::create_directories(data_dir, ec);
    if (ec) return make_error(ErrorCode::kInternal, "cannot create data dir");
    const auto path = std::filesystem::path(data_dir) / kLinkSecretFile;
    if (!std::filesystem::exists(path, ec)) {
        LinkSecret fresh;
        crypto::random_bytes(fresh.span());
        PP_TRY_VOID(net::write_file_durably(path, fresh.view(), 0600));
    }
    return read_secret(path);
}

std::string relay_certificate_host(const Config& config) {
    if (!config.public_host.empty()) return config.public_host;
    std::string host = config.relay.listen;
    const auto colon = host.rfind(':');
    if (colon != std::string::npos) host.resize(colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    if (host.empty() || host == "0.0.0.0" || host == "::") return "localhost";
    return host;
}

Result<RelayIdentity> load_or_create_relay_identity(const Config& config) {
    auto tls = config.relay.tls_cert.empty()
                   ? net::load_or_create_self_signed(
                         config.data_dir,
                         net::SelfSignedSubject{relay_certificate_host(config), kRelayTlsFileStem})
                   : net::make_server_tls(config.relay.tls_cert, config.relay.tls_key);
    if (!tls) return tls.error();
    PP_TRY(secret, load_or_create_link_secret(config.data_dir));
    return RelayIdentity{std::move(tls).value(), secret};
}

}  // namespace pp::relay

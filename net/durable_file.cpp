#include "net/durable_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace pp::net {

Result<void> write_file_durably(const std::filesystem::path& path, ByteView content, mode_t mode) {
    const auto tmp = std::filesystem::path(path.string() + ".tmp");
    ::unlink(tmp.c_str());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) return make_error(ErrorCode::kInternal, "cannot create file in data dir");
    // The umask may have taken bits away from `mode`; the file gets exactly `mode`.
    bool ok = ::fchmod(fd, mode) == 0;
    std::size_t done = 0;
    while (ok && done < content.size()) {
        const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR) continue;
        ok = n > 0;
        if (ok) done += static_cast<std::size_t>(n);
    }
    ok = ok && ::fsync(fd) == 0;
    ok = (::close(fd) == 0) && ok;
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
        ::unlink(tmp.c_str());
        return make_error(ErrorCode::kInternal, "cannot write file in data dir");
    }
    return {};
}

}  // namespace pp::net

#include "relay/socks5/pipe_pool.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace pp::relay::socks5 {

PipePool::PipePool(std::size_t max_idle, int pipe_bytes)
    : max_idle_(max_idle), pipe_bytes_(pipe_bytes) {
    idle_.reserve(max_idle);
}

PipePool::~PipePool() {
    for (auto& p : idle_) discard(p);
}

Pipe PipePool::acquire() {
    {
        std::lock_guard lock(mutex_);
        if (!idle_.empty()) {
            Pipe p = idle_.back();
            idle_.pop_back();
            return p;
        }
    }
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return {};
    // A large pipe moves a whole socket buffer per splice: fewer syscalls and wakeups. If the
    // per-user pipe budget (fs.pipe-user-pages-soft) is spent the kernel refuses, or gives a
    // non-root user's new pipes a single page; the size read back is the one used.
    (void)::fcntl(fds[1], F_SETPIPE_SZ, pipe_bytes_);
    const int granted = ::fcntl(fds[1], F_GETPIPE_SZ);
    return Pipe{fds[0], fds[1], granted > 0 ? static_cast<std::size_t>(granted) : 4096};
}

void PipePool::release(Pipe& p) {
    if (!p) return;
    {
        std::lock_guard lock(mutex_);
        if (idle_.size() < max_idle_) {
            idle_.push_back(p);
            p = Pipe{};
            return;
        }
    }
    discard(p);
}

void PipePool::discard(Pipe& p) {
    if (p.read_fd >= 0) ::close(p.read_fd);
    if (p.write_fd >= 0) ::close(p.write_fd);
    p = Pipe{};
}

}  // namespace pp::relay::socks5

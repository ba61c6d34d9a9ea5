#pragma once
// Pipes for splice(2). A connection holds a pipe only while bytes are in flight and gives it
// back once drained, so an idle connection holds none; the pool keeps a bounded number of empty
// pipes for reuse so busy connections do not pay pipe2() + fcntl() on every wakeup.
#include <cstddef>
#include <mutex>
#include <vector>

namespace pp::relay::socks5 {

struct Pipe {
    int read_fd = -1;
    int write_fd = -1;
    // What the kernel actually granted (F_GETPIPE_SZ): the splice chunk. Asking for more than
    // the pipe holds only costs a short splice; asking for less wastes the big pipe.
    std::size_t capacity = 0;
    explicit operator bool() const { return read_fd >= 0; }
};

class PipePool {
  public:
    // `pipe_bytes`: capacity asked for with F_SETPIPE_SZ (the kernel may cap it).
    PipePool(std::size_t max_idle, int pipe_bytes);
    ~PipePool();
    PipePool(const PipePool&) = delete;
    PipePool& operator=(const PipePool&) = delete;

    // An empty pipe, or an invalid Pipe if none could be made (out of descriptors).
    Pipe acquire();
    // Back to the pool: only for a pipe that holds no bytes.
    void release(Pipe& p);
    // Closed: for a pipe that may still hold bytes of a dead connection.
    static void discard(Pipe& p);
    int pipe_bytes() const { return pipe_bytes_; }

  private:
    std::mutex mutex_;
    std::vector<Pipe> idle_;
    std::size_t max_idle_;
    int pipe_bytes_;
};

}  // namespace pp::relay::socks5

// PipePool: the splice chunk is what the kernel granted, not what was asked for.
#include "relay/socks5/pipe_pool.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>

namespace pp::relay::socks5 {
namespace {

TEST(Socks5PipePool, CapacityIsWhatTheKernelGranted) {
    PipePool pool(2, 256 * 1024);
    Pipe p = pool.acquire();
    ASSERT_TRUE(p);
    EXPECT_EQ(p.capacity, static_cast<std::size_t>(::fcntl(p.write_fd, F_GETPIPE_SZ)));
    EXPECT_GE(p.capacity, 4096u);
    // Asking for an odd size: the kernel rounds up to a power-of-two number of pages.
    PipePool odd(1, 100 * 1024);
    Pipe q = odd.acquire();
    ASSERT_TRUE(q);
    EXPECT_EQ(q.capacity, static_cast<std::size_t>(::fcntl(q.write_fd, F_GETPIPE_SZ)));
    pool.release(p);
    EXPECT_FALSE(p);
    PipePool::discard(q);
}

}  // namespace
}  // namespace pp::relay::socks5

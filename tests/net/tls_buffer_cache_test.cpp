// net/tls_buffer_cache: installed first thing in main(), as paperplane-server does, before
// OpenSSL allocates anything. This program also runs the whole TlsStream suite
// (tls_stream_test.cpp: real handshakes, partial reads, WANT_WRITE, KeyUpdate) with every
// OpenSSL allocation going through the cache; ctest lists those under "cached.".
#include "net/tls_buffer_cache.hpp"

#include <gtest/gtest.h>
#include <openssl/crypto.h>

#include <cstring>
#include <thread>

namespace pp::net {
namespace {

bool g_installed = false;

TEST(TlsBufferCache, IsInstalledFirstThingInMain) {
    // OpenSSL refuses new allocation functions once it has allocated with its defaults: this
    // says nothing in this program touched OpenSSL before main().
    EXPECT_TRUE(g_installed);
}

TEST(TlsBufferCache, AFreedRecordBufferIsTheNextOneHandedOut) {
    // OpenSSL 3's read and write record buffers, as sized here: one freed serves the other.
    void* read_buf = OPENSSL_malloc(16584);
    ASSERT_NE(read_buf, nullptr);
    std::memset(read_buf, 0x11, 16584);
    OPENSSL_free(read_buf);
    void* write_buf = OPENSSL_malloc(16712);
    ASSERT_NE(write_buf, nullptr);
    EXPECT_EQ(write_buf, read_buf);
    // The whole larger request is usable (AddressSanitizer checks every byte of it).
    std::memset(write_buf, 0x22, 16712);
    OPENSSL_free(write_buf);
}

TEST(TlsBufferCache, OtherSizesPassThrough) {
    void* small = OPENSSL_malloc(16 * 1024);  // the class starts above 16 KiB
    void* large = OPENSSL_malloc(kTlsBufferClassBytes + 1);
    ASSERT_NE(small, nullptr);
    ASSERT_NE(large, nullptr);
    std::memset(small, 0x33, 16 * 1024);
    std::memset(large, 0x44, kTlsBufferClassBytes + 1);
    OPENSSL_free(large);
    OPENSSL_free(small);
    // A class buffer shrunk by realloc no longer counts as one: freeing it must not put a
    // 100-byte chunk where the next 16 KiB request would take it.
    void* shrunk = OPENSSL_realloc(OPENSSL_malloc(16600), 100);
    ASSERT_NE(shrunk, nullptr);
    OPENSSL_free(shrunk);
    void* next = OPENSSL_malloc(16600);
    ASSERT_NE(next, nullptr);
    std::memset(next, 0x55, 16600);
    OPENSSL_free(next);
}

TEST(TlsBufferCache, AThreadsCachedBuffersGoBackWhenItEnds) {
    // The thread leaves buffers in its cache and ends; LeakSanitizer (the asan-ubsan build)
    // reports them as leaked if the cache does not free them.
    std::thread t([] {
        void* bufs[kTlsBufferCacheSlots + 2];
        for (auto& b : bufs) b = OPENSSL_malloc(16584);
        for (auto* b : bufs) OPENSSL_free(b);
    });
    t.join();
    SUCCEED();
}

}  // namespace
}  // namespace pp::net

int main(int argc, char** argv) {
    pp::net::g_installed = pp::net::install_tls_buffer_cache();
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}

#pragma once
// net/: a few freed TLS record buffers kept per thread, for OpenSSL to take again.
//
// Why: the server's TLS context sets SSL_MODE_RELEASE_BUFFERS, so an idle connection holds no
// record buffers (they are about 16.5 KiB each way; the idle-memory budget is 20 KiB per
// connection in all). The price is paid while connections are busy: OpenSSL allocates and
// frees a read buffer for every burst of records it reads and a write buffer for every burst
// it writes, about three of them per delivered message. glibc serves a request of that size
// from its large bins, and before each one it consolidates every small freed chunk of the
// arena. This cache hands the last few freed record buffers of the thread straight back,
// bounded at kTlsBufferCacheSlots per thread, so it keeps memory in step with the work done.
#include <cstddef>

namespace pp::net {

// Buffers kept per thread, each kTlsBufferClassBytes.
inline constexpr int kTlsBufferCacheSlots = 8;
// Every OpenSSL request above 16 KiB and up to this size is served at this size, so that any
// freed one fits the next request. It covers OpenSSL 3's TLS record buffers: 16,584 bytes to
// read (read-ahead on) and 16,712 to write, as allocated here.
inline constexpr std::size_t kTlsBufferClassBytes = 17 * 1024;

// Routes OpenSSL's allocations through the cache. OpenSSL accepts this only before it has
// allocated anything, so it is the first thing main() does; false if it was too late, and
// then nothing changes.
bool install_tls_buffer_cache() noexcept;

// How many freed buffers the calling thread's cache holds (for tests).
int tls_buffer_cache_held() noexcept;

}  // namespace pp::net

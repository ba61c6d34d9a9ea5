#include "net/tls_buffer_cache.hpp"

#include <malloc.h>
#include <openssl/crypto.h>

#include <cstdlib>

#if defined(__SANITIZE_ADDRESS__)
#define PP_TLS_CACHE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PP_TLS_CACHE_ASAN 1
#endif
#endif
#ifdef PP_TLS_CACHE_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace pp::net {

namespace {

// Under AddressSanitizer a class buffer is poisoned wherever OpenSSL may not touch it: all of
// it while it sits in the cache (a touch of freed memory), and past the size OpenSSL asked
// for while it is handed out (an overrun the class's spare bytes would otherwise hide).
// mark_whole() makes it plain memory again, before it is cached, reallocated or freed.
void mark_whole(void* p) {
#ifdef PP_TLS_CACHE_ASAN
    ASAN_UNPOISON_MEMORY_REGION(p, kTlsBufferClassBytes);
#else
    (void)p;
#endif
}
void mark_cached(void* p) {
#ifdef PP_TLS_CACHE_ASAN
    ASAN_POISON_MEMORY_REGION(p, kTlsBufferClassBytes);
#else
    (void)p;
#endif
}
void mark_handed_out(void* p, std::size_t asked) {
#ifdef PP_TLS_CACHE_ASAN
    ASAN_UNPOISON_MEMORY_REGION(p, kTlsBufferClassBytes);
    ASAN_POISON_MEMORY_REGION(static_cast<char*>(p) + asked, kTlsBufferClassBytes - asked);
#else
    (void)p;
    (void)asked;
#endif
}

constexpr std::size_t kClassMin = 16 * 1024;

// What malloc_usable_size() says of a chunk of kTlsBufferClassBytes: a freed chunk that says
// the same was allocated at the class size (or is as large), so it fits any class request.
std::size_t g_class_usable = 0;

struct Cache {
    void* slots[kTlsBufferCacheSlots] = {};
    int count = 0;
    ~Cache();
};

// The two flags are trivially destructible, so they stay readable while the thread's
// thread_locals are destroyed and after (OpenSSL's own thread-stop handlers free late).
// t_cache_ready: t_cache was built by a class request in cache_malloc. A free never builds
// the cache, because OpenSSL frees from its thread-stop handlers, which run after the
// thread_local destructors: a cache built there would have its destructor registered too late
// and leak what it holds. (A record buffer first requested from such a handler would do the
// same; OpenSSL allocates none there.) t_cache_gone: its destructor has run.
thread_local bool t_cache_ready = false;
thread_local bool t_cache_gone = false;
thread_local Cache t_cache;

Cache::~Cache() {
    t_cache_gone = true;
    for (int i = 0; i < count; ++i) {
        mark_whole(slots[i]);
        std::free(slots[i]);
    }
    count = 0;
}

bool cache_usable() {
    return t_cache_ready && !t_cache_gone;
}

bool is_class_chunk(void* p) {
    return malloc_usable_size(p) == g_class_usable;
}

void* cache_malloc(std::size_t n, const char*, int) {
    if (n <= kClassMin || n > kTlsBufferClassBytes) return std::malloc(n);
    void* p = nullptr;
    if (!t_cache_gone) {
        t_cache_ready = true;
        if (t_cache.count > 0) p = t_cache.slots[--t_cache.count];
    }
    if (p == nullptr) p = std::malloc(kTlsBufferClassBytes);
    if (p != nullptr) mark_handed_out(p, n);
    return p;
}

void* cache_realloc(void* p, std::size_t n, const char*, int) {
    // glibc may grow or shrink the chunk in place or move it: free() below judges the result
    // by its usable size alone, which is at least the class size whenever it matches.
    if (p != nullptr && is_class_chunk(p)) mark_whole(p);
    return std::realloc(p, n);
}

void cache_free(void* p, const char*, int) {
    if (p == nullptr) return;
    // malloc_usable_size() reads the chunk's header: a few instructions on every OpenSSL free
    // while the cache has room, against a large-bin search saved on every hit.
    if (cache_usable() && t_cache.count < kTlsBufferCacheSlots && is_class_chunk(p)) {
        mark_cached(p);
        t_cache.slots[t_cache.count++] = p;
        return;
    }
#ifdef PP_TLS_CACHE_ASAN
    if (is_class_chunk(p)) mark_whole(p);
#endif
    std::free(p);
}

}  // namespace

int tls_buffer_cache_held() noexcept {
    return cache_usable() ? t_cache.count : 0;
}

bool install_tls_buffer_cache() noexcept {
    void* probe = std::malloc(kTlsBufferClassBytes);
    if (probe == nullptr) return false;
    g_class_usable = malloc_usable_size(probe);
    std::free(probe);
    return CRYPTO_set_mem_functions(&cache_malloc, &cache_realloc, &cache_free) == 1;
}

}  // namespace pp::net

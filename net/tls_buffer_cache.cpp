#include "net/tls_buffer_cache.hpp"

#include <malloc.h>
#include <openssl/crypto.h>

#include <cstdlib>

namespace pp::net {

namespace {

constexpr std::size_t kClassMin = 16 * 1024;

// What malloc_usable_size() says of a chunk of kTlsBufferClassBytes: a freed chunk that says
// the same was allocated at the class size (or is as large), so it fits any class request.
std::size_t g_class_usable = 0;

struct Cache {
    void* slots[kTlsBufferCacheSlots] = {};
    int count = 0;
    ~Cache();
};

// Trivially destructible, so still readable while the thread's other thread_locals are
// being destroyed: OpenSSL may free after the cache is gone, and must then reach free().
thread_local bool t_cache_gone = false;
thread_local Cache t_cache;

Cache::~Cache() {
    t_cache_gone = true;
    for (int i = 0; i < count; ++i) std::free(slots[i]);
    count = 0;
}

void* cache_malloc(std::size_t n, const char*, int) {
    if (n <= kClassMin || n > kTlsBufferClassBytes) return std::malloc(n);
    if (!t_cache_gone && t_cache.count > 0) return t_cache.slots[--t_cache.count];
    return std::malloc(kTlsBufferClassBytes);
}

void* cache_realloc(void* p, std::size_t n, const char*, int) {
    // A chunk reallocated to another size no longer reports the class's usable size, so free()
    // below passes it to glibc like any other.
    return std::realloc(p, n);
}

void cache_free(void* p, const char*, int) {
    if (p == nullptr) return;
    if (!t_cache_gone && t_cache.count < kTlsBufferCacheSlots &&
        malloc_usable_size(p) == g_class_usable) {
        t_cache.slots[t_cache.count++] = p;
        return;
    }
    std::free(p);
}

}  // namespace

bool install_tls_buffer_cache() noexcept {
    void* probe = std::malloc(kTlsBufferClassBytes);
    if (probe == nullptr) return false;
    g_class_usable = malloc_usable_size(probe);
    std::free(probe);
    return CRYPTO_set_mem_functions(&cache_malloc, &cache_realloc, &cache_free) == 1;
}

}  // namespace pp::net

// Reference peer built on libsignal-protocol-c 2.3.3 with an OpenSSL 3 crypto provider and
// in-memory stores. See ref_party.hpp.
#include "tests/interop/ref_party.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <new>
#include <stdexcept>
#include <tuple>
#include <utility>

// libsignal-protocol-c headers; their directory is a private, SYSTEM include of pp_signal_ref.
#include <curve.h>
#include <fingerprint.h>
#include <group_cipher.h>
#include <group_session_builder.h>
#include <key_helper.h>
#include <protocol.h>
#include <session_builder.h>
#include <session_cipher.h>
#include <session_pre_key.h>
#include <signal_protocol.h>

namespace pp::ref {

static_assert(kSuccess == SG_SUCCESS);
static_assert(kErrNoMem == SG_ERR_NOMEM);
static_assert(kErrInval == SG_ERR_INVAL);
static_assert(kErrUnknown == SG_ERR_UNKNOWN);
static_assert(kErrDuplicateMessage == SG_ERR_DUPLICATE_MESSAGE);
static_assert(kErrInvalidKey == SG_ERR_INVALID_KEY);
static_assert(kErrInvalidKeyId == SG_ERR_INVALID_KEY_ID);
static_assert(kErrInvalidMac == SG_ERR_INVALID_MAC);
static_assert(kErrInvalidMessage == SG_ERR_INVALID_MESSAGE);
static_assert(kErrInvalidVersion == SG_ERR_INVALID_VERSION);
static_assert(kErrLegacyMessage == SG_ERR_LEGACY_MESSAGE);
static_assert(kErrNoSession == SG_ERR_NO_SESSION);
static_assert(kErrStaleKeyExchange == SG_ERR_STALE_KEY_EXCHANGE);
static_assert(kErrUntrustedIdentity == SG_ERR_UNTRUSTED_IDENTITY);
static_assert(kErrVrfSigVerifFailed == SG_ERR_VRF_SIG_VERIF_FAILED);
static_assert(kErrInvalidProtoBuf == SG_ERR_INVALID_PROTO_BUF);
static_assert(kErrFpVersionMismatch == SG_ERR_FP_VERSION_MISMATCH);
static_assert(kErrFpIdentMismatch == SG_ERR_FP_IDENT_MISMATCH);
static_assert(kCiphertextSignal == CIPHERTEXT_SIGNAL_TYPE);
static_assert(kCiphertextPreKey == CIPHERTEXT_PREKEY_TYPE);
static_assert(kCiphertextSenderKey == CIPHERTEXT_SENDERKEY_TYPE);
static_assert(kCiphertextSenderKeyDistribution == CIPHERTEXT_SENDERKEY_DISTRIBUTION_TYPE);

std::string error_name(int code) {
    switch (code) {
        case SG_SUCCESS:
            return "SG_SUCCESS";
        case SG_ERR_NOMEM:
            return "SG_ERR_NOMEM";
        case SG_ERR_INVAL:
            return "SG_ERR_INVAL";
        case SG_ERR_UNKNOWN:
            return "SG_ERR_UNKNOWN";
        case SG_ERR_DUPLICATE_MESSAGE:
            return "SG_ERR_DUPLICATE_MESSAGE";
        case SG_ERR_INVALID_KEY:
            return "SG_ERR_INVALID_KEY";
        case SG_ERR_INVALID_KEY_ID:
            return "SG_ERR_INVALID_KEY_ID";
        case SG_ERR_INVALID_MAC:
            return "SG_ERR_INVALID_MAC";
        case SG_ERR_INVALID_MESSAGE:
            return "SG_ERR_INVALID_MESSAGE";
        case SG_ERR_INVALID_VERSION:
            return "SG_ERR_INVALID_VERSION";
        case SG_ERR_LEGACY_MESSAGE:
            return "SG_ERR_LEGACY_MESSAGE";
        case SG_ERR_NO_SESSION:
            return "SG_ERR_NO_SESSION";
        case SG_ERR_STALE_KEY_EXCHANGE:
            return "SG_ERR_STALE_KEY_EXCHANGE";
        case SG_ERR_UNTRUSTED_IDENTITY:
            return "SG_ERR_UNTRUSTED_IDENTITY";
        case SG_ERR_VRF_SIG_VERIF_FAILED:
            return "SG_ERR_VRF_SIG_VERIF_FAILED";
        case SG_ERR_INVALID_PROTO_BUF:
            return "SG_ERR_INVALID_PROTO_BUF";
        case SG_ERR_FP_VERSION_MISMATCH:
            return "SG_ERR_FP_VERSION_MISMATCH";
        case SG_ERR_FP_IDENT_MISMATCH:
            return "SG_ERR_FP_IDENT_MISMATCH";
        default:
            std::string name = "SG_ERR_";
            name += std::to_string(code);
            return name;
    }
}

namespace {

// ---------------------------------------------------------------------------------------------
// Ownership helpers for libsignal objects.

struct Unref {
    void operator()(void* p) const {
        if (p != nullptr) signal_type_unref(static_cast<signal_type_base*>(p));
    }
};
template <class T>
using Ref = std::unique_ptr<T, Unref>;

struct BufferFree {
    void operator()(signal_buffer* b) const { signal_buffer_bzero_free(b); }
};
using BufferPtr = std::unique_ptr<signal_buffer, BufferFree>;

Bytes to_bytes(const signal_buffer* b) {
    if (b == nullptr) return {};
    const uint8_t* p = signal_buffer_const_data(b);
    return Bytes(p, p + signal_buffer_len(b));
}

// signal_buffer_create copies; it must not be handed a null pointer even for zero length.
signal_buffer* make_buffer(const uint8_t* data, size_t len) {
    static const uint8_t kEmpty = 0;
    return signal_buffer_create(len == 0 ? &kEmpty : data, len);
}
signal_buffer* make_buffer(const Bytes& b) {
    return make_buffer(b.data(), b.size());
}

[[noreturn]] void fail(const char* what, int code) {
    throw std::runtime_error(std::string("libsignal-protocol-c: ") + what +
                             " failed: " + error_name(code));
}

// Callbacks must never let an exception unwind through C frames.
template <class F>
int guarded(F&& f) noexcept {
    try {
        return f();
    } catch (const std::bad_alloc&) {
        return SG_ERR_NOMEM;
    } catch (...) {
        return SG_ERR_UNKNOWN;
    }
}

// ---------------------------------------------------------------------------------------------
// Crypto provider (OpenSSL 3 EVP).

EVP_MAC* hmac_algorithm() {
    static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    return mac;
}

int random_cb(uint8_t* data, size_t len, void*) {
    while (len > 0) {
        const size_t chunk =
            len > static_cast<size_t>(INT_MAX) ? static_cast<size_t>(INT_MAX) : len;
        if (RAND_bytes(data, static_cast<int>(chunk)) != 1) return SG_ERR_UNKNOWN;
        data += chunk;
        len -= chunk;
    }
    return SG_SUCCESS;
}

int hmac_init_cb(void** ctx_out, const uint8_t* key, size_t key_len, void*) {
    EVP_MAC* mac = hmac_algorithm();
    if (mac == nullptr) return SG_ERR_UNKNOWN;
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
    if (ctx == nullptr) return SG_ERR_NOMEM;
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    static const uint8_t kEmptyKey = 0;
    if (EVP_MAC_init(ctx, key_len == 0 ? &kEmptyKey : key, key_len, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return SG_ERR_UNKNOWN;
    }
    *ctx_out = ctx;
    return SG_SUCCESS;
}

int hmac_update_cb(void* ctx, const uint8_t* data, size_t len, void*) {
    return EVP_MAC_update(static_cast<EVP_MAC_CTX*>(ctx), data, len) == 1 ? SG_SUCCESS
                                                                          : SG_ERR_UNKNOWN;
}

int hmac_final_cb(void* ctx, signal_buffer** output, void*) {
    uint8_t md[EVP_MAX_MD_SIZE];
    size_t len = 0;
    if (EVP_MAC_final(static_cast<EVP_MAC_CTX*>(ctx), md, &len, sizeof md) != 1) {
        return SG_ERR_UNKNOWN;
    }
    signal_buffer* out = signal_buffer_create(md, len);
    if (out == nullptr) return SG_ERR_NOMEM;
    *output = out;
    return SG_SUCCESS;
}

void hmac_cleanup_cb(void* ctx, void*) {
    EVP_MAC_CTX_free(static_cast<EVP_MAC_CTX*>(ctx));
}

int sha512_init_cb(void** ctx_out, void*) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (ctx == nullptr) return SG_ERR_NOMEM;
    if (EVP_DigestInit_ex(ctx, EVP_sha512(), nullptr) != 1) {
        EVP_MD_CTX_free(ctx);
        return SG_ERR_UNKNOWN;
    }
    *ctx_out = ctx;
    return SG_SUCCESS;
}

int sha512_update_cb(void* ctx, const uint8_t* data, size_t len, void*) {
    return EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx), data, len) == 1 ? SG_SUCCESS
                                                                           : SG_ERR_UNKNOWN;
}

// libsignal reuses the context after final (fingerprint iterations), so re-initialise it.
int sha512_final_cb(void* ctx_ptr, signal_buffer** output, void*) {
    auto* ctx = static_cast<EVP_MD_CTX*>(ctx_ptr);
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx, md, &len) != 1) return SG_ERR_UNKNOWN;
    if (EVP_DigestInit_ex(ctx, EVP_sha512(), nullptr) != 1) return SG_ERR_UNKNOWN;
    signal_buffer* out = signal_buffer_create(md, len);
    if (out == nullptr) return SG_ERR_NOMEM;
    *output = out;
    return SG_SUCCESS;
}

void sha512_cleanup_cb(void* ctx, void*) {
    EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx));
}

const EVP_CIPHER* aes_cipher(int cipher, size_t key_len) {
    if (cipher == SG_CIPHER_AES_CBC_PKCS5) {
        switch (key_len) {
            case 16:
                return EVP_aes_128_cbc();
            case 24:
                return EVP_aes_192_cbc();
            case 32:
                return EVP_aes_256_cbc();
            default:
                return nullptr;
        }
    }
    if (cipher == SG_CIPHER_AES_CTR_NOPADDING) {
        switch (key_len) {
            case 16:
                return EVP_aes_128_ctr();
            case 24:
                return EVP_aes_192_ctr();
            case 32:
                return EVP_aes_256_ctr();
            default:
                return nullptr;
        }
    }
    return nullptr;
}

int aes_cb(bool encrypt, signal_buffer** output, int cipher, const uint8_t* key, size_t key_len,
           const uint8_t* iv, size_t iv_len, const uint8_t* in, size_t in_len) {
    const EVP_CIPHER* evp = aes_cipher(cipher, key_len);
    if (evp == nullptr || iv_len != 16) return SG_ERR_UNKNOWN;
    if (in_len > static_cast<size_t>(INT_MAX) - 32) return SG_ERR_UNKNOWN;
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                        &EVP_CIPHER_CTX_free);
    if (!ctx) return SG_ERR_NOMEM;
    if (EVP_CipherInit_ex(ctx.get(), evp, nullptr, key, iv, encrypt ? 1 : 0) != 1) {
        return SG_ERR_UNKNOWN;
    }
    // PKCS#5/7 padding for CBC (the EVP default); CTR is a stream mode.
    if (EVP_CIPHER_CTX_set_padding(ctx.get(), cipher == SG_CIPHER_AES_CBC_PKCS5 ? 1 : 0) != 1) {
        return SG_ERR_UNKNOWN;
    }
    Bytes out(in_len + 32);
    int len1 = 0;
    int len2 = 0;
    static const uint8_t kEmpty = 0;
    if (EVP_CipherUpdate(ctx.get(), out.data(), &len1, in_len == 0 ? &kEmpty : in,
                         static_cast<int>(in_len)) != 1) {
        return SG_ERR_UNKNOWN;
    }
    if (EVP_CipherFinal_ex(ctx.get(), out.data() + len1, &len2) != 1) return SG_ERR_UNKNOWN;
    signal_buffer* result = make_buffer(out.data(), static_cast<size_t>(len1 + len2));
    OPENSSL_cleanse(out.data(), out.size());
    if (result == nullptr) return SG_ERR_NOMEM;
    *output = result;
    return SG_SUCCESS;
}

int encrypt_cb(signal_buffer** output, int cipher, const uint8_t* key, size_t key_len,
               const uint8_t* iv, size_t iv_len, const uint8_t* plaintext, size_t plaintext_len,
               void*) {
    return guarded([&] {
        return aes_cb(true, output, cipher, key, key_len, iv, iv_len, plaintext, plaintext_len);
    });
}

int decrypt_cb(signal_buffer** output, int cipher, const uint8_t* key, size_t key_len,
               const uint8_t* iv, size_t iv_len, const uint8_t* ciphertext, size_t ciphertext_len,
               void*) {
    return guarded([&] {
        return aes_cb(false, output, cipher, key, key_len, iv, iv_len, ciphertext, ciphertext_len);
    });
}

// ---------------------------------------------------------------------------------------------
// Global context with crypto provider and a log sink.

struct LogSink {
    std::string last;
    bool verbose = std::getenv("PP_REF_VERBOSE") != nullptr;
};

void log_cb(int level, const char* message, size_t len, void* user_data) {
    auto* sink = static_cast<LogSink*>(user_data);
    if (sink == nullptr) return;
    if (sink->verbose) std::fprintf(stderr, "[libsignal %d] %.*s\n", level, int(len), message);
    if (level <= SG_LOG_WARNING) {
        try {
            sink->last.assign(message, len);
        } catch (...) {
        }
    }
}

struct ContextDeleter {
    void operator()(signal_context* c) const { signal_context_destroy(c); }
};
using ContextPtr = std::unique_ptr<signal_context, ContextDeleter>;

ContextPtr make_context(LogSink* sink) {
    signal_context* raw = nullptr;
    int rc = signal_context_create(&raw, sink);
    if (rc < 0) fail("signal_context_create", rc);
    ContextPtr ctx(raw);

    signal_crypto_provider provider{};
    provider.random_func = random_cb;
    provider.hmac_sha256_init_func = hmac_init_cb;
    provider.hmac_sha256_update_func = hmac_update_cb;
    provider.hmac_sha256_final_func = hmac_final_cb;
    provider.hmac_sha256_cleanup_func = hmac_cleanup_cb;
    provider.sha512_digest_init_func = sha512_init_cb;
    provider.sha512_digest_update_func = sha512_update_cb;
    provider.sha512_digest_final_func = sha512_final_cb;
    provider.sha512_digest_cleanup_func = sha512_cleanup_cb;
    provider.encrypt_func = encrypt_cb;
    provider.decrypt_func = decrypt_cb;
    provider.user_data = nullptr;
    rc = signal_context_set_crypto_provider(ctx.get(), &provider);
    if (rc < 0) fail("signal_context_set_crypto_provider", rc);
    rc = signal_context_set_log_function(ctx.get(), log_cb);
    if (rc < 0) fail("signal_context_set_log_function", rc);
    // No locking functions: libsignal skips locking when none are set (single-threaded use).
    return ctx;
}

// A context for the static helpers (fingerprints, signatures).
signal_context* shared_context() {
    static LogSink sink;
    static ContextPtr ctx = make_context(&sink);
    return ctx.get();
}

Ref<ec_public_key> decode_public(const Bytes& key33, signal_context* ctx, int& rc) {
    ec_public_key* key = nullptr;
    rc = curve_decode_point(&key, key33.data(), key33.size(), ctx);
    return Ref<ec_public_key>(rc < 0 ? nullptr : key);
}

Bytes serialize_public(const ec_public_key* key) {
    signal_buffer* raw = nullptr;
    const int rc = ec_public_key_serialize(&raw, key);
    if (rc < 0) fail("ec_public_key_serialize", rc);
    BufferPtr buf(raw);
    return to_bytes(buf.get());
}

using AddressKey = std::pair<std::string, int32_t>;
using SenderKeyKey = std::tuple<std::string, std::string, int32_t>;

AddressKey key_of(const signal_protocol_address* a) {
    return {std::string(a->name, a->name_len), a->device_id};
}

SenderKeyKey key_of(const signal_protocol_sender_key_name* n) {
    return {std::string(n->group_id, n->group_id_len),
            std::string(n->sender.name, n->sender.name_len), n->sender.device_id};
}

struct Record {
    Bytes record;
    Bytes user_record;
};

}  // namespace

// ---------------------------------------------------------------------------------------------

struct RefParty::Impl {
    std::string name;
    LogSink log;
    ContextPtr ctx;
    signal_protocol_store_context* store = nullptr;

    Ref<ratchet_identity_key_pair> identity;
    Bytes identity_public;   // 33 bytes
    Bytes identity_private;  // 32 bytes
    uint32_t registration_id = 0;
    uint32_t next_prekey_id = 1;
    uint32_t next_signed_prekey_id = 1;

    std::map<AddressKey, Record> sessions;
    std::map<uint32_t, Bytes> prekeys;
    std::map<uint32_t, Bytes> signed_prekeys;
    std::map<AddressKey, Bytes> identities;
    std::map<SenderKeyKey, Record> sender_keys;

    ~Impl() {
        identity.reset();  // before the context goes away
        if (store != nullptr) signal_protocol_store_context_destroy(store);
    }

    signal_protocol_address address(const std::string& peer) const {
        return signal_protocol_address{peer.c_str(), peer.size(), kDeviceId};
    }
    static signal_protocol_sender_key_name sender_key_name(const std::string& group,
                                                           const std::string& sender) {
        return signal_protocol_sender_key_name{
            group.c_str(), group.size(), {sender.c_str(), sender.size(), kDeviceId}};
    }
};

namespace {

using Impl = RefParty::Impl;
Impl& self(void* user_data) {
    return *static_cast<Impl*>(user_data);
}

// ---- session store
int load_session_cb(signal_buffer** record, signal_buffer** user_record,
                    const signal_protocol_address* address, void* ud) {
    return guarded([&] {
        auto& s = self(ud);
        auto it = s.sessions.find(key_of(address));
        if (it == s.sessions.end()) return 0;
        signal_buffer* r = make_buffer(it->second.record);
        if (r == nullptr) return SG_ERR_NOMEM;
        if (!it->second.user_record.empty()) {
            signal_buffer* u = make_buffer(it->second.user_record);
            if (u == nullptr) {
                signal_buffer_free(r);
                return SG_ERR_NOMEM;
            }
            *user_record = u;
        }
        *record = r;
        return 1;
    });
}

int get_sub_device_sessions_cb(signal_int_list** sessions, const char* name, size_t name_len,
                               void* ud) {
    return guarded([&] {
        auto& s = self(ud);
        const std::string n(name, name_len);
        signal_int_list* list = signal_int_list_alloc();
        if (list == nullptr) return SG_ERR_NOMEM;
        int count = 0;
        for (const auto& [key, rec] : s.sessions) {
            if (key.first != n) continue;
            if (signal_int_list_push_back(list, key.second) < 0) {
                signal_int_list_free(list);
                return SG_ERR_NOMEM;
            }
            ++count;
        }
        *sessions = list;
        return count;
    });
}

int store_session_cb(const signal_protocol_address* address, uint8_t* record, size_t record_len,
                     uint8_t* user_record, size_t user_record_len, void* ud) {
    return guarded([&] {
        Record r;
        r.record.assign(record, record + record_len);
        if (user_record != nullptr)
            r.user_record.assign(user_record, user_record + user_record_len);
        self(ud).sessions[key_of(address)] = std::move(r);
        return SG_SUCCESS;
    });
}

int contains_session_cb(const signal_protocol_address* address, void* ud) {
    return guarded([&] { return self(ud).sessions.count(key_of(address)) ? 1 : 0; });
}

int delete_session_cb(const signal_protocol_address* address, void* ud) {
    return guarded([&] { return self(ud).sessions.erase(key_of(address)) ? 1 : 0; });
}

int delete_all_sessions_cb(const char* name, size_t name_len, void* ud) {
    return guarded([&] {
        auto& s = self(ud);
        const std::string n(name, name_len);
        int count = 0;
        for (auto it = s.sessions.begin(); it != s.sessions.end();) {
            if (it->first.first == n) {
                it = s.sessions.erase(it);
                ++count;
            } else {
                ++it;
            }
        }
        return count;
    });
}

// ---- (signed) prekey stores
int load_from(const std::map<uint32_t, Bytes>& m, signal_buffer** record, uint32_t id) {
    auto it = m.find(id);
    if (it == m.end()) return SG_ERR_INVALID_KEY_ID;
    signal_buffer* r = make_buffer(it->second);
    if (r == nullptr) return SG_ERR_NOMEM;
    *record = r;
    return SG_SUCCESS;
}

int load_pre_key_cb(signal_buffer** record, uint32_t id, void* ud) {
    return guarded([&] { return load_from(self(ud).prekeys, record, id); });
}
int store_pre_key_cb(uint32_t id, uint8_t* record, size_t len, void* ud) {
    return guarded([&] {
        self(ud).prekeys[id] = Bytes(record, record + len);
        return SG_SUCCESS;
    });
}
int contains_pre_key_cb(uint32_t id, void* ud) {
    return guarded([&] { return self(ud).prekeys.count(id) ? 1 : 0; });
}
int remove_pre_key_cb(uint32_t id, void* ud) {
    return guarded([&] {
        self(ud).prekeys.erase(id);
        return SG_SUCCESS;
    });
}

int load_signed_pre_key_cb(signal_buffer** record, uint32_t id, void* ud) {
    return guarded([&] { return load_from(self(ud).signed_prekeys, record, id); });
}
int store_signed_pre_key_cb(uint32_t id, uint8_t* record, size_t len, void* ud) {
    return guarded([&] {
        self(ud).signed_prekeys[id] = Bytes(record, record + len);
        return SG_SUCCESS;
    });
}
int contains_signed_pre_key_cb(uint32_t id, void* ud) {
    return guarded([&] { return self(ud).signed_prekeys.count(id) ? 1 : 0; });
}
int remove_signed_pre_key_cb(uint32_t id, void* ud) {
    return guarded([&] {
        self(ud).signed_prekeys.erase(id);
        return SG_SUCCESS;
    });
}

// ---- identity store
int get_identity_key_pair_cb(signal_buffer** public_data, signal_buffer** private_data, void* ud) {
    return guarded([&] {
        auto& s = self(ud);
        signal_buffer* pub = make_buffer(s.identity_public);
        signal_buffer* priv = make_buffer(s.identity_private);
        if (pub == nullptr || priv == nullptr) {
            signal_buffer_free(pub);
            signal_buffer_bzero_free(priv);
            return SG_ERR_NOMEM;
        }
        *public_data = pub;
        *private_data = priv;
        return SG_SUCCESS;
    });
}

int get_local_registration_id_cb(void* ud, uint32_t* registration_id) {
    *registration_id = self(ud).registration_id;
    return SG_SUCCESS;
}

int save_identity_cb(const signal_protocol_address* address, uint8_t* key_data, size_t key_len,
                     void* ud) {
    return guarded([&] {
        auto& s = self(ud);
        if (key_data == nullptr) {
            s.identities.erase(key_of(address));
        } else {
            s.identities[key_of(address)] = Bytes(key_data, key_data + key_len);
        }
        return SG_SUCCESS;
    });
}

int is_trusted_identity_cb(const signal_protocol_address* address, uint8_t* key_data,
                           size_t key_len, void* ud) {
    return guarded([&] {
        auto& s = self(ud);
        auto it = s.identities.find(key_of(address));
        if (it == s.identities.end()) return 1;  // trust on first use
        return it->second == Bytes(key_data, key_data + key_len) ? 1 : 0;
    });
}

// ---- sender key store
int store_sender_key_cb(const signal_protocol_sender_key_name* name, uint8_t* record,
                        size_t record_len, uint8_t* user_record, size_t user_record_len, void* ud) {
    return guarded([&] {
        Record r;
        r.record.assign(record, record + record_len);
        if (user_record != nullptr)
            r.user_record.assign(user_record, user_record + user_record_len);
        self(ud).sender_keys[key_of(name)] = std::move(r);
        return SG_SUCCESS;
    });
}

int load_sender_key_cb(signal_buffer** record, signal_buffer** user_record,
                       const signal_protocol_sender_key_name* name, void* ud) {
    return guarded([&] {
        auto& s = self(ud);
        auto it = s.sender_keys.find(key_of(name));
        if (it == s.sender_keys.end()) return 0;
        signal_buffer* r = make_buffer(it->second.record);
        if (r == nullptr) return SG_ERR_NOMEM;
        if (!it->second.user_record.empty()) {
            signal_buffer* u = make_buffer(it->second.user_record);
            if (u == nullptr) {
                signal_buffer_free(r);
                return SG_ERR_NOMEM;
            }
            *user_record = u;
        }
        *record = r;
        return 1;
    });
}

void install_stores(Impl& s) {
    int rc = signal_protocol_store_context_create(&s.store, s.ctx.get());
    if (rc < 0) fail("signal_protocol_store_context_create", rc);

    signal_protocol_session_store session{};
    session.load_session_func = load_session_cb;
    session.get_sub_device_sessions_func = get_sub_device_sessions_cb;
    session.store_session_func = store_session_cb;
    session.contains_session_func = contains_session_cb;
    session.delete_session_func = delete_session_cb;
    session.delete_all_sessions_func = delete_all_sessions_cb;
    session.user_data = &s;
    rc = signal_protocol_store_context_set_session_store(s.store, &session);
    if (rc < 0) fail("set_session_store", rc);

    signal_protocol_pre_key_store pre_key{};
    pre_key.load_pre_key = load_pre_key_cb;
    pre_key.store_pre_key = store_pre_key_cb;
    pre_key.contains_pre_key = contains_pre_key_cb;
    pre_key.remove_pre_key = remove_pre_key_cb;
    pre_key.user_data = &s;
    rc = signal_protocol_store_context_set_pre_key_store(s.store, &pre_key);
    if (rc < 0) fail("set_pre_key_store", rc);

    signal_protocol_signed_pre_key_store signed_pre_key{};
    signed_pre_key.load_signed_pre_key = load_signed_pre_key_cb;
    signed_pre_key.store_signed_pre_key = store_signed_pre_key_cb;
    signed_pre_key.contains_signed_pre_key = contains_signed_pre_key_cb;
    signed_pre_key.remove_signed_pre_key = remove_signed_pre_key_cb;
    signed_pre_key.user_data = &s;
    rc = signal_protocol_store_context_set_signed_pre_key_store(s.store, &signed_pre_key);
    if (rc < 0) fail("set_signed_pre_key_store", rc);

    signal_protocol_identity_key_store identity{};
    identity.get_identity_key_pair = get_identity_key_pair_cb;
    identity.get_local_registration_id = get_local_registration_id_cb;
    identity.save_identity = save_identity_cb;
    identity.is_trusted_identity = is_trusted_identity_cb;
    identity.user_data = &s;
    rc = signal_protocol_store_context_set_identity_key_store(s.store, &identity);
    if (rc < 0) fail("set_identity_key_store", rc);

    signal_protocol_sender_key_store sender_key{};
    sender_key.store_sender_key = store_sender_key_cb;
    sender_key.load_sender_key = load_sender_key_cb;
    sender_key.user_data = &s;
    rc = signal_protocol_store_context_set_sender_key_store(s.store, &sender_key);
    if (rc < 0) fail("set_sender_key_store", rc);
}

struct SessionCipherFree {
    void operator()(session_cipher* c) const { session_cipher_free(c); }
};
struct SessionBuilderFree {
    void operator()(session_builder* b) const { session_builder_free(b); }
};
struct GroupCipherFree {
    void operator()(group_cipher* c) const { group_cipher_free(c); }
};
struct GroupBuilderFree {
    void operator()(group_session_builder* b) const { group_session_builder_free(b); }
};
struct GeneratorFree {
    void operator()(fingerprint_generator* g) const { fingerprint_generator_free(g); }
};

}  // namespace

// ---------------------------------------------------------------------------------------------

RefParty::RefParty(std::string name, std::optional<uint32_t> registration_id)
    : impl_(std::make_unique<Impl>()) {
    Impl& s = *impl_;
    s.name = std::move(name);
    s.ctx = make_context(&s.log);
    install_stores(s);

    ratchet_identity_key_pair* pair = nullptr;
    int rc = signal_protocol_key_helper_generate_identity_key_pair(&pair, s.ctx.get());
    if (rc < 0) fail("generate_identity_key_pair", rc);
    s.identity.reset(pair);
    s.identity_public = serialize_public(ratchet_identity_key_pair_get_public(pair));
    signal_buffer* priv = nullptr;
    rc = ec_private_key_serialize(&priv, ratchet_identity_key_pair_get_private(pair));
    if (rc < 0) fail("ec_private_key_serialize", rc);
    BufferPtr priv_buf(priv);
    s.identity_private = to_bytes(priv_buf.get());

    if (registration_id) {
        s.registration_id = *registration_id;
    } else {
        rc =
            signal_protocol_key_helper_generate_registration_id(&s.registration_id, 0, s.ctx.get());
        if (rc < 0) fail("generate_registration_id", rc);
    }
}

RefParty::~RefParty() = default;

const std::string& RefParty::name() const {
    return impl_->name;
}
Bytes RefParty::identity_public() const {
    return impl_->identity_public;
}
uint32_t RefParty::registration_id() const {
    return impl_->registration_id;
}
std::string RefParty::last_log() const {
    return impl_->log.last;
}

Bundle RefParty::make_bundle(bool with_one_time_prekey, std::optional<uint32_t> prekey_id,
                             std::optional<uint32_t> signed_prekey_id) {
    Impl& s = *impl_;
    Bundle b;
    b.registration_id = s.registration_id;
    b.device_id = kDeviceId;
    b.identity_key = s.identity_public;

    const uint32_t spk_id = signed_prekey_id.value_or(s.next_signed_prekey_id);
    s.next_signed_prekey_id = std::max(s.next_signed_prekey_id, spk_id + 1);
    const auto now_ms =
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count());
    session_signed_pre_key* spk_raw = nullptr;
    int rc = signal_protocol_key_helper_generate_signed_pre_key(&spk_raw, s.identity.get(), spk_id,
                                                                now_ms, s.ctx.get());
    if (rc < 0) fail("generate_signed_pre_key", rc);
    Ref<session_signed_pre_key> spk(spk_raw);
    rc = signal_protocol_signed_pre_key_store_key(s.store, spk.get());
    if (rc < 0) fail("signed_pre_key_store_key", rc);
    b.signed_prekey_id = spk_id;
    b.signed_prekey_public =
        serialize_public(ec_key_pair_get_public(session_signed_pre_key_get_key_pair(spk.get())));
    const uint8_t* sig = session_signed_pre_key_get_signature(spk.get());
    b.signed_prekey_signature.assign(sig,
                                     sig + session_signed_pre_key_get_signature_len(spk.get()));

    if (with_one_time_prekey) {
        const uint32_t pk_id = prekey_id.value_or(s.next_prekey_id);
        s.next_prekey_id = std::max(s.next_prekey_id, pk_id + 1);
        ec_key_pair* kp_raw = nullptr;
        rc = curve_generate_key_pair(s.ctx.get(), &kp_raw);
        if (rc < 0) fail("curve_generate_key_pair", rc);
        Ref<ec_key_pair> kp(kp_raw);
        session_pre_key* pk_raw = nullptr;
        rc = session_pre_key_create(&pk_raw, pk_id, kp.get());
        if (rc < 0) fail("session_pre_key_create", rc);
        Ref<session_pre_key> pk(pk_raw);
        rc = signal_protocol_pre_key_store_key(s.store, pk.get());
        if (rc < 0) fail("pre_key_store_key", rc);
        b.prekey_id = pk_id;
        b.prekey_public = serialize_public(ec_key_pair_get_public(kp.get()));
    }
    return b;
}

int RefParty::process_bundle(const std::string& peer, const Bundle& bundle) {
    Impl& s = *impl_;
    signal_context* ctx = s.ctx.get();
    int rc = 0;
    Ref<ec_public_key> prekey;
    if (bundle.prekey_id) {
        prekey = decode_public(bundle.prekey_public, ctx, rc);
        if (rc < 0) return rc;
    }
    Ref<ec_public_key> signed_prekey = decode_public(bundle.signed_prekey_public, ctx, rc);
    if (rc < 0) return rc;
    Ref<ec_public_key> identity = decode_public(bundle.identity_key, ctx, rc);
    if (rc < 0) return rc;

    session_pre_key_bundle* raw = nullptr;
    rc = session_pre_key_bundle_create(
        &raw, bundle.registration_id, static_cast<int>(bundle.device_id),
        bundle.prekey_id.value_or(0), prekey.get(), bundle.signed_prekey_id, signed_prekey.get(),
        bundle.signed_prekey_signature.data(), bundle.signed_prekey_signature.size(),
        identity.get());
    if (rc < 0) return rc;
    Ref<session_pre_key_bundle> pkb(raw);

    const signal_protocol_address addr = s.address(peer);
    session_builder* builder_raw = nullptr;
    rc = session_builder_create(&builder_raw, s.store, &addr, ctx);
    if (rc < 0) return rc;
    std::unique_ptr<session_builder, SessionBuilderFree> builder(builder_raw);
    return session_builder_process_pre_key_bundle(builder.get(), pkb.get());
}

int RefParty::encrypt(const std::string& peer, const Bytes& plaintext, Ciphertext& out) {
    Impl& s = *impl_;
    if (!has_session(peer)) return SG_ERR_NO_SESSION;
    const signal_protocol_address addr = s.address(peer);
    session_cipher* cipher_raw = nullptr;
    int rc = session_cipher_create(&cipher_raw, s.store, &addr, s.ctx.get());
    if (rc < 0) return rc;
    std::unique_ptr<session_cipher, SessionCipherFree> cipher(cipher_raw);

    static const uint8_t kEmpty = 0;
    ciphertext_message* msg_raw = nullptr;
    rc = session_cipher_encrypt(cipher.get(), plaintext.empty() ? &kEmpty : plaintext.data(),
                                plaintext.size(), &msg_raw);
    if (rc < 0) return rc;
    Ref<ciphertext_message> msg(msg_raw);
    out.type = ciphertext_message_get_type(msg.get());
    out.bytes = to_bytes(ciphertext_message_get_serialized(msg.get()));
    return SG_SUCCESS;
}

int RefParty::decrypt(const std::string& peer, const Ciphertext& in, Bytes& plaintext_out) {
    Impl& s = *impl_;
    signal_context* ctx = s.ctx.get();
    const signal_protocol_address addr = s.address(peer);
    session_cipher* cipher_raw = nullptr;
    int rc = session_cipher_create(&cipher_raw, s.store, &addr, ctx);
    if (rc < 0) return rc;
    std::unique_ptr<session_cipher, SessionCipherFree> cipher(cipher_raw);

    signal_buffer* pt_raw = nullptr;
    if (in.type == CIPHERTEXT_PREKEY_TYPE) {
        pre_key_signal_message* m = nullptr;
        rc = pre_key_signal_message_deserialize(&m, in.bytes.data(), in.bytes.size(), ctx);
        if (rc < 0) return rc;
        Ref<pre_key_signal_message> msg(m);
        rc = session_cipher_decrypt_pre_key_signal_message(cipher.get(), msg.get(), nullptr,
                                                           &pt_raw);
    } else if (in.type == CIPHERTEXT_SIGNAL_TYPE) {
        signal_message* m = nullptr;
        rc = signal_message_deserialize(&m, in.bytes.data(), in.bytes.size(), ctx);
        if (rc < 0) return rc;
        Ref<signal_message> msg(m);
        rc = session_cipher_decrypt_signal_message(cipher.get(), msg.get(), nullptr, &pt_raw);
    } else {
        return SG_ERR_INVAL;
    }
    if (rc < 0) return rc;
    BufferPtr pt(pt_raw);
    plaintext_out = to_bytes(pt.get());
    return SG_SUCCESS;
}

void RefParty::trust_identity(const std::string& peer, const Bytes& identity33) {
    impl_->identities[AddressKey{peer, kDeviceId}] = identity33;
}

void RefParty::forget_identity(const std::string& peer) {
    impl_->identities.erase(AddressKey{peer, kDeviceId});
}

std::optional<Bytes> RefParty::saved_identity(const std::string& peer) const {
    auto it = impl_->identities.find(AddressKey{peer, kDeviceId});
    if (it == impl_->identities.end()) return std::nullopt;
    return it->second;
}

bool RefParty::has_session(const std::string& peer) const {
    return impl_->sessions.count(AddressKey{peer, kDeviceId}) != 0;
}

void RefParty::delete_session(const std::string& peer) {
    impl_->sessions.erase(AddressKey{peer, kDeviceId});
}

bool RefParty::has_prekey(uint32_t id) const {
    return impl_->prekeys.count(id) != 0;
}
bool RefParty::has_signed_prekey(uint32_t id) const {
    return impl_->signed_prekeys.count(id) != 0;
}
void RefParty::remove_signed_prekey(uint32_t id) {
    impl_->signed_prekeys.erase(id);
}

int RefParty::create_sender_key_distribution(const std::string& group, Bytes& skdm_out) {
    Impl& s = *impl_;
    group_session_builder* raw = nullptr;
    int rc = group_session_builder_create(&raw, s.store, s.ctx.get());
    if (rc < 0) return rc;
    std::unique_ptr<group_session_builder, GroupBuilderFree> builder(raw);
    const signal_protocol_sender_key_name skn = Impl::sender_key_name(group, s.name);
    sender_key_distribution_message* m = nullptr;
    rc = group_session_builder_create_session(builder.get(), &m, &skn);
    if (rc < 0) return rc;
    Ref<sender_key_distribution_message> msg(m);
    skdm_out =
        to_bytes(ciphertext_message_get_serialized(reinterpret_cast<ciphertext_message*>(m)));
    return SG_SUCCESS;
}

int RefParty::process_sender_key_distribution(const std::string& group, const std::string& sender,
                                              const Bytes& skdm) {
    Impl& s = *impl_;
    sender_key_distribution_message* m = nullptr;
    int rc = sender_key_distribution_message_deserialize(&m, skdm.data(), skdm.size(), s.ctx.get());
    if (rc < 0) return rc;
    Ref<sender_key_distribution_message> msg(m);
    group_session_builder* raw = nullptr;
    rc = group_session_builder_create(&raw, s.store, s.ctx.get());
    if (rc < 0) return rc;
    std::unique_ptr<group_session_builder, GroupBuilderFree> builder(raw);
    const signal_protocol_sender_key_name skn = Impl::sender_key_name(group, sender);
    return group_session_builder_process_session(builder.get(), &skn, msg.get());
}

int RefParty::group_encrypt(const std::string& group, const Bytes& plaintext, Bytes& out) {
    Impl& s = *impl_;
    const signal_protocol_sender_key_name skn = Impl::sender_key_name(group, s.name);
    group_cipher* raw = nullptr;
    int rc = group_cipher_create(&raw, s.store, &skn, s.ctx.get());
    if (rc < 0) return rc;
    std::unique_ptr<group_cipher, GroupCipherFree> cipher(raw);
    static const uint8_t kEmpty = 0;
    ciphertext_message* m = nullptr;
    rc = group_cipher_encrypt(cipher.get(), plaintext.empty() ? &kEmpty : plaintext.data(),
                              plaintext.size(), &m);
    if (rc < 0) return rc;
    Ref<ciphertext_message> msg(m);
    out = to_bytes(ciphertext_message_get_serialized(msg.get()));
    return SG_SUCCESS;
}

int RefParty::group_decrypt(const std::string& group, const std::string& sender,
                            const Bytes& ciphertext, Bytes& out) {
    Impl& s = *impl_;
    sender_key_message* m = nullptr;
    int rc = sender_key_message_deserialize(&m, ciphertext.data(), ciphertext.size(), s.ctx.get());
    if (rc < 0) return rc;
    Ref<sender_key_message> msg(m);
    const signal_protocol_sender_key_name skn = Impl::sender_key_name(group, sender);
    group_cipher* raw = nullptr;
    rc = group_cipher_create(&raw, s.store, &skn, s.ctx.get());
    if (rc < 0) return rc;
    std::unique_ptr<group_cipher, GroupCipherFree> cipher(raw);
    signal_buffer* pt_raw = nullptr;
    rc = group_cipher_decrypt(cipher.get(), msg.get(), nullptr, &pt_raw);
    if (rc < 0) return rc;
    BufferPtr pt(pt_raw);
    out = to_bytes(pt.get());
    return SG_SUCCESS;
}

Bytes RefParty::sign_with_identity(const Bytes& message) {
    Impl& s = *impl_;
    signal_buffer* raw = nullptr;
    static const uint8_t kEmpty = 0;
    const int rc = curve_calculate_signature(
        s.ctx.get(), &raw, ratchet_identity_key_pair_get_private(s.identity.get()),
        message.empty() ? &kEmpty : message.data(), message.size());
    if (rc < 0) fail("curve_calculate_signature", rc);
    BufferPtr sig(raw);
    return to_bytes(sig.get());
}

bool RefParty::verify_signature(const Bytes& public33, const Bytes& message,
                                const Bytes& signature64) {
    int rc = 0;
    Ref<ec_public_key> key = decode_public(public33, shared_context(), rc);
    if (rc < 0) return false;
    static const uint8_t kEmpty = 0;
    return curve_verify_signature(
               key.get(), message.empty() ? &kEmpty : message.data(), message.size(),
               signature64.empty() ? &kEmpty : signature64.data(), signature64.size()) == 1;
}

namespace {

Ref<fingerprint> make_fingerprint(int iterations, int scannable_version,
                                  const std::string& local_id, const Bytes& local_key33,
                                  const std::string& remote_id, const Bytes& remote_key33) {
    signal_context* ctx = shared_context();
    int rc = 0;
    Ref<ec_public_key> local = decode_public(local_key33, ctx, rc);
    if (rc < 0) fail("curve_decode_point(local)", rc);
    Ref<ec_public_key> remote = decode_public(remote_key33, ctx, rc);
    if (rc < 0) fail("curve_decode_point(remote)", rc);
    fingerprint_generator* gen_raw = nullptr;
    rc = fingerprint_generator_create(&gen_raw, iterations, scannable_version, ctx);
    if (rc < 0) fail("fingerprint_generator_create", rc);
    std::unique_ptr<fingerprint_generator, GeneratorFree> gen(gen_raw);
    fingerprint* fp = nullptr;
    rc = fingerprint_generator_create_for(gen.get(), local_id.c_str(), local.get(),
                                          remote_id.c_str(), remote.get(), &fp);
    if (rc < 0) fail("fingerprint_generator_create_for", rc);
    return Ref<fingerprint>(fp);
}

}  // namespace

std::string RefParty::displayable_fingerprint(int iterations, const std::string& local_id,
                                              const Bytes& local_key33,
                                              const std::string& remote_id,
                                              const Bytes& remote_key33) {
    Ref<fingerprint> fp =
        make_fingerprint(iterations, 0, local_id, local_key33, remote_id, remote_key33);
    return displayable_fingerprint_text(fingerprint_get_displayable(fp.get()));
}

Bytes RefParty::scannable_fingerprint(int iterations, int scannable_version,
                                      const std::string& local_id, const Bytes& local_key33,
                                      const std::string& remote_id, const Bytes& remote_key33) {
    Ref<fingerprint> fp = make_fingerprint(iterations, scannable_version, local_id, local_key33,
                                           remote_id, remote_key33);
    signal_buffer* raw = nullptr;
    const int rc = scannable_fingerprint_serialize(&raw, fingerprint_get_scannable(fp.get()));
    if (rc < 0) fail("scannable_fingerprint_serialize", rc);
    BufferPtr buf(raw);
    return to_bytes(buf.get());
}

int RefParty::compare_scannable_fingerprints(const Bytes& local_serialized,
                                             const Bytes& scanned_serialized) {
    signal_context* ctx = shared_context();
    ::scannable_fingerprint* a = nullptr;
    int rc = scannable_fingerprint_deserialize(&a, local_serialized.data(), local_serialized.size(),
                                               ctx);
    if (rc < 0) return rc;
    Ref<::scannable_fingerprint> local(a);
    ::scannable_fingerprint* b = nullptr;
    rc = scannable_fingerprint_deserialize(&b, scanned_serialized.data(), scanned_serialized.size(),
                                           ctx);
    if (rc < 0) return rc;
    Ref<::scannable_fingerprint> scanned(b);
    return scannable_fingerprint_compare(local.get(), scanned.get());
}

}  // namespace pp::ref

#pragma once
// libsodium must be initialised once before use: sodium_init picks the fastest implementations
// for this CPU and sets up the random generator thread-safely. Every crypto/ entry point that
// needs it calls `ensure_initialized`, so callers never have to remember.
namespace pp::crypto {

void ensure_initialized();

}  // namespace pp::crypto

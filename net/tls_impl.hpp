#pragma once
// net/ internal: what a TlsIdentity holds. Includes Asio, so only net/*.cpp include it.
#include <boost/asio/ssl/context.hpp>

#include "net/tls.hpp"

namespace pp::net {

struct TlsIdentity::Impl {
    boost::asio::ssl::context ctx{boost::asio::ssl::context::tls_server};
    Bytes der;
    std::string fingerprint;
};

}  // namespace pp::net

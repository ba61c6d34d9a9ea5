#include "relay/socks5/reply_codes.hpp"

#include <cerrno>

namespace pp::relay::socks5 {

ReplyCode reply_for_connect_errno(int err) {
    switch (err) {
        case ECONNREFUSED:
            return ReplyCode::kConnectionRefused;
        case ENETUNREACH:
        case ENETDOWN:
        case EADDRNOTAVAIL:  // no source address for that family/route: the network is not ours
            return ReplyCode::kNetworkUnreachable;
        case EHOSTUNREACH:
        case EHOSTDOWN:
            return ReplyCode::kHostUnreachable;
        case ETIMEDOUT:
            return ReplyCode::kTtlExpired;
        case EACCES:
        case EPERM:  // a local firewall rule refused it
            return ReplyCode::kNotAllowed;
        default:
            return ReplyCode::kGeneralFailure;
    }
}

}  // namespace pp::relay::socks5

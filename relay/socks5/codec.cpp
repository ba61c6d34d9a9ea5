#include "relay/socks5/codec.hpp"

namespace pp::relay::socks5 {

namespace {

template <typename T>
Parsed<T> need_more() {
    return {};
}

template <typename T>
Parsed<T> malformed(std::string_view why) {
    Parsed<T> p;
    p.status = Status::kMalformed;
    p.error = why;
    return p;
}

template <typename T>
Parsed<T> done(T value, std::size_t consumed) {
    Parsed<T> p;
    p.status = Status::kDone;
    p.consumed = consumed;
    p.value = std::move(value);
    return p;
}

// ATYP, address and port starting at `in[0]`. A domain of length 0 is malformed (a name has at
// least one byte); an unknown ATYP is reported as such so the server can answer 0x08.
Parsed<Address> parse_address(ByteView in) {
    if (in.empty()) return need_more<Address>();
    Address a;
    std::size_t addr_len = 0;
    std::size_t offset = 1;
    switch (in[0]) {
        case static_cast<std::uint8_t>(AddressType::kIpv4):
            a.type = AddressType::kIpv4;
            addr_len = 4;
            break;
        case static_cast<std::uint8_t>(AddressType::kIpv6):
            a.type = AddressType::kIpv6;
            addr_len = 16;
            break;
        case static_cast<std::uint8_t>(AddressType::kDomain):
            a.type = AddressType::kDomain;
            if (in.size() < 2) return need_more<Address>();
            addr_len = in[1];
            if (addr_len == 0) return malformed<Address>("empty domain name");
            offset = 2;
            break;
        default: {
            Parsed<Address> p;
            p.status = Status::kAddressTypeNotSupported;
            p.error = "unknown address type";
            return p;
        }
    }
    const std::size_t total = offset + addr_len + 2;
    if (in.size() < total) return need_more<Address>();
    if (a.type == AddressType::kDomain)
        a.domain.assign(reinterpret_cast<const char*>(in.data() + offset), addr_len);
    else
        for (std::size_t i = 0; i < addr_len; ++i) a.ip[i] = in[offset + i];
    a.port = static_cast<std::uint16_t>(in[offset + addr_len] << 8 | in[offset + addr_len + 1]);
    return done(std::move(a), total);
}

bool encode_address(Buffer& out, const Address& a) {
    if (a.type == AddressType::kDomain && (a.domain.empty() || a.domain.size() > 255)) return false;
    out.push_back(static_cast<std::uint8_t>(a.type));
    switch (a.type) {
        case AddressType::kIpv4:
            out.insert(out.end(), a.ip.begin(), a.ip.begin() + 4);
            break;
        case AddressType::kIpv6:
            out.insert(out.end(), a.ip.begin(), a.ip.end());
            break;
        case AddressType::kDomain:
            out.push_back(static_cast<std::uint8_t>(a.domain.size()));
            out.insert(out.end(), a.domain.begin(), a.domain.end());
            break;
    }
    out.push_back(static_cast<std::uint8_t>(a.port >> 8));
    out.push_back(static_cast<std::uint8_t>(a.port & 0xFF));
    return true;
}

// A length-prefixed RFC 1929 field of 1..255 bytes at in[0].
Parsed<std::string> parse_field(ByteView in, std::string_view empty_error) {
    if (in.empty()) return need_more<std::string>();
    const std::size_t len = in[0];
    if (len == 0) return malformed<std::string>(empty_error);
    if (in.size() < 1 + len) return need_more<std::string>();
    return done(std::string(reinterpret_cast<const char*>(in.data() + 1), len), 1 + len);
}

}  // namespace

Address Address::ipv4(std::array<std::uint8_t, 4> a, std::uint16_t port) {
    Address r;
    r.type = AddressType::kIpv4;
    for (std::size_t i = 0; i < 4; ++i) r.ip[i] = a[i];
    r.port = port;
    return r;
}

Address Address::ipv6(const std::array<std::uint8_t, 16>& a, std::uint16_t port) {
    Address r;
    r.type = AddressType::kIpv6;
    r.ip = a;
    r.port = port;
    return r;
}

Address Address::host(std::string_view name, std::uint16_t port) {
    Address r;
    r.type = AddressType::kDomain;
    r.domain = std::string(name);
    r.port = port;
    return r;
}

bool Greeting::offers(Method m) const {
    for (std::size_t i = 0; i < count; ++i)
        if (methods[i] == static_cast<std::uint8_t>(m)) return true;
    return false;
}

Parsed<Greeting> parse_greeting(ByteView in) {
    if (in.empty()) return need_more<Greeting>();
    if (in[0] != kVersion) return malformed<Greeting>("not SOCKS version 5");
    if (in.size() < 2) return need_more<Greeting>();
    const std::size_t n = in[1];
    if (n == 0) return malformed<Greeting>("no authentication methods offered");
    if (in.size() < 2 + n) return need_more<Greeting>();
    Greeting g;
    g.count = static_cast<std::uint8_t>(n);
    for (std::size_t i = 0; i < n; ++i) g.methods[i] = in[2 + i];
    return done(g, 2 + n);
}

Parsed<Credentials> parse_credentials(ByteView in) {
    if (in.empty()) return need_more<Credentials>();
    if (in[0] != kAuthVersion) return malformed<Credentials>("not RFC 1929 version 1");
    auto user = parse_field(in.subspan(1), "empty user name");
    if (user.status != Status::kDone) {
        Parsed<Credentials> p;
        p.status = user.status;
        p.error = user.error;
        return p;
    }
    auto pass = parse_field(in.subspan(1 + user.consumed), "empty password");
    if (pass.status != Status::kDone) {
        Parsed<Credentials> p;
        p.status = pass.status;
        p.error = pass.error;
        return p;
    }
    return done(Credentials{std::move(user.value), std::move(pass.value)},
                1 + user.consumed + pass.consumed);
}

Parsed<Request> parse_request(ByteView in) {
    if (in.empty()) return need_more<Request>();
    if (in[0] != kVersion) return malformed<Request>("not SOCKS version 5");
    if (in.size() < 3) return need_more<Request>();
    if (in[2] != 0) return malformed<Request>("reserved byte is not zero");
    auto a = parse_address(in.subspan(3));
    if (a.status != Status::kDone) {
        Parsed<Request> p;
        p.status = a.status;
        p.error = a.error;
        return p;
    }
    return done(Request{in[1], std::move(a.value)}, 3 + a.consumed);
}

Parsed<UdpDatagram> parse_udp_datagram(ByteView in) {
    if (in.size() < 4) return malformed<UdpDatagram>("datagram shorter than its header");
    if (in[0] != 0 || in[1] != 0) return malformed<UdpDatagram>("reserved bytes are not zero");
    auto a = parse_address(in.subspan(3));
    if (a.status == Status::kNeedMore)
        return malformed<UdpDatagram>("datagram shorter than its header");
    if (a.status != Status::kDone) {
        Parsed<UdpDatagram> p;
        p.status = a.status;
        p.error = a.error;
        return p;
    }
    const std::size_t header = 3 + a.consumed;
    return done(UdpDatagram{in[2], std::move(a.value), in.subspan(header)}, in.size());
}

void encode_method_selection(Buffer& out, Method m) {
    out.push_back(kVersion);
    out.push_back(static_cast<std::uint8_t>(m));
}

void encode_auth_reply(Buffer& out, bool ok) {
    out.push_back(kAuthVersion);
    out.push_back(ok ? 0x00 : 0x01);
}

bool encode_reply(Buffer& out, const Reply& r) {
    const std::size_t start = out.size();
    out.push_back(kVersion);
    out.push_back(static_cast<std::uint8_t>(r.code));
    out.push_back(0x00);
    if (!encode_address(out, r.bound)) {
        out.resize(start);
        return false;
    }
    return true;
}

bool encode_udp_header(Buffer& out, const Address& a) {
    const std::size_t start = out.size();
    out.insert(out.end(), {0x00, 0x00, 0x00});
    if (!encode_address(out, a)) {
        out.resize(start);
        return false;
    }
    return true;
}

Parsed<Method> parse_method_selection(ByteView in) {
    if (in.size() < 2) return need_more<Method>();
    if (in[0] != kVersion) return malformed<Method>("not SOCKS version 5");
    return done(static_cast<Method>(in[1]), 2);
}

Parsed<bool> parse_auth_reply(ByteView in) {
    if (in.size() < 2) return need_more<bool>();
    if (in[0] != kAuthVersion) return malformed<bool>("not RFC 1929 version 1");
    return done(in[1] == 0x00, 2);
}

Parsed<Reply> parse_reply(ByteView in) {
    if (in.empty()) return need_more<Reply>();
    if (in[0] != kVersion) return malformed<Reply>("not SOCKS version 5");
    if (in.size() < 3) return need_more<Reply>();
    if (in[1] > static_cast<std::uint8_t>(ReplyCode::kAddressTypeNotSupported))
        return malformed<Reply>("unknown reply code");
    if (in[2] != 0) return malformed<Reply>("reserved byte is not zero");
    auto a = parse_address(in.subspan(3));
    if (a.status == Status::kAddressTypeNotSupported)
        return malformed<Reply>("unknown address type");
    if (a.status != Status::kDone) {
        Parsed<Reply> p;
        p.status = a.status;
        p.error = a.error;
        return p;
    }
    return done(Reply{static_cast<ReplyCode>(in[1]), std::move(a.value)}, 3 + a.consumed);
}

bool encode_greeting(Buffer& out, std::span<const Method> methods) {
    if (methods.empty() || methods.size() > 255) return false;
    out.push_back(kVersion);
    out.push_back(static_cast<std::uint8_t>(methods.size()));
    for (Method m : methods) out.push_back(static_cast<std::uint8_t>(m));
    return true;
}

bool encode_credentials(Buffer& out, std::string_view user, std::string_view password) {
    if (user.empty() || user.size() > 255 || password.empty() || password.size() > 255)
        return false;
    out.push_back(kAuthVersion);
    out.push_back(static_cast<std::uint8_t>(user.size()));
    out.insert(out.end(), user.begin(), user.end());
    out.push_back(static_cast<std::uint8_t>(password.size()));
    out.insert(out.end(), password.begin(), password.end());
    return true;
}

bool encode_request(Buffer& out, Command c, const Address& destination) {
    const std::size_t start = out.size();
    out.push_back(kVersion);
    out.push_back(static_cast<std::uint8_t>(c));
    out.push_back(0x00);
    if (!encode_address(out, destination)) {
        out.resize(start);
        return false;
    }
    return true;
}

}  // namespace pp::relay::socks5

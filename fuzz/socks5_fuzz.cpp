// SOCKS5 negotiation and UDP datagrams as strangers send them to the relay. Every parser must
// return need-more, malformed or done within bounds; whatever parses must encode and parse back
// to the same value, consuming exactly what it consumed the first time.
#include <cstdlib>
#include <string_view>

#include "relay/destination_policy.hpp"
#include "relay/socks5/codec.hpp"

namespace {

using namespace pp::relay::socks5;

void check(bool ok) {
    if (!ok) std::abort();
}

template <typename T>
void check_bounds(const Parsed<T>& p, std::size_t size) {
    if (p.status == Status::kDone) check(p.consumed > 0 && p.consumed <= size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const ByteView in(data, size);

    auto g = parse_greeting(in);
    check_bounds(g, size);
    if (g.status == Status::kDone) {
        std::vector<Method> methods;
        for (std::size_t i = 0; i < g.value.count; ++i)
            methods.push_back(static_cast<Method>(g.value.methods[i]));
        Buffer out;
        check(encode_greeting(out, methods));
        check(out.size() == g.consumed && std::equal(out.begin(), out.end(), in.begin()));
    }

    auto c = parse_credentials(in);
    check_bounds(c, size);
    if (c.status == Status::kDone) {
        Buffer out;
        check(encode_credentials(out, c.value.user, c.value.password));
        check(out.size() == c.consumed && std::equal(out.begin(), out.end(), in.begin()));
    }

    auto r = parse_request(in);
    check_bounds(r, size);
    if (r.status == Status::kDone) {
        Buffer out;
        check(encode_request(out, static_cast<Command>(r.value.command), r.value.destination));
        auto back = parse_request(out);
        check(back.status == Status::kDone && back.consumed == r.consumed &&
              back.value.destination == r.value.destination);
    }

    auto rep = parse_reply(in);
    check_bounds(rep, size);
    if (rep.status == Status::kDone) {
        Buffer out;
        check(encode_reply(out, rep.value));
        check(out.size() == rep.consumed && std::equal(out.begin(), out.end(), in.begin()));
    }

    auto d = parse_udp_datagram(in);
    if (d.status == Status::kDone) {
        check(d.value.data.data() >= data &&
              d.value.data.data() + d.value.data.size() == data + size);
        Buffer out;
        check(encode_udp_header(out, d.value.destination));
        out[2] = d.value.fragment;
        out.insert(out.end(), d.value.data.begin(), d.value.data.end());
        check(out.size() == size && std::equal(out.begin(), out.end(), in.begin()));
    } else {
        check(d.status != Status::kNeedMore);
    }

    // Policy entries come from the operator, but parse them anyway: no crash, bounded prefix.
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (auto cidr = pp::relay::Cidr::parse(text)) check(cidr->prefix <= 128);
    return 0;
}

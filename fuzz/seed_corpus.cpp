// Writes valid instances of every fuzzed input under <dir>/<target>/ so the smoke runs start
// from real messages instead of having to discover the format.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "client/content_codec.hpp"
#include "client/links.hpp"
#include "fuzz/fuzz_session.hpp"
#include "net/proxy_codec.hpp"
#include "protocol/sender_keys.hpp"
#include "relay/socks5/codec.hpp"
#include "wire/endpoint_list.hpp"
#include "wire/frame_codec.hpp"
#include "wire/relay_auth.hpp"
#include "wire/share_links.hpp"

namespace fs = std::filesystem;

namespace {
void write(const fs::path& dir, const std::string& target, int n, pp::ByteView bytes) {
    fs::create_directories(dir / target);
    std::ofstream(dir / target / ("seed" + std::to_string(n)), std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
}
}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <corpus-dir>\n", argv[0]);
        return 2;
    }
    fs::path dir = argv[1];
    using namespace pp::protocol;
    pp::fuzz::FuzzDevice alice, bob;
    (void)process_prekey_bundle(alice.session, alice.identity(), 1, bob.bundle(), std::nullopt);
    for (int i = 0; i < 3; ++i) {
        auto m = encrypt(alice.session, pp::as_bytes("seed message " + std::to_string(i)));
        write(dir, "prekey_signal_message", i, m->bytes);
        auto pm = PreKeySignalMessage::parse(m->bytes);
        write(dir, "signal_message", i, pm->message.serialized);
    }
    auto first = encrypt(alice.session, pp::as_bytes("x"));
    (void)decrypt_prekey_message(bob.session, bob, first->bytes, std::nullopt);
    write(dir, "session_record", 0, bob.session.serialize().view());
    write(dir, "session_record", 1, alice.session.serialize().view());

    SenderKeyRecord own, theirs;
    auto skdm = create_sender_key_distribution(own);
    write(dir, "sender_key_distribution_message", 0, skdm->serialized);
    (void)process_sender_key_distribution(theirs, *skdm);
    for (int i = 0; i < 3; ++i) {
        auto c = group_encrypt(own, pp::as_bytes("group seed " + std::to_string(i)));
        write(dir, "sender_key_message", i, *c);
    }
    write(dir, "sender_key_record", 0, own.serialize().view());
    write(dir, "sender_key_record", 1, theirs.serialize().view());

    write(dir, "key_records", 0, serialize_identity(alice.identity()).view());
    write(dir, "key_records", 1, serialize_prekey(generate_prekeys(7, 1).front()).view());
    write(dir, "key_records", 2,
          serialize_signed_prekey(generate_signed_prekey(alice.identity(), 3, 99)).view());

    // Client frames of each request kind the server parses.
    namespace v1 = pp::wire::v1;
    v1::Frame f;
    f.set_version(pp::wire::kProtocolVersion);
    auto* req = f.mutable_request();
    req->set_id(7);
    auto* reg = req->mutable_register_();
    reg->set_identity_key(std::string(33, '\x05'));
    reg->mutable_signed_prekey()->set_id(1);
    reg->add_prekeys()->set_id(2);
    write(dir, "frame", 0, pp::wire::encode_frame(f));
    req->mutable_send()->set_message_id(std::string(16, 'm'));
    req->mutable_send()->add_messages()->set_content("ciphertext");
    write(dir, "frame", 1, pp::wire::encode_frame(f));
    req->mutable_ack()->add_message_ids(std::string(16, 'm'));
    write(dir, "frame", 2, pp::wire::encode_frame(f));
    req->mutable_authenticate()->set_signature(std::string(64, 's'));
    write(dir, "frame", 3, pp::wire::encode_frame(f));

    // End-to-end content of each kind, as a peer's client would encrypt it.
    namespace content = pp::client::content;
    content::Content c;
    c.mutable_data()->set_id(std::string(16, '\1'));
    c.mutable_data()->set_text("hello");
    c.mutable_data()->set_reply_to(std::string(16, '\2'));
    write(dir, "content", 0, pp::client::encode_content(c));
    c.mutable_receipt()->add_message_ids(std::string(16, '\3'));
    write(dir, "content", 1, pp::client::encode_content(c));
    auto* u = c.mutable_group_update();
    u->set_group_id(std::string(16, '\4'));
    u->set_name("group");
    u->add_members()->set_account_id(std::string(16, '\5'));
    write(dir, "content", 2, pp::client::encode_content(c));

    // Share links as people paste them.
    pp::client::ContactLink link;
    link.server = {"chat.example.org", 443, std::string(64, 'a')};
    link.identity_key.assign(33, 0x05);
    link.name = "Bob";
    write(dir, "links", 0, pp::as_bytes(pp::client::format_contact_link(link)));
    write(dir, "links", 1, pp::as_bytes(pp::client::format_server_link(link.server)));

    // Relay and SOCKS5 share links.
    pp::wire::RelayLink relay;
    relay.host = "relay.example.org";
    relay.port = 443;
    relay.pin = std::string(64, 'b');
    relay.name = "Relay";
    write(dir, "relay_links", 0, pp::as_bytes(pp::wire::format_relay_link(relay)));
    const pp::wire::Socks5Link socks{"2001:db8::1", 1080, "user", "p@ss"};
    write(dir, "relay_links", 1, pp::as_bytes(pp::wire::format_socks5_link(socks)));
    write(dir, "relay_links", 2, pp::as_bytes(pp::wire::format_telegram_socks_link(socks)));
    write(dir, "relay_links", 3,
          pp::as_bytes(pp::wire::format_telegram_socks_link({"proxy.example.org", 1080, "", ""},
                                                            pp::wire::TelegramForm::kWeb)));
    // Relay authenticators under the fuzz target's fixed key (bytes 0..31) and binding, and
    // the replies.
    {
        namespace rw = pp::wire::relay;
        rw::LinkSecret secret;
        for (std::size_t i = 0; i < secret.size(); ++i) secret[i] = static_cast<std::uint8_t>(i);
        const rw::AuthKey key(secret);
        const char* targets[] = {"chat.example.org:443", "[2001:db8::1]:8443", "h:1"};
        int n = 0;
        for (const char* target : targets) {
            rw::Nonce nonce;
            nonce.fill(static_cast<std::uint8_t>(n));
            // The fuzz target's binding (all zero); some padding, of a length that varies.
            const pp::Bytes padding(static_cast<std::size_t>(n) * 40, 0x5A);
            auto a = rw::encode_authenticator(key, rw::SessionBinding{},
                                              1'800'000'000 + static_cast<unsigned>(n), nonce,
                                              target, padding);
            if (a) write(dir, "relay_auth", n++, *a);
        }
        const auto ok = rw::encode_reply(rw::Status::kOk);
        write(dir, "relay_auth", n++, ok);
        write(dir, "relay_auth", n, pp::as_bytes("GET / HTTP/1.1\r\nHost: example.org\r\n\r\n"));
    }
    // SOCKS5 negotiation as clients send it, and UDP ASSOCIATE datagrams.
    {
        namespace s5 = pp::relay::socks5;
        s5::Buffer b;
        const s5::Method both[] = {s5::Method::kNoAuth, s5::Method::kUserPass};
        (void)s5::encode_greeting(b, both);
        write(dir, "socks5", 0, b);
        b.clear();
        (void)s5::encode_credentials(b, "alice", "wonder land");
        write(dir, "socks5", 1, b);
        b.clear();
        (void)s5::encode_request(b, s5::Command::kConnect, s5::Address::host("example.org", 443));
        write(dir, "socks5", 2, b);
        b.clear();
        std::array<std::uint8_t, 16> v6{};
        v6[15] = 1;
        (void)s5::encode_request(b, s5::Command::kUdpAssociate, s5::Address::ipv6(v6, 0));
        write(dir, "socks5", 3, b);
        b.clear();
        (void)s5::encode_reply(b, {s5::ReplyCode::kSucceeded, s5::Address::ipv4({1, 2, 3, 4}, 80)});
        write(dir, "socks5", 4, b);
        b.clear();
        (void)s5::encode_udp_header(b, s5::Address::ipv4({9, 9, 9, 9}, 53));
        b.insert(b.end(), {'d', 'n', 's'});
        write(dir, "socks5", 5, b);
    }
    // Endpoint lists signed with the fuzz target's fixed key (seed bytes 0..31), raw and as
    // links.
    {
        pp::Bytes seed(32);
        for (std::size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<std::uint8_t>(i);
        const auto key = pp::crypto::SigningKey::from_seed(seed).value();
        pp::wire::EndpointList list;
        list.issued_at = 1'800'000'000;
        list.endpoints = {"198.51.100.7:443", "chat.example.org:8443", "[2001:db8::1]:443"};
        const auto addresses_only = pp::wire::sign_endpoint_list(list, key);
        list.relays = {pp::wire::format_relay_link(relay)};
        const auto full = pp::wire::sign_endpoint_list(list, key);
        write(dir, "endpoint_list", 0, addresses_only);
        write(dir, "endpoint_list", 1, full);
        write(dir, "endpoint_list", 2, pp::as_bytes(pp::wire::format_endpoints_link(full)));
        write(dir, "endpoint_list", 3,
              pp::as_bytes(pp::wire::format_endpoints_link(addresses_only)));
    }
    // What proxies answer a client: SOCKS5 CONNECT replies of each address type, a refusal,
    // and HTTP CONNECT response heads.
    {
        const pp::Bytes v4{5, 0, 0, 1, 127, 0, 0, 1, 0x04, 0x38};
        write(dir, "proxy_reply", 0, v4);
        const pp::Bytes name{5,   0,   0,   3,   11,  'e', 'x', 'a',  'm',
                             'p', 'l', 'e', '.', 'o', 'r', 'g', 0x01, 0xBB};
        write(dir, "proxy_reply", 1, name);
        pp::Bytes v6{5, 0, 0, 4};
        v6.resize(22);
        write(dir, "proxy_reply", 2, v6);
        write(dir, "proxy_reply", 3, pp::Bytes{5, 5, 0, 1, 0, 0, 0, 0, 0, 0});
        write(dir, "proxy_reply", 4, pp::as_bytes("HTTP/1.1 200 Connection established\r\n\r\n"));
        write(dir, "proxy_reply", 5,
              pp::as_bytes("HTTP/1.0 407 Proxy Authentication Required\r\n"
                           "Proxy-Authenticate: Basic realm=\"proxy\"\r\n\r\n"));
        write(dir, "proxy_reply", 6, pp::as_bytes("HTTP/1.1 200 OK\r\n\r\n\x16\x03\x03"));
    }
    // What a WebSocket client sends: the RFC's masked "Hello", a message in two fragments with
    // a ping between them, a 16-bit length, and a close with a code and a reason. Then what a
    // server sends: the RFC's unmasked "Hello", a binary message and a ping, and a close.
    {
        write(dir, "ws_frame", 0,
              pp::Bytes{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
        write(dir, "ws_frame", 1, pp::Bytes{0x02, 0x82, 1, 2,    3,    4, 9, 9, 0x89, 0x80, 5,
                                            6,    7,    8, 0x80, 0x81, 1, 1, 1, 1,    7});
        pp::Bytes long_frame{0x82, 0xFE, 0x00, 0x80, 0, 0, 0, 0};
        long_frame.resize(long_frame.size() + 128, 0x55);
        write(dir, "ws_frame", 2, long_frame);
        write(dir, "ws_frame", 3, pp::Bytes{0x88, 0x84, 0, 0, 0, 0, 0x03, 0xE8, 'o', 'k'});
        write(dir, "ws_frame", 4, pp::Bytes{0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f});
        write(dir, "ws_frame", 5, pp::Bytes{0x82, 0x03, 1, 2, 3, 0x89, 0x01, 7});
        write(dir, "ws_frame", 6, pp::Bytes{0x88, 0x02, 0x03, 0xE8});
    }
    return 0;
}

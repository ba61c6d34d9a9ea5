// The server's signed endpoint list against the real binary: the key a client pins at
// registration, the full list for authenticated devices, the public list over HTTPS, the key
// file across restarts and corruption, `admin endpoints`, and bad configuration.
#include <sys/stat.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "base/unix_time.hpp"
#include "tests/integration/fixture.hpp"
#include "wire/endpoint_list.hpp"
#include "wire/share_links.hpp"

namespace pp::test {
namespace {

namespace fs = std::filesystem;

std::string relay_link(const std::string& host, std::uint8_t fill) {
    wire::RelayLink l;
    l.host = host;
    l.port = 443;
    l.pin = std::string(64, 'c');
    for (std::size_t i = 0; i < 32; ++i) l.secret[i] = fill;
    return wire::format_relay_link(l);
}

const std::string kRelayA = relay_link("relay-a.example.net", 0x11);
const std::string kRelayB = relay_link("203.0.113.9", 0x22);

// [endpoints] in the file, and one more of each by flag: flags add to the file's lists.
ServerProcessOptions configured() {
    ServerProcessOptions o;
    o.config_toml =
        "[endpoints]\npublic = true\naddresses = [\"198.51.100.7:443\", \"[2001:db8::7]:8443\"]\n"
        "relays = [\"" +
        kRelayA + "\"]\n";
    o.args = {"--endpoint", "chat.example.org:443", "--vouch-relay", kRelayB};
    return o;
}

const std::vector<std::string> kAddresses = {"198.51.100.7:443", "[2001:db8::7]:8443",
                                             "chat.example.org:443"};

// The "endpoint key:" line of the banner.
std::string printed_key(const std::string& output) {
    static const std::regex re(R"(endpoint key:\s+([0-9a-f]{64}))");
    std::smatch m;
    if (!std::regex_search(output, m, re)) throw std::runtime_error("no endpoint key line");
    return m[1].str();
}

crypto::VerifyKey verify_key(const std::string& hex) {
    return must(crypto::VerifyKey::from_bytes(*from_hex(hex)), "verify key");
}

wire::EndpointList public_list(const ServerProcess& server, const crypto::VerifyKey& key) {
    auto reply = must(net::https_get(server.host(), server.port(), server.pin(), "/v1/endpoints"),
                      "GET /v1/endpoints");
    if (reply.status != 200) throw std::runtime_error("GET /v1/endpoints: " + reply.body);
    EXPECT_EQ(reply.content_type, "application/octet-stream");
    return must(wire::verify_endpoint_list(as_bytes(reply.body), key), "verify public list");
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

TEST(Endpoints, RegistrationPinsTheKeyAndOnlyDevicesGetRelays) {
    ServerProcess server(configured());
    must(server.start(), "start server");
    const std::string key_hex = printed_key(server.output());
    const auto key = verify_key(key_hex);

    auto c = connect_to(server);
    auto reg = must(c.register_account(), "register");
    ASSERT_TRUE(reg.ok()) << reg.response.detail();
    ASSERT_EQ(reg.response.register_().endpoint_key().size(), 32u);
    EXPECT_EQ(to_hex(as_bytes(reg.response.register_().endpoint_key())), key_hex);

    // Before authentication: refused like any other request that needs a device.
    v1::Request get;
    get.mutable_get_endpoints();
    auto early = must(c.request(get), "get_endpoints before auth");
    EXPECT_EQ(early.status(), v1::UNAUTHENTICATED);
    EXPECT_FALSE(early.has_get_endpoints());
    v1::Request count;
    count.mutable_prekey_count();
    EXPECT_EQ(must(c.request(count), "prekey_count before auth").status(), early.status());

    must_ok(c.authenticate(reg.account_id, reg.keys.identity()), "authenticate");
    auto got = must_ok(c.request(get), "get_endpoints");
    ASSERT_TRUE(got.has_get_endpoints());
    EXPECT_EQ(got.get_endpoints().endpoint_key(), reg.response.register_().endpoint_key());
    auto full =
        must(wire::verify_endpoint_list(as_bytes(got.get_endpoints().signed_list()), key), "full");
    EXPECT_EQ(full.endpoints, kAddresses);
    EXPECT_EQ(full.relays, (std::vector<std::string>{kRelayA, kRelayB}));
    EXPECT_LE(full.issued_at, unix_seconds_now());
    EXPECT_GT(full.issued_at, unix_seconds_now() - 600);

    // Anyone can fetch the public one: the same addresses, no relay secrets.
    auto pub = public_list(server, key);
    EXPECT_EQ(pub.endpoints, kAddresses);
    EXPECT_TRUE(pub.relays.empty());
    EXPECT_TRUE(pub.relays_withheld);  // signed: it cannot pass for a list with no relays
    EXPECT_FALSE(full.relays_withheld);
    EXPECT_EQ(pub.issued_at, full.issued_at);
    auto reply =
        must(net::https_get(server.host(), server.port(), server.pin(), "/v1/endpoints"), "GET");
    EXPECT_EQ(reply.body.find("secret="), std::string::npos);
    // Not under any other key.
    EXPECT_FALSE(wire::verify_endpoint_list(as_bytes(reply.body),
                                            crypto::SigningKey::generate().verify_key()));
}

TEST(Endpoints, KeySurvivesRestartWithANewList) {
    ServerProcess server(
        ServerProcessOptions::with_args({"--endpoint", "198.51.100.7:443", "--public-endpoints"}));
    must(server.start(), "start server");
    const std::string key_hex = printed_key(server.output());
    const auto key_file = server.data_dir() / "endpoint-signing.key";
    struct stat st {};
    ASSERT_EQ(::stat(key_file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    const auto first = public_list(server, verify_key(key_hex));
    EXPECT_EQ(first.endpoints, std::vector<std::string>{"198.51.100.7:443"});
    const std::string file_before = read_file(key_file);

    must(server.restart(), "restart");
    EXPECT_EQ(printed_key(server.output()), key_hex);
    EXPECT_EQ(read_file(key_file), file_before);
    const auto second = public_list(server, verify_key(key_hex));
    EXPECT_GE(second.issued_at, first.issued_at);
}

TEST(Endpoints, CorruptKeyFileIsAStartUpErrorNeverReplaced) {
    ServerProcess server;
    must(server.start(), "start server");
    must(server.stop(), "stop");
    const auto key_file = server.data_dir() / "endpoint-signing.key";
    std::string content = read_file(key_file);
    ASSERT_EQ(content.size(), 64u);

    content[3] = static_cast<char>(content[3] ^ 0x01);  // a flipped bit in the seed
    std::ofstream(key_file, std::ios::binary | std::ios::trunc) << content;
    auto refused = server.start();
    ASSERT_FALSE(refused.ok) << "a server with a corrupt endpoint key started";
    EXPECT_NE(refused.error.find("endpoint-signing.key is corrupt"), std::string::npos)
        << refused.error;
    EXPECT_EQ(read_file(key_file), content) << "the corrupt key was replaced";

    std::ofstream(key_file, std::ios::binary | std::ios::trunc) << content.substr(0, 40);
    refused = server.start();
    ASSERT_FALSE(refused.ok);
    EXPECT_NE(refused.error.find("endpoint-signing.key is corrupt"), std::string::npos)
        << refused.error;
    EXPECT_EQ(read_file(key_file).size(), 40u);
}

TEST(Endpoints, AdminEndpointsPrintsAVerifiableLink) {
    ServerProcess server(configured());
    must(server.start(), "start server");
    const auto key = verify_key(printed_key(server.output()));
    const auto out_file = server.root() / "endpoints.link";
    // The running server's configuration is not read: the operator names the lists again.
    auto made = server.admin({"admin", "endpoints", "--no-qr", "--endpoint", "198.51.100.7:443",
                              "--vouch-relay", kRelayA, "--out", out_file.string()});
    ASSERT_EQ(made.exit_code, 0) << made.output;
    std::string link;
    std::istringstream lines(made.output);
    for (std::string line; std::getline(lines, line);)
        if (line.starts_with("paperplane://endpoints?")) link = line;
    ASSERT_FALSE(link.empty()) << made.output;
    auto bytes = must(wire::parse_endpoints_link(link), "parse link");
    auto list = must(wire::verify_endpoint_list(bytes, key), "verify link");
    EXPECT_EQ(list.endpoints, std::vector<std::string>{"198.51.100.7:443"});
    EXPECT_EQ(list.relays, std::vector<std::string>{kRelayA});
    EXPECT_EQ(read_file(out_file), link + "\n");
    struct stat st {};
    ASSERT_EQ(::stat(out_file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << "the link carries relay secrets";

    // With the QR code: the same link, then the code.
    auto with_qr = server.admin({"admin", "endpoints", "--endpoint", "198.51.100.7:443"});
    ASSERT_EQ(with_qr.exit_code, 0) << with_qr.output;
    EXPECT_NE(with_qr.output.find("paperplane://endpoints?list="), std::string::npos);
    EXPECT_GT(with_qr.output.size(), link.size() + 200) << "no QR code drawn";
}

// Without entries there is no list, and without opting in no public one; the key is made
// and pinned at registration all the same, ready for a list the operator adds later.
TEST(Endpoints, NoListWithoutEntriesNoPublicListUnlessAsked) {
    ServerProcess bare;
    must(bare.start(), "start server");
    auto c = connect_to(bare);
    auto reg = must(c.register_account(), "register");
    ASSERT_TRUE(reg.ok()) << reg.response.detail();
    EXPECT_EQ(to_hex(as_bytes(reg.response.register_().endpoint_key())),
              printed_key(bare.output()));
    must_ok(c.authenticate(reg.account_id, reg.keys.identity()), "authenticate");
    v1::Request get;
    get.mutable_get_endpoints();
    EXPECT_EQ(must(c.request(get), "get_endpoints").status(), v1::NOT_FOUND);
    auto none = must(net::https_get(bare.host(), bare.port(), bare.pin(), "/v1/endpoints"), "GET");
    EXPECT_EQ(none.status, 404);
    auto admin = bare.admin({"admin", "endpoints", "--no-qr"});
    EXPECT_NE(admin.exit_code, 0);
    EXPECT_NE(admin.output.find("nothing to sign"), std::string::npos) << admin.output;

    ServerProcess private_list(ServerProcessOptions::with_args({"--endpoint", "192.0.2.7:443"}));
    must(private_list.start(), "start server");
    auto hidden = must(net::https_get(private_list.host(), private_list.port(), private_list.pin(),
                                      "/v1/endpoints"),
                       "GET");
    EXPECT_EQ(hidden.status, 404) << "a crawler must not learn every address by default";
}

// A server with accounts but no key file (it ran before endpoint lists existed, or lost the
// file) makes a key and starts, but says so: the operator may have a backup to restore.
TEST(Endpoints, MissingKeyOnAServerWithAccountsIsMadeWithAWarning) {
    ServerProcess server;
    must(server.start(), "start server");
    auto c = connect_to(server);
    ASSERT_TRUE(must(c.register_account(), "register").ok());
    must(server.stop(), "stop");
    const auto key_file = server.data_dir() / "endpoint-signing.key";
    const std::string old_key = read_file(key_file);
    fs::remove(key_file);
    must(server.start(), "start without the key file");
    EXPECT_NE(server.output().find("event=endpoint_key_created"), std::string::npos)
        << server.output();
    ASSERT_TRUE(fs::exists(key_file));
    EXPECT_NE(read_file(key_file), old_key);
}

TEST(Endpoints, AdminEndpointsCreatesNoKey) {
    ServerProcess server;  // never started: no data directory, no key
    auto made = server.admin({"admin", "endpoints", "--no-qr"});
    EXPECT_NE(made.exit_code, 0);
    EXPECT_NE(made.output.find("no endpoint key"), std::string::npos) << made.output;
    EXPECT_FALSE(fs::exists(server.data_dir() / "endpoint-signing.key"));
}

TEST(Endpoints, BadEntriesFailStartUpClearly) {
    // A relay link whose pin is wrong: the message says why and never repeats the secret.
    std::string bad_relay = kRelayA;
    bad_relay.replace(bad_relay.find("pin=") + 4, 1, "Z");
    const std::string secret = bad_relay.substr(bad_relay.find("secret=") + 7, 43);
    {
        ServerProcess server(ServerProcessOptions::with_args({"--vouch-relay", bad_relay}));
        auto s = server.start();
        ASSERT_FALSE(s.ok);
        EXPECT_NE(s.error.find("--vouch-relay: not a valid paperplane://relay link"),
                  std::string::npos)
            << s.error;
        EXPECT_EQ(s.error.find(secret), std::string::npos) << "a relay secret in the output";
    }
    for (const std::string bad : {"198.51.100.7", "2001:db8::1:443", "host:99999", "a b:1"}) {
        ServerProcess server(ServerProcessOptions::with_args({"--endpoint", bad}));
        auto s = server.start();
        ASSERT_FALSE(s.ok) << bad;
        EXPECT_NE(s.error.find("--endpoint: \"" + bad + "\" is not a valid endpoint"),
                  std::string::npos)
            << s.error;
    }
    {
        ServerProcess server(ServerProcessOptions::with_config(
            "[endpoints]\naddresses = [\"198.51.100.7:443\", \"nope\"]\n"));
        auto s = server.start();
        ASSERT_FALSE(s.ok);
        EXPECT_NE(s.error.find("[endpoints] addresses, entry 2"), std::string::npos) << s.error;
    }
    {
        ServerProcess server(ServerProcessOptions::with_config("[endpoints]\nrelays = \"x\"\n"));
        auto s = server.start();
        ASSERT_FALSE(s.ok);
        EXPECT_NE(s.error.find("[endpoints] relays must be an array of strings"), std::string::npos)
            << s.error;
    }
}

}  // namespace
}  // namespace pp::test

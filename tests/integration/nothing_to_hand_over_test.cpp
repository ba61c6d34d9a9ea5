// "Hand over the keys": after a real end-to-end encrypted conversation through the server,
// nothing the operator holds (database, WAL, shared memory, logs, the captured stdout and
// stderr) contains a plaintext or any client private key, raw or as hex: checked while the
// server runs and again after a graceful stop, when the WAL has been checkpointed.
#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

#include "protocol/session_cipher.hpp"
#include "tests/integration/fixture.hpp"

namespace pp::test {
namespace {

namespace fs = std::filesystem;

std::string upper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
    return s;
}

struct Needle {
    std::string what;
    std::string bytes;
};

// Every needle in raw, lowercase-hex and uppercase-hex form.
std::vector<Needle> forms(const std::string& what, const std::string& raw) {
    const std::string hex = to_hex(as_bytes(raw));
    return {{what, raw}, {what + " (hex)", hex}, {what + " (HEX)", upper(hex)}};
}

struct Scan {
    std::vector<std::string> files;  // every regular file read
    std::vector<std::string> found;  // "needle in file"
};

Scan scan(const fs::path& root, const std::vector<Needle>& needles) {
    Scan out;
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
        if (!entry.is_regular_file()) continue;
        std::ifstream in(entry.path(), std::ios::binary);
        std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        out.files.push_back(entry.path().filename().string());
        for (const auto& n : needles)
            if (content.find(n.bytes) != std::string::npos)
                out.found.push_back(n.what + " in " + entry.path().string());
    }
    return out;
}

// One party of the conversation: its keys and its session with the other.
struct Party {
    User user;
    protocol::SessionRecord session;
};

TEST(NothingToHandOver, ServerFilesHoldNoPlaintextNorPrivateKeys) {
    ServerProcess server;
    must(server.start(), "start server");
    Party alice{register_user(server, 5), {}};
    Party bob{register_user(server, 5), {}};
    auto a = login(server, alice.user);
    auto b = login(server, bob.user);
    ASSERT_TRUE(must(a.next_push(5s), "backlog").has_queue_empty());
    ASSERT_TRUE(must(b.next_push(5s), "backlog").has_queue_empty());

    // X3DH from the bundle the server hands out.
    auto fetched = must_ok(a.fetch_bundles(bob.user.account), "fetch Bob's bundle");
    ASSERT_EQ(fetched.fetch_bundles().bundles_size(), 1);
    auto bundle = to_protocol_bundle(fetched.fetch_bundles().bundles(0));
    ASSERT_TRUE(bundle);
    ASSERT_TRUE(bundle->prekey_id.has_value());
    // Bob's identity as a contact link would carry it: the server cannot substitute it.
    ASSERT_TRUE(protocol::process_prekey_bundle(alice.session, alice.user.keys.identity(),
                                                alice.user.keys.registration_id(), *bundle,
                                                bob.user.keys.identity().public_key));

    std::vector<std::string> plaintexts;
    std::vector<std::string> ciphertexts;
    std::vector<std::string> message_ids;
    auto exchange = [&](Party& from, ServerClient& fc, Party& to, ServerClient& tc,
                        const std::string& text, bool ack) {
        plaintexts.push_back(text);
        auto ct = protocol::encrypt(from.session, as_bytes(text));
        ASSERT_TRUE(ct);
        const std::string content(ct->bytes.begin(), ct->bytes.end());
        ciphertexts.push_back(content);
        const std::string id = random_id();
        message_ids.push_back(id);
        must_ok(fc.send(id, to.user.account, {{1, static_cast<std::uint32_t>(ct->type), content}}),
                "send");
        auto p = must(tc.next_push(5s), "push");
        ASSERT_TRUE(p.has_envelope());
        const auto& e = p.envelope();
        ASSERT_EQ(e.message_id(), id);
        Bytes plain;
        if (e.type() == static_cast<std::uint32_t>(protocol::MessageType::kPreKey)) {
            auto d =
                protocol::decrypt_prekey_message(to.session, to.user.keys, as_bytes(e.content()),
                                                 from.user.keys.identity().public_key);
            ASSERT_TRUE(d) << to_string(d.error().code);
            if (d->consumed_prekey_id) to.user.keys.remove_prekey(*d->consumed_prekey_id);
            plain = d->plaintext;
        } else {
            auto d = protocol::decrypt_signal_message(to.session, as_bytes(e.content()));
            ASSERT_TRUE(d) << to_string(d.error().code);
            plain = *d;
        }
        EXPECT_EQ(text_of(plain), text);
        if (ack) must_ok(tc.ack({id}), "ack");
    };

    const std::vector<std::string> lines = {
        "MARKER-0001 the meeting moved to the old library, 18:30",
        "MARKER-0002 bring the printed leaflets, not the USB stick",
        "MARKER-0003 understood. who else knows?",
        "MARKER-0004 only Nadia and the driver",
        "MARKER-0005 delete this thread after reading",
        "MARKER-0006 done. see you there",
        "MARKER-0007 last one stays queued on the server",
        "MARKER-0008 and so does this reply",
    };
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const bool from_alice = i % 2 == 0;
        const bool ack = i + 2 < lines.size();  // the last two stay queued, unacknowledged
        if (from_alice)
            exchange(alice, a, bob, b, lines[i], ack);
        else
            exchange(bob, b, alice, a, lines[i], ack);
        if (HasFatalFailure()) return;
    }
    // Rotate keys too, so fresh private keys went through the upload path.
    must_ok(
        b.upload_prekeys(bob.user.keys.rotate_signed_prekey(2), bob.user.keys.add_prekeys(50, 3)),
        "upload");

    std::vector<Needle> needles;
    for (const auto& p : plaintexts) {
        auto f = forms("plaintext \"" + p.substr(0, 11) + "\"", p);
        needles.insert(needles.end(), f.begin(), f.end());
    }
    for (auto* party : {&alice, &bob}) {
        const std::string who = party == &alice ? "Alice" : "Bob";
        int n = 0;
        for (const auto& k : party->user.keys.private_keys()) {
            auto f = forms(who + " private key #" + std::to_string(n++),
                           std::string(k.begin(), k.end()));
            needles.insert(needles.end(), f.begin(), f.end());
        }
    }
    // The scanner must see what the server does hold: public keys and queued ciphertext.
    const std::vector<Needle> controls = {
        {"Bob's public identity key", public_bytes(bob.user.keys.identity().public_key)},
        {"a queued ciphertext", ciphertexts.back()},
    };

    auto check = [&](const char* phase) {
        auto s = scan(server.root(), needles);
        EXPECT_TRUE(s.found.empty()) << phase << ": found\n" << ::testing::PrintToString(s.found);
        auto c = scan(server.root(), controls);
        EXPECT_EQ(c.found.size(), controls.size())
            << phase << ": the scan missed data the server does store; files: "
            << ::testing::PrintToString(c.files);
        const bool saw_db =
            std::find(s.files.begin(), s.files.end(), "paperplane.db") != s.files.end();
        EXPECT_TRUE(saw_db) << ::testing::PrintToString(s.files);
        return s.files;
    };
    auto running_files = check("while running");
    EXPECT_NE(std::find(running_files.begin(), running_files.end(), "paperplane.db-wal"),
              running_files.end())
        << "expected a WAL while running: " << ::testing::PrintToString(running_files);

    a.close();
    b.close();
    must(server.stop(), "SIGTERM");
    check("after a graceful stop");

    // The logs carry structured event lines, and none of the metadata the server keeps out of
    // them: account ids, message ids, client addresses (those only when the operator opts in).
    const std::string out = server.output();
    for (const char* event :
         {"event=register ", "event=conn_open ", "event=auth_ok ", "event=conn_close "})
        EXPECT_NE(out.find(event), std::string::npos) << event << " missing in\n" << out;
    std::vector<Needle> metadata;
    for (auto* party : {&alice, &bob}) {
        auto f =
            forms(party == &alice ? "Alice's account id" : "Bob's account id", party->user.account);
        metadata.insert(metadata.end(), f.begin(), f.end());
    }
    for (const auto& id : message_ids) {
        auto f = forms("a message id", id);
        metadata.insert(metadata.end(), f.begin(), f.end());
    }
    for (const auto& n : metadata) EXPECT_EQ(out.find(n.bytes), std::string::npos) << n.what;
    std::istringstream log_lines(out);
    for (std::string line; std::getline(log_lines, line);) {
        if (line.find("event=") == std::string::npos) continue;
        EXPECT_EQ(line.find("addr="), std::string::npos) << line;
        EXPECT_EQ(line.find(server.host()), std::string::npos) << line;
    }
}

}  // namespace
}  // namespace pp::test

// The reference (libsignal-protocol-c via RefParty) talking to itself. If this fails, the
// harness is wrong, not our implementation. Also pins down the library's exact error codes,
// which the interop tests rely on.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/interop/ref_party.hpp"

namespace pp::ref {
namespace {

Bytes bytes_of(const std::string& s) {
    return Bytes(s.begin(), s.end());
}

// prefix + decimal n. (Avoids `"literal" + std::to_string(n)`, which trips GCC 12's bogus
// -Wrestrict at -O3.)
template <class Int>
std::string numbered(const char* prefix, Int n) {
    std::string s(prefix);
    s += std::to_string(n);
    return s;
}

// Sends one message and checks it arrives intact.
void send_ok(RefParty& from, RefParty& to, const std::string& text, int expected_type = 0) {
    Ciphertext ct;
    ASSERT_EQ(from.encrypt(to.name(), bytes_of(text), ct), kSuccess) << from.last_log();
    if (expected_type != 0) {
        EXPECT_EQ(ct.type, expected_type);
    }
    Bytes pt;
    const int rc = to.decrypt(from.name(), ct, pt);
    ASSERT_EQ(rc, kSuccess) << error_name(rc) << ": " << to.last_log();
    EXPECT_EQ(pt, bytes_of(text));
}

// ~n messages in bursts of growing length, alternating direction (a ratchet turn per burst),
// with some bursts delivered in reverse order.
void converse(RefParty& a, RefParty& b, int n) {
    int sent = 0;
    for (int burst = 1; sent < n; ++burst) {
        RefParty& from = (burst % 2 == 1) ? a : b;
        RefParty& to = (burst % 2 == 1) ? b : a;
        const int len = std::min(1 + burst % 5, n - sent);
        std::vector<std::pair<Ciphertext, std::string>> queue;
        for (int i = 0; i < len; ++i, ++sent) {
            const std::string text = numbered("msg ", sent) + " from " + from.name();
            Ciphertext ct;
            ASSERT_EQ(from.encrypt(to.name(), bytes_of(text), ct), kSuccess);
            EXPECT_EQ(ct.type, kCiphertextSignal);
            queue.emplace_back(ct, text);
        }
        if (burst % 3 == 0) std::reverse(queue.begin(), queue.end());
        for (const auto& [ct, text] : queue) {
            Bytes pt;
            const int rc = to.decrypt(from.name(), ct, pt);
            ASSERT_EQ(rc, kSuccess) << error_name(rc) << ": " << to.last_log();
            EXPECT_EQ(pt, bytes_of(text));
        }
    }
}

// End offset of the inner SignalMessage (field 4) in a serialized PreKeySignalMessage.
size_t inner_message_end(const Bytes& pre) {
    size_t pos = 1;  // version byte
    auto varint = [&] {
        uint64_t v = 0;
        for (int shift = 0; pos < pre.size(); shift += 7) {
            const uint8_t b = pre[pos++];
            v |= uint64_t(b & 0x7f) << shift;
            if ((b & 0x80) == 0) break;
        }
        return v;
    };
    while (pos < pre.size()) {
        const uint64_t tag = varint();
        if ((tag & 7) == 0) {
            varint();
        } else if ((tag & 7) == 2) {
            const auto len = static_cast<size_t>(varint());
            if ((tag >> 3) == 4) return pos + len;
            pos += len;
        } else {
            break;
        }
    }
    ADD_FAILURE() << "no inner message";
    return pre.size();
}

// Establishes initiator -> responder and confirms it with one reply each way.
void establish(RefParty& initiator, RefParty& responder, bool one_time_prekey) {
    const Bundle bundle = responder.make_bundle(one_time_prekey);
    ASSERT_EQ(initiator.process_bundle(responder.name(), bundle), kSuccess);
    send_ok(initiator, responder, "hello", kCiphertextPreKey);
    send_ok(responder, initiator, "hi", kCiphertextSignal);
    send_ok(initiator, responder, "confirmed", kCiphertextSignal);
}

TEST(RefPartySelfTest, BasicProperties) {
    RefParty alice("alice");
    EXPECT_EQ(alice.name(), "alice");
    const Bytes id = alice.identity_public();
    ASSERT_EQ(id.size(), 33u);
    EXPECT_EQ(id[0], 0x05);
    EXPECT_GE(alice.registration_id(), 1u);
    EXPECT_LE(alice.registration_id(), 16380u);
    RefParty fixed("x", 4242);
    EXPECT_EQ(fixed.registration_id(), 4242u);

    const Bundle b = alice.make_bundle(true, 17, 3);
    EXPECT_EQ(b.registration_id, alice.registration_id());
    EXPECT_EQ(b.device_id, 1u);
    ASSERT_TRUE(b.prekey_id.has_value());
    EXPECT_EQ(*b.prekey_id, 17u);
    EXPECT_EQ(b.prekey_public.size(), 33u);
    EXPECT_EQ(b.signed_prekey_id, 3u);
    EXPECT_EQ(b.signed_prekey_public.size(), 33u);
    EXPECT_EQ(b.signed_prekey_signature.size(), 64u);
    EXPECT_EQ(b.identity_key, id);
    EXPECT_TRUE(alice.has_prekey(17));
    EXPECT_TRUE(alice.has_signed_prekey(3));
    EXPECT_TRUE(RefParty::verify_signature(id, b.signed_prekey_public, b.signed_prekey_signature));

    const Bundle c = alice.make_bundle(false);
    EXPECT_FALSE(c.prekey_id.has_value());
    EXPECT_TRUE(c.prekey_public.empty());
    EXPECT_EQ(c.signed_prekey_id, 4u);  // counter continues after explicit id 3
}

TEST(RefPartySelfTest, SessionWithOneTimePrekeyAliceInitiates) {
    RefParty alice("alice");
    RefParty bob("bob");
    const Bundle bundle = bob.make_bundle(true, 42, 7);
    ASSERT_EQ(alice.process_bundle("bob", bundle), kSuccess);
    EXPECT_TRUE(alice.has_session("bob"));
    EXPECT_FALSE(bob.has_session("alice"));
    EXPECT_EQ(alice.saved_identity("bob"), bob.identity_public());

    // Until Bob answers, every message from Alice is a PreKey message.
    send_ok(alice, bob, "first", kCiphertextPreKey);
    EXPECT_FALSE(bob.has_prekey(42)) << "one-time prekey must be consumed";
    EXPECT_TRUE(bob.has_signed_prekey(7));
    EXPECT_TRUE(bob.has_session("alice"));
    EXPECT_EQ(bob.saved_identity("alice"), alice.identity_public());
    send_ok(alice, bob, "second", kCiphertextPreKey);
    send_ok(bob, alice, "reply", kCiphertextSignal);
    send_ok(alice, bob, "now a signal message", kCiphertextSignal);
    converse(alice, bob, 50);
}

TEST(RefPartySelfTest, SessionWithoutOneTimePrekeyBobInitiates) {
    RefParty alice("alice");
    RefParty bob("bob");
    const Bundle bundle = alice.make_bundle(false);
    ASSERT_EQ(bob.process_bundle("alice", bundle), kSuccess);
    send_ok(bob, alice, "first", kCiphertextPreKey);
    send_ok(alice, bob, "reply", kCiphertextSignal);
    converse(bob, alice, 50);
}

TEST(RefPartySelfTest, BothDirectionsWithAndWithoutPrekey) {
    for (bool otpk : {true, false}) {
        RefParty alice("alice");
        RefParty bob("bob");
        establish(alice, bob, otpk);
        converse(alice, bob, 50);
        RefParty carol("carol");
        establish(carol, alice, otpk);
        converse(alice, carol, 20);
    }
}

TEST(RefPartySelfTest, EmptyAndLargePlaintexts) {
    RefParty alice("alice");
    RefParty bob("bob");
    establish(alice, bob, true);
    send_ok(alice, bob, "");
    send_ok(bob, alice, std::string(100000, 'x'));
}

TEST(RefPartySelfTest, OutOfOrderAndDuplicates) {
    RefParty alice("alice");
    RefParty bob("bob");
    const Bundle bundle = bob.make_bundle(true);
    ASSERT_EQ(alice.process_bundle("bob", bundle), kSuccess);
    Ciphertext first;
    ASSERT_EQ(alice.encrypt("bob", bytes_of("first"), first), kSuccess);
    Bytes pt;
    ASSERT_EQ(bob.decrypt("alice", first, pt), kSuccess);
    // Replayed PreKey message: session already set up for that base key, counter already used.
    EXPECT_EQ(bob.decrypt("alice", first, pt), kErrDuplicateMessage);
    send_ok(bob, alice, "reply");

    std::vector<Ciphertext> cts(10);
    for (int i = 0; i < 10; ++i) {
        ASSERT_EQ(alice.encrypt("bob", bytes_of(std::to_string(i)), cts[i]), kSuccess);
    }
    for (int i = 9; i >= 0; --i) {
        ASSERT_EQ(bob.decrypt("alice", cts[i], pt), kSuccess);
        EXPECT_EQ(pt, bytes_of(std::to_string(i)));
    }
    EXPECT_EQ(bob.decrypt("alice", cts[3], pt), kErrDuplicateMessage);
    EXPECT_EQ(bob.decrypt("alice", cts[9], pt), kErrDuplicateMessage);
    // Replay of a message from an older chain after further ratchet turns.
    converse(alice, bob, 10);
    EXPECT_EQ(bob.decrypt("alice", cts[5], pt), kErrDuplicateMessage);
}

TEST(RefPartySelfTest, MessagesMoreThan2000Ahead) {
    RefParty alice("alice");
    RefParty bob("bob");
    establish(alice, bob, true);
    send_ok(bob, alice, "turn");  // Alice's next message starts a new sending chain at 0
    std::vector<Ciphertext> cts(2002);
    for (size_t i = 0; i < cts.size(); ++i) {
        ASSERT_EQ(alice.encrypt("bob", bytes_of(numbered("m", i)), cts[i]), kSuccess);
    }
    Bytes pt;
    // Counter 2001 on a chain at index 0: more than 2000 ahead.
    EXPECT_EQ(bob.decrypt("alice", cts[2001], pt), kErrInvalidMessage);
    // Exactly 2000 ahead is accepted; the failed attempt did not change the session.
    ASSERT_EQ(bob.decrypt("alice", cts[2000], pt), kSuccess);
    EXPECT_EQ(pt, bytes_of("m2000"));
    ASSERT_EQ(bob.decrypt("alice", cts[2001], pt), kSuccess);
    ASSERT_EQ(bob.decrypt("alice", cts[0], pt), kSuccess);
    EXPECT_EQ(pt, bytes_of("m0"));
    ASSERT_EQ(bob.decrypt("alice", cts[1999], pt), kSuccess);
    send_ok(bob, alice, "still fine");
}

TEST(RefPartySelfTest, WrongVersionByte) {
    RefParty alice("alice");
    RefParty bob("bob");
    const Bundle bundle = bob.make_bundle(true);
    ASSERT_EQ(alice.process_bundle("bob", bundle), kSuccess);
    Ciphertext pre;
    ASSERT_EQ(alice.encrypt("bob", bytes_of("pre"), pre), kSuccess);
    ASSERT_EQ(pre.type, kCiphertextPreKey);
    ASSERT_EQ(pre.bytes[0], 0x33);
    Bytes pt;
    auto with_version = [](Ciphertext ct, uint8_t v) {
        ct.bytes[0] = v;
        return ct;
    };
    EXPECT_EQ(bob.decrypt("alice", with_version(pre, 0x43), pt), kErrInvalidVersion);
    EXPECT_EQ(bob.decrypt("alice", with_version(pre, 0x23), pt), kErrLegacyMessage);
    EXPECT_EQ(bob.decrypt("alice", with_version(pre, 0x13), pt), kErrLegacyMessage);
    EXPECT_TRUE(bob.has_prekey(*bundle.prekey_id));
    ASSERT_EQ(bob.decrypt("alice", pre, pt), kSuccess);

    Ciphertext sig;
    ASSERT_EQ(bob.encrypt("alice", bytes_of("sig"), sig), kSuccess);
    ASSERT_EQ(sig.type, kCiphertextSignal);
    ASSERT_EQ(sig.bytes[0], 0x33);
    // SignalMessage: an unknown (too new) version is INVALID_MESSAGE, not INVALID_VERSION.
    EXPECT_EQ(alice.decrypt("bob", with_version(sig, 0x43), pt), kErrInvalidMessage);
    EXPECT_EQ(alice.decrypt("bob", with_version(sig, 0x13), pt), kErrLegacyMessage);
    EXPECT_EQ(alice.decrypt("bob", with_version(sig, 0x03), pt), kErrLegacyMessage);
    // Version 2 parses but does not match the v3 session.
    EXPECT_EQ(alice.decrypt("bob", with_version(sig, 0x23), pt), kErrInvalidMessage);
    // Only the high nibble is checked; the low nibble is covered by the MAC.
    EXPECT_EQ(alice.decrypt("bob", with_version(sig, 0x34), pt), kErrInvalidMessage);
    ASSERT_EQ(alice.decrypt("bob", sig, pt), kSuccess);
    EXPECT_EQ(pt, bytes_of("sig"));
}

TEST(RefPartySelfTest, TamperedMacAndBody) {
    RefParty alice("alice");
    RefParty bob("bob");
    const Bundle bundle = bob.make_bundle(true);
    ASSERT_EQ(alice.process_bundle("bob", bundle), kSuccess);
    Ciphertext pre;
    ASSERT_EQ(alice.encrypt("bob", bytes_of("pre"), pre), kSuccess);
    Bytes pt;
    // protobuf-c packs fields in field-number order, so a PreKeySignalMessage ends with
    // registrationId (5) and signedPreKeyId (6); its last byte is the signed prekey id.
    Ciphertext bad = pre;
    bad.bytes.back() ^= 0x01;
    EXPECT_EQ(bob.decrypt("alice", bad, pt), kErrInvalidKeyId);
    EXPECT_FALSE(bob.saved_identity("alice").has_value());

    bad = pre;
    bad.bytes[inner_message_end(pre.bytes) - 1] ^= 0x01;  // last byte of the inner MAC
    EXPECT_EQ(bob.decrypt("alice", bad, pt), kErrInvalidMessage);
    EXPECT_TRUE(bob.has_prekey(*bundle.prekey_id)) << "failed PreKey message must not consume";
    EXPECT_FALSE(bob.has_session("alice"));
    // Surprise: the sender identity is saved (TOFU-pinned) before decryption is attempted.
    EXPECT_EQ(bob.saved_identity("alice"), alice.identity_public());
    ASSERT_EQ(bob.decrypt("alice", pre, pt), kSuccess);

    Ciphertext sig;
    ASSERT_EQ(bob.encrypt("alice", bytes_of("0123456789abcdef0123456789"), sig), kSuccess);
    bad = sig;
    bad.bytes.back() ^= 0x80;
    EXPECT_EQ(alice.decrypt("bob", bad, pt), kErrInvalidMessage);
    bad = sig;
    bad.bytes[bad.bytes.size() - 8 - 5] ^= 0x01;  // inside the AES-CBC body
    EXPECT_EQ(alice.decrypt("bob", bad, pt), kErrInvalidMessage);
    bad = sig;
    bad.bytes.resize(bad.bytes.size() - 1);  // the MAC is the last 8 bytes: cuts the protobuf
    EXPECT_EQ(alice.decrypt("bob", bad, pt), kErrInvalidProtoBuf);
    bad.bytes.assign(9, 0x33);  // too short to hold version + MAC
    EXPECT_EQ(alice.decrypt("bob", bad, pt), kErrInval);
    ASSERT_EQ(alice.decrypt("bob", sig, pt), kSuccess);
}

TEST(RefPartySelfTest, UntrustedIdentity) {
    RefParty alice("alice");
    RefParty bob("bob");
    establish(alice, bob, true);

    // Someone else claiming to be "bob" publishes a bundle.
    RefParty fake_bob("bob");
    EXPECT_EQ(alice.process_bundle("bob", fake_bob.make_bundle(true)), kErrUntrustedIdentity);

    // Someone else claiming to be "alice" initiates a session with Bob.
    RefParty fake_alice("alice");
    ASSERT_EQ(fake_alice.process_bundle("bob", bob.make_bundle(true, 99)), kSuccess);
    Ciphertext ct;
    ASSERT_EQ(fake_alice.encrypt("bob", bytes_of("trust me"), ct), kSuccess);
    Bytes pt;
    EXPECT_EQ(bob.decrypt("alice", ct, pt), kErrUntrustedIdentity);
    EXPECT_TRUE(bob.has_prekey(99));
    send_ok(alice, bob, "real alice still fine");

    // Explicitly trusting the new key makes it acceptable.
    bob.trust_identity("alice", fake_alice.identity_public());
    ASSERT_EQ(bob.decrypt("alice", ct, pt), kSuccess);
    EXPECT_EQ(pt, bytes_of("trust me"));
    EXPECT_FALSE(bob.has_prekey(99));
}

TEST(RefPartySelfTest, BundleAndPrekeyErrors) {
    RefParty alice("alice");
    RefParty bob("bob");
    Bundle bundle = bob.make_bundle(true, 5, 1);

    Bundle bad_sig = bundle;
    bad_sig.signed_prekey_signature[10] ^= 0x01;
    EXPECT_EQ(alice.process_bundle("bob", bad_sig), kErrInvalidKey);
    Bundle bad_key = bundle;
    bad_key.signed_prekey_public[0] = 0x06;
    EXPECT_EQ(alice.process_bundle("bob", bad_key), kErrInvalidKey);
    bad_key = bundle;
    bad_key.identity_key.pop_back();
    EXPECT_EQ(alice.process_bundle("bob", bad_key), kErrInvalidKey);
    EXPECT_FALSE(alice.has_session("bob"));

    // Two initiators using the same one-time prekey: the second finds it consumed.
    RefParty carol("carol");
    ASSERT_EQ(alice.process_bundle("bob", bundle), kSuccess);
    ASSERT_EQ(carol.process_bundle("bob", bundle), kSuccess);
    send_ok(alice, bob, "first");
    Ciphertext ct;
    ASSERT_EQ(carol.encrypt("bob", bytes_of("second"), ct), kSuccess);
    Bytes pt;
    EXPECT_EQ(bob.decrypt("carol", ct, pt), kErrInvalidKeyId);

    // Unknown signed prekey id.
    RefParty dave("dave");
    Bundle b2 = bob.make_bundle(false, std::nullopt, 77);
    ASSERT_EQ(dave.process_bundle("bob", b2), kSuccess);
    bob.remove_signed_prekey(77);
    ASSERT_EQ(dave.encrypt("bob", bytes_of("x"), ct), kSuccess);
    EXPECT_EQ(bob.decrypt("dave", ct, pt), kErrInvalidKeyId);

    // No session at all.
    RefParty erin("erin");
    EXPECT_EQ(erin.encrypt("bob", bytes_of("x"), ct), kErrNoSession);
    ASSERT_EQ(bob.encrypt("alice", bytes_of("to alice"), ct), kSuccess);
    EXPECT_EQ(erin.decrypt("bob", ct, pt), kErrNoSession);
    Ciphertext wrong_type = ct;
    wrong_type.type = 7;
    EXPECT_EQ(alice.decrypt("bob", wrong_type, pt), kErrInval);
}

TEST(RefPartySelfTest, SenderKeyGroup) {
    RefParty alice("alice");
    RefParty bob("bob");
    RefParty carol("carol");
    const std::string group = "group-1";

    Bytes skdm;
    ASSERT_EQ(alice.create_sender_key_distribution(group, skdm), kSuccess);
    ASSERT_FALSE(skdm.empty());
    EXPECT_EQ(skdm[0], 0x33);
    ASSERT_EQ(bob.process_sender_key_distribution(group, "alice", skdm), kSuccess);
    ASSERT_EQ(carol.process_sender_key_distribution(group, "alice", skdm), kSuccess);

    std::vector<Bytes> cts(30);
    for (int i = 0; i < 30; ++i) {
        ASSERT_EQ(alice.group_encrypt(group, bytes_of(numbered("g", i)), cts[i]), kSuccess);
    }
    Bytes pt;
    for (int i = 0; i < 30; ++i) {
        ASSERT_EQ(bob.group_decrypt(group, "alice", cts[i], pt), kSuccess) << i;
        EXPECT_EQ(pt, bytes_of(numbered("g", i)));
    }
    for (int i = 29; i >= 0; --i) {
        ASSERT_EQ(carol.group_decrypt(group, "alice", cts[i], pt), kSuccess) << i;
        EXPECT_EQ(pt, bytes_of(numbered("g", i)));
    }
    EXPECT_EQ(bob.group_decrypt(group, "alice", cts[4], pt), kErrDuplicateMessage);
    EXPECT_EQ(carol.group_decrypt(group, "alice", cts[29], pt), kErrDuplicateMessage);

    // A late joiner gets the current chain state and cannot read older messages.
    RefParty dave("dave");
    Bytes skdm_now;
    ASSERT_EQ(alice.create_sender_key_distribution(group, skdm_now), kSuccess);
    ASSERT_EQ(dave.process_sender_key_distribution(group, "alice", skdm_now), kSuccess);
    EXPECT_EQ(dave.group_decrypt(group, "alice", cts[0], pt), kErrDuplicateMessage);
    Bytes next;
    ASSERT_EQ(alice.group_encrypt(group, bytes_of("late"), next), kSuccess);
    ASSERT_EQ(dave.group_decrypt(group, "alice", next, pt), kSuccess);
    EXPECT_EQ(pt, bytes_of("late"));

    // Bob sends too.
    Bytes bob_skdm;
    ASSERT_EQ(bob.create_sender_key_distribution(group, bob_skdm), kSuccess);
    ASSERT_EQ(alice.process_sender_key_distribution(group, "bob", bob_skdm), kSuccess);
    Bytes from_bob;
    ASSERT_EQ(bob.group_encrypt(group, bytes_of("from bob"), from_bob), kSuccess);
    ASSERT_EQ(alice.group_decrypt(group, "bob", from_bob, pt), kSuccess);
    EXPECT_EQ(pt, bytes_of("from bob"));

    // Errors: unknown sender, wrong group, tampered signature, bad version.
    EXPECT_EQ(carol.group_decrypt(group, "bob", from_bob, pt), kErrNoSession);
    EXPECT_EQ(alice.group_decrypt("other", "bob", from_bob, pt), kErrNoSession);
    Bytes bad = from_bob;
    bad.back() ^= 0x01;
    EXPECT_EQ(alice.group_decrypt(group, "bob", bad, pt), kErrInvalidMessage);
    bad = from_bob;
    bad[0] = 0x43;
    EXPECT_EQ(alice.group_decrypt(group, "bob", bad, pt), kErrInvalidVersion);
    bad[0] = 0x23;
    EXPECT_EQ(alice.group_decrypt(group, "bob", bad, pt), kErrLegacyMessage);
    Bytes bad_skdm = bob_skdm;
    bad_skdm[0] = 0x43;
    EXPECT_EQ(carol.process_sender_key_distribution(group, "bob", bad_skdm), kErrInvalidVersion);

    Bytes no_key;
    EXPECT_EQ(carol.group_encrypt("never-created", bytes_of("x"), no_key), kErrNoSession);
}

TEST(RefPartySelfTest, SenderKeyMoreThan2000Ahead) {
    RefParty alice("alice");
    RefParty bob("bob");
    Bytes skdm;
    ASSERT_EQ(alice.create_sender_key_distribution("g", skdm), kSuccess);
    ASSERT_EQ(bob.process_sender_key_distribution("g", "alice", skdm), kSuccess);
    std::vector<Bytes> cts(2002);
    for (auto& ct : cts) {
        ASSERT_EQ(alice.group_encrypt("g", bytes_of("x"), ct), kSuccess);
    }
    Bytes pt;
    EXPECT_EQ(bob.group_decrypt("g", "alice", cts[2001], pt), kErrInvalidMessage);
    EXPECT_EQ(bob.group_decrypt("g", "alice", cts[2000], pt), kSuccess);
}

// Vectors from libsignal-protocol-c tests/test_fingerprint.c.
const Bytes kAliceIdentity = {0x05, 0x06, 0x86, 0x3b, 0xc6, 0x6d, 0x02, 0xb4, 0x0d, 0x27, 0xb8,
                              0xd4, 0x9c, 0xa7, 0xc0, 0x9e, 0x92, 0x39, 0x23, 0x6f, 0x9d, 0x7d,
                              0x25, 0xd6, 0xfc, 0xca, 0x5c, 0xe1, 0x3c, 0x70, 0x64, 0xd8, 0x68};
const Bytes kBobIdentity = {0x05, 0xf7, 0x81, 0xb6, 0xfb, 0x32, 0xfe, 0xd9, 0xba, 0x1c, 0xf2,
                            0xde, 0x97, 0x8d, 0x4d, 0x5d, 0xa2, 0x8d, 0xc3, 0x40, 0x46, 0xae,
                            0x81, 0x44, 0x02, 0xb5, 0xc0, 0xdb, 0xd9, 0x6f, 0xda, 0x90, 0x7b};
const Bytes kAliceScannableV1 = {
    0x08, 0x01, 0x12, 0x22, 0x0a, 0x20, 0x1e, 0x30, 0x1a, 0x03, 0x53, 0xdc, 0xe3, 0xdb, 0xe7,
    0x68, 0x4c, 0xb8, 0x33, 0x6e, 0x85, 0x13, 0x6c, 0xdc, 0x0e, 0xe9, 0x62, 0x19, 0x49, 0x4a,
    0xda, 0x30, 0x5d, 0x62, 0xa7, 0xbd, 0x61, 0xdf, 0x1a, 0x22, 0x0a, 0x20, 0xd6, 0x2c, 0xbf,
    0x73, 0xa1, 0x15, 0x92, 0x01, 0x5b, 0x6b, 0x9f, 0x16, 0x82, 0xac, 0x30, 0x6f, 0xea, 0x3a,
    0xaf, 0x38, 0x85, 0xb8, 0x4d, 0x12, 0xbc, 0xa6, 0x31, 0xe9, 0xd4, 0xfb, 0x3a, 0x4d};

TEST(RefPartySelfTest, FingerprintKnownAnswers) {
    const std::string a = "+14152222222";
    const std::string b = "+14153333333";
    const std::string expected = "300354477692869396892869876765458257569162576843440918079131";
    EXPECT_EQ(RefParty::displayable_fingerprint(5200, a, kAliceIdentity, b, kBobIdentity),
              expected);
    EXPECT_EQ(RefParty::displayable_fingerprint(5200, b, kBobIdentity, a, kAliceIdentity),
              expected);
    EXPECT_EQ(RefParty::scannable_fingerprint(5200, 1, a, kAliceIdentity, b, kBobIdentity),
              kAliceScannableV1);
}

TEST(RefPartySelfTest, FingerprintsBetweenParties) {
    RefParty alice("alice");
    RefParty bob("bob");
    RefParty mallory("mallory");
    const Bytes ak = alice.identity_public();
    const Bytes bk = bob.identity_public();
    const Bytes mk = mallory.identity_public();

    const std::string from_alice = RefParty::displayable_fingerprint(5200, "alice", ak, "bob", bk);
    const std::string from_bob = RefParty::displayable_fingerprint(5200, "bob", bk, "alice", ak);
    EXPECT_EQ(from_alice.size(), 60u);
    EXPECT_EQ(from_alice, from_bob);
    EXPECT_NE(from_alice, RefParty::displayable_fingerprint(5200, "alice", ak, "bob", mk));

    for (int version : {0, 1}) {
        const Bytes sa = RefParty::scannable_fingerprint(5200, version, "alice", ak, "bob", bk);
        const Bytes sb = RefParty::scannable_fingerprint(5200, version, "bob", bk, "alice", ak);
        const Bytes sm = RefParty::scannable_fingerprint(5200, version, "alice", ak, "bob", mk);
        EXPECT_EQ(RefParty::compare_scannable_fingerprints(sa, sb), 1) << version;
        EXPECT_EQ(RefParty::compare_scannable_fingerprints(sb, sa), 1) << version;
        EXPECT_NE(RefParty::compare_scannable_fingerprints(sm, sb), 1) << version;
    }
    const Bytes v0 = RefParty::scannable_fingerprint(5200, 0, "alice", ak, "bob", bk);
    const Bytes v1 = RefParty::scannable_fingerprint(5200, 1, "bob", bk, "alice", ak);
    EXPECT_EQ(RefParty::compare_scannable_fingerprints(v0, v1), kErrFpVersionMismatch);
    EXPECT_THROW(RefParty::scannable_fingerprint(5200, 2, "a", ak, "b", bk), std::runtime_error);
}

TEST(RefPartySelfTest, IdentitySignatures) {
    RefParty alice("alice");
    const Bytes msg = bytes_of("signed by alice");
    const Bytes sig = alice.sign_with_identity(msg);
    ASSERT_EQ(sig.size(), 64u);
    EXPECT_TRUE(RefParty::verify_signature(alice.identity_public(), msg, sig));
    EXPECT_NE(alice.sign_with_identity(msg), sig) << "XEdDSA signatures are randomised";
    Bytes bad = sig;
    bad[0] ^= 0x01;
    EXPECT_FALSE(RefParty::verify_signature(alice.identity_public(), msg, bad));
    EXPECT_FALSE(RefParty::verify_signature(alice.identity_public(), bytes_of("other"), sig));
    RefParty bob("bob");
    EXPECT_FALSE(RefParty::verify_signature(bob.identity_public(), msg, sig));
    EXPECT_FALSE(RefParty::verify_signature(alice.identity_public(), msg, Bytes(63)));
    EXPECT_FALSE(RefParty::verify_signature(Bytes(32), msg, sig));
    const Bytes empty_sig = alice.sign_with_identity({});
    EXPECT_TRUE(RefParty::verify_signature(alice.identity_public(), {}, empty_sig));
}

// libsodium and libsignal-protocol-c both export crypto_hash_sha512. Whichever wins the symbol,
// both libraries must keep working in one binary.
TEST(RefPartySelfTest, CoexistsWithLibsodium) {
    ASSERT_GE(sodium_init(), 0);
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&crypto_hash_sha512), &info) != 0 &&
        info.dli_fname != nullptr) {
        RecordProperty("crypto_hash_sha512_from", info.dli_fname);
        std::printf("crypto_hash_sha512 resolved to %s\n", info.dli_fname);
    }
    // SHA-512("abc"), FIPS 180-2.
    const uint8_t abc[] = {'a', 'b', 'c'};
    uint8_t digest[64];
    ASSERT_EQ(crypto_hash_sha512(digest, abc, sizeof abc), 0);
    const uint8_t expected_prefix[] = {0xdd, 0xaf, 0x35, 0xa1, 0x93, 0x61, 0x7a, 0xba};
    const uint8_t expected_suffix[] = {0x2a, 0x9a, 0xc9, 0x4f, 0xa5, 0x4c, 0xa4, 0x9f};
    EXPECT_TRUE(std::equal(expected_prefix, expected_prefix + 8, digest));
    EXPECT_TRUE(std::equal(expected_suffix, expected_suffix + 8, digest + 56));
    // Multi-block input through the libsodium streaming API and the one-shot symbol.
    std::vector<uint8_t> big(1000, 0x61);
    uint8_t one_shot[64];
    uint8_t streamed[64];
    crypto_hash_sha512(one_shot, big.data(), big.size());
    crypto_hash_sha512_state st;
    crypto_hash_sha512_init(&st);
    crypto_hash_sha512_update(&st, big.data(), 300);
    crypto_hash_sha512_update(&st, big.data() + 300, 700);
    crypto_hash_sha512_final(&st, streamed);
    EXPECT_TRUE(std::equal(one_shot, one_shot + 64, streamed));

    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_keypair(pk, sk);
    const Bytes msg = bytes_of("ed25519 via libsodium");
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, nullptr, msg.data(), msg.size(), sk);
    EXPECT_EQ(crypto_sign_verify_detached(sig, msg.data(), msg.size(), pk), 0);
    sig[5] ^= 0x01;
    EXPECT_NE(crypto_sign_verify_detached(sig, msg.data(), msg.size(), pk), 0);

    // And libsignal's ref10 code (which calls crypto_hash_sha512) still signs and verifies.
    RefParty alice("alice");
    const Bytes s = alice.sign_with_identity(msg);
    EXPECT_TRUE(RefParty::verify_signature(alice.identity_public(), msg, s));
    RefParty bob("bob");
    establish(alice, bob, true);
}

}  // namespace
}  // namespace pp::ref

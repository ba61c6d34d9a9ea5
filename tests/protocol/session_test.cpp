#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "protocol/session_cipher.hpp"

namespace pp::protocol {
namespace {

// A device with its prekeys in memory, answering LocalPreKeys for the responder side.
class Device : public LocalPreKeys {
  public:
    Device()
        : identity_(crypto::KeyPair::generate()), registration_id_(generate_registration_id()) {
        spk_ = generate_signed_prekey(identity_, 7, 0);
        for (auto& pk : generate_prekeys(100, 3)) prekeys_[pk.id] = std::move(pk);
    }
    const IdentityKeyPair& identity() const override { return identity_; }
    std::uint32_t registration_id() const override { return registration_id_; }
    const SignedPreKeyRecord* signed_prekey(std::uint32_t id) const override {
        return id == spk_.id ? &spk_ : nullptr;
    }
    const PreKeyRecord* prekey(std::uint32_t id) const override {
        auto it = prekeys_.find(id);
        return it == prekeys_.end() ? nullptr : &it->second;
    }
    void remove_prekey(std::uint32_t id) { prekeys_.erase(id); }

    PreKeyBundle bundle(bool with_one_time) const {
        return make_bundle(identity_, registration_id_, spk_,
                           with_one_time ? &prekeys_.begin()->second : nullptr);
    }

    SessionRecord session;

  private:
    IdentityKeyPair identity_;
    std::uint32_t registration_id_;
    SignedPreKeyRecord spk_;
    std::map<std::uint32_t, PreKeyRecord> prekeys_;
};

Bytes text(std::string_view s) {
    return Bytes(s.begin(), s.end());
}

Result<Bytes> receive(Device& to, const CiphertextMessage& m) {
    if (m.type == MessageType::kPreKey) {
        auto r = decrypt_prekey_message(to.session, to, m.bytes, std::nullopt);
        if (!r) return r.error();
        if (r->consumed_prekey_id) to.remove_prekey(*r->consumed_prekey_id);
        return r->plaintext;
    }
    return decrypt_signal_message(to.session, m.bytes);
}

class SessionTest : public ::testing::TestWithParam<bool> {};

TEST_P(SessionTest, FirstMessageRepliesAndRatchetTurns) {
    Device alice, bob;
    ASSERT_TRUE(process_prekey_bundle(alice.session, alice.identity(), alice.registration_id(),
                                      bob.bundle(GetParam()), std::nullopt));
    auto m1 = encrypt(alice.session, text("hello bob"));
    ASSERT_TRUE(m1);
    EXPECT_EQ(m1->type, MessageType::kPreKey);
    auto p1 = receive(bob, *m1);
    ASSERT_TRUE(p1) << to_string(p1.error().code);
    EXPECT_EQ(*p1, text("hello bob"));

    for (int round = 0; round < 50; ++round) {
        Device& from = round % 2 ? alice : bob;
        Device& to = round % 2 ? bob : alice;
        for (int i = 0; i < 1 + round % 3; ++i) {
            Bytes msg = text("round " + std::to_string(round) + " msg " + std::to_string(i));
            auto c = encrypt(from.session, msg);
            ASSERT_TRUE(c);
            auto p = receive(to, *c);
            ASSERT_TRUE(p) << to_string(p.error().code);
            EXPECT_EQ(*p, msg);
        }
    }
    // Once Alice heard back she stops sending PreKeySignalMessages.
    EXPECT_EQ(encrypt(alice.session, text("x"))->type, MessageType::kSignal);
}

INSTANTIATE_TEST_SUITE_P(WithAndWithoutOneTimePrekey, SessionTest, ::testing::Bool());

struct Pair {
    Device alice, bob;
    Pair() {
        EXPECT_TRUE(process_prekey_bundle(alice.session, alice.identity(), alice.registration_id(),
                                          bob.bundle(true), std::nullopt));
        auto m = encrypt(alice.session, text("hi"));
        EXPECT_TRUE(receive(bob, *m));
        auto r = encrypt(bob.session, text("hi back"));
        EXPECT_TRUE(receive(alice, *r));
    }
};

TEST(Session, OutOfOrderAndDuplicates) {
    Pair p;
    std::vector<CiphertextMessage> sent;
    for (int i = 0; i < 20; ++i) sent.push_back(*encrypt(p.alice.session, text(std::to_string(i))));
    std::vector<int> order(20);
    for (int i = 0; i < 20; ++i) order[static_cast<std::size_t>(i)] = 19 - i;
    for (int i : order) {
        auto r = receive(p.bob, sent[static_cast<std::size_t>(i)]);
        ASSERT_TRUE(r);
        EXPECT_EQ(*r, text(std::to_string(i)));
    }
    for (auto& m : sent) EXPECT_EQ(receive(p.bob, m).error().code, ErrorCode::kDuplicateMessage);
}

TEST(Session, SkippedAcrossRatchetTurns) {
    Pair p;
    auto a1 = *encrypt(p.alice.session, text("a1"));
    auto a2 = *encrypt(p.alice.session, text("a2"));
    ASSERT_TRUE(receive(p.bob, a2));
    auto b1 = *encrypt(p.bob.session, text("b1"));
    ASSERT_TRUE(receive(p.alice, b1));
    auto a3 = *encrypt(p.alice.session, text("a3"));  // new ratchet key
    ASSERT_TRUE(receive(p.bob, a3));
    auto late = receive(p.bob, a1);  // from the previous chain
    ASSERT_TRUE(late);
    EXPECT_EQ(*late, text("a1"));
}

TEST(Session, TooFarInFutureRejectedStateUntouched) {
    Pair p;
    for (std::uint32_t i = 0; i < kMaxForwardJump + 1; ++i)
        (void)encrypt(p.alice.session, text("skip"));
    auto far = *encrypt(p.alice.session, text("far"));
    auto before = p.bob.session.serialize();
    EXPECT_EQ(receive(p.bob, far).error().code, ErrorCode::kTooFarInFuture);
    auto after = p.bob.session.serialize();
    EXPECT_TRUE(std::equal(before.view().begin(), before.view().end(), after.view().begin(),
                           after.view().end()));
}

TEST(Session, TamperedMessageRejectedStateUntouched) {
    Pair p;
    auto m = *encrypt(p.alice.session, text("important"));
    auto before = p.bob.session.serialize();
    for (std::size_t i = 0; i < m.bytes.size(); ++i) {
        auto bad = m;
        bad.bytes[i] ^= 0x40;
        auto r = receive(p.bob, bad);
        ASSERT_FALSE(r) << "byte " << i;
        if (i == 0) {
            EXPECT_EQ(r.error().code, ErrorCode::kInvalidVersion);
        }
    }
    auto after = p.bob.session.serialize();
    EXPECT_TRUE(std::equal(before.view().begin(), before.view().end(), after.view().begin(),
                           after.view().end()));
    auto ok = receive(p.bob, m);
    ASSERT_TRUE(ok);
    EXPECT_EQ(*ok, text("important"));
}

TEST(Session, MacCoversBothIdentities) {
    Pair p;
    auto m = *encrypt(p.alice.session, text("x"));
    auto& bytes = m.bytes;
    bytes[bytes.size() - 1] ^= 1;  // last MAC byte
    EXPECT_EQ(receive(p.bob, m).error().code, ErrorCode::kBadMac);
}

TEST(Session, UntrustedIdentityRefused) {
    Device alice, bob, mallory;
    auto bundle = bob.bundle(true);
    EXPECT_EQ(process_prekey_bundle(alice.session, alice.identity(), alice.registration_id(),
                                    bundle, mallory.identity().public_key)
                  .error()
                  .code,
              ErrorCode::kUntrustedIdentity);
    EXPECT_FALSE(alice.session.has_current());

    // A server substituting the signed prekey cannot forge the identity's signature.
    bundle.signed_prekey = crypto::KeyPair::generate().public_key;
    EXPECT_EQ(process_prekey_bundle(alice.session, alice.identity(), alice.registration_id(),
                                    bundle, std::nullopt)
                  .error()
                  .code,
              ErrorCode::kInvalidSignature);

    ASSERT_TRUE(process_prekey_bundle(alice.session, alice.identity(), alice.registration_id(),
                                      bob.bundle(true), std::nullopt));
    auto m = *encrypt(alice.session, text("x"));
    auto r = decrypt_prekey_message(bob.session, bob, m.bytes, mallory.identity().public_key);
    EXPECT_EQ(r.error().code, ErrorCode::kUntrustedIdentity);
    EXPECT_FALSE(bob.session.has_current());
}

TEST(Session, RetransmittedPreKeyMessageDecryptsOnce) {
    Device alice, bob;
    ASSERT_TRUE(process_prekey_bundle(alice.session, alice.identity(), alice.registration_id(),
                                      bob.bundle(true), std::nullopt));
    auto m1 = *encrypt(alice.session, text("one"));
    auto m2 = *encrypt(alice.session, text("two"));
    ASSERT_TRUE(receive(bob, m1));
    // The one-time prekey is gone now, yet the second PreKeySignalMessage still decrypts.
    auto r2 = receive(bob, m2);
    ASSERT_TRUE(r2) << to_string(r2.error().code);
    EXPECT_EQ(receive(bob, m1).error().code, ErrorCode::kDuplicateMessage);
}

TEST(Session, UnknownPreKeyIdRejected) {
    Device alice, bob;
    ASSERT_TRUE(process_prekey_bundle(alice.session, alice.identity(), alice.registration_id(),
                                      bob.bundle(true), std::nullopt));
    bob.remove_prekey(*bob.bundle(true).prekey_id);
    auto m = *encrypt(alice.session, text("x"));
    EXPECT_EQ(receive(bob, m).error().code, ErrorCode::kInvalidPreKeyId);
}

// Both start a session at once (each fetched the other's bundle): each side archives one
// session, and messages on either keep decrypting until they settle on one.
TEST(Session, SimultaneousInitiationUsesArchivedSessions) {
    Device alice, bob;
    ASSERT_TRUE(process_prekey_bundle(alice.session, alice.identity(), alice.registration_id(),
                                      bob.bundle(true), std::nullopt));
    ASSERT_TRUE(process_prekey_bundle(bob.session, bob.identity(), bob.registration_id(),
                                      alice.bundle(true), std::nullopt));
    auto from_alice = *encrypt(alice.session, text("alice first"));
    auto from_bob = *encrypt(bob.session, text("bob first"));
    ASSERT_TRUE(receive(bob, from_alice));
    ASSERT_TRUE(receive(alice, from_bob));
    // Each now has the other's session current and its own initiated one archived.
    EXPECT_EQ(alice.session.previous().size(), 1u);
    EXPECT_EQ(bob.session.previous().size(), 1u);

    // Alice's current session is the one Bob started, Bob's the one Alice started. Alice's next
    // message fails on Bob's current session and decrypts on his archived one, which becomes
    // current again.
    const auto base_before = bob.session.current()->alice_base_key;
    auto crossing = *encrypt(alice.session, text("on the session you started"));
    EXPECT_EQ(crossing.type, MessageType::kSignal);
    auto r = receive(bob, crossing);
    ASSERT_TRUE(r) << to_string(r.error().code);
    EXPECT_EQ(*r, text("on the session you started"));
    EXPECT_NE(bob.session.current()->alice_base_key, base_before);
    EXPECT_EQ(bob.session.previous().size(), 1u);

    // From here on the two converge: replies go both ways on the current sessions.
    for (int i = 0; i < 6; ++i) {
        Device& from = i % 2 ? alice : bob;
        Device& to = i % 2 ? bob : alice;
        auto m = *encrypt(from.session, text("settle " + std::to_string(i)));
        auto got = receive(to, m);
        ASSERT_TRUE(got) << i << ": " << to_string(got.error().code);
    }
}

TEST(Session, FailureAcrossArchivedSessionsChangesNothing) {
    Pair p;
    // Give Bob an archived session too.
    Device carol_as_alice;
    SessionRecord spare;
    ASSERT_TRUE(process_prekey_bundle(spare, carol_as_alice.identity(), 1, p.alice.bundle(true),
                                      std::nullopt));
    p.bob.session.promote(*spare.current());
    auto before = p.bob.session.serialize();
    auto m = *encrypt(p.alice.session, text("x"));
    m.bytes.back() ^= 1;
    EXPECT_FALSE(receive(p.bob, m));
    auto after = p.bob.session.serialize();
    EXPECT_TRUE(std::equal(before.view().begin(), before.view().end(), after.view().begin(),
                           after.view().end()));
}

TEST(Session, CountersNeverWrap) {
    Pair p;
    auto* s = p.alice.session.current();
    s->sender_chain = ChainKey(s->sender_chain.key().view(), UINT32_MAX);
    EXPECT_EQ(encrypt(p.alice.session, text("x")).error().code, ErrorCode::kLimitExceeded);
}

TEST(Session, DeserializeRejectsInconsistentRecords) {
    Pair p;
    for (int i = 0; i < 3; ++i) (void)encrypt(p.alice.session, text("skipped"));
    ASSERT_TRUE(receive(p.bob, *encrypt(p.alice.session, text("after"))));
    ASSERT_EQ(p.bob.session.current()->receiver_chains.front().skipped.size(), 3u);

    // Skipped keys stored twice, or not behind their chain, are refused on load.
    SessionRecord dup = p.bob.session;
    auto& chain = dup.current()->receiver_chains.front();
    chain.skipped.push_back(chain.skipped.front());
    EXPECT_EQ(SessionRecord::deserialize(dup.serialize().view()).error().code,
              ErrorCode::kMalformed);
    SessionRecord ahead = p.bob.session;
    auto& chain2 = ahead.current()->receiver_chains.front();
    chain2.chain_key = ChainKey(chain2.chain_key.key().view(), 1);
    EXPECT_EQ(SessionRecord::deserialize(ahead.serialize().view()).error().code,
              ErrorCode::kMalformed);
}

TEST(Session, SerializationRoundTrip) {
    Pair p;
    for (int i = 0; i < 5; ++i) (void)encrypt(p.alice.session, text("skipped"));
    auto m = *encrypt(p.alice.session, text("after skip"));
    auto bytes = p.bob.session.serialize();
    auto restored = SessionRecord::deserialize(bytes.view());
    ASSERT_TRUE(restored) << to_string(restored.error().code);
    auto again = restored->serialize();
    EXPECT_TRUE(std::equal(bytes.view().begin(), bytes.view().end(), again.view().begin(),
                           again.view().end()));
    p.bob.session = std::move(*restored);
    auto r = receive(p.bob, m);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, text("after skip"));
}

TEST(Session, DeserializeRejectsGarbage) {
    Pair p;
    auto bytes = p.bob.session.serialize();
    Bytes v(bytes.view().begin(), bytes.view().end());
    for (std::size_t n = 0; n < v.size(); n += 7)
        EXPECT_FALSE(SessionRecord::deserialize(ByteView(v).first(n)).ok()) << n;
    v[0] = 99;
    EXPECT_EQ(SessionRecord::deserialize(v).error().code, ErrorCode::kInvalidVersion);
}

}  // namespace
}  // namespace pp::protocol

#include "protocol/sender_keys.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/hex.hpp"
#include "crypto/aes_cbc.hpp"
#include "crypto/kdf.hpp"
#include "protocol/proto_codec.hpp"

namespace pp::protocol {
namespace {

Bytes text(std::string_view s) {
    return Bytes(s.begin(), s.end());
}

ErrorCode code_of(const Result<Bytes>& r) {
    return r.error().code;
}

// prefix + decimal n, built by append: a string literal plus std::to_string(n) trips GCC 12's bogus
// -Wrestrict at -O3.
std::string numbered(const char* prefix, int n) {
    std::string s(prefix);
    s += std::to_string(n);
    return s;
}

// A sender with its own record and one receiver that processed the sender's distribution.
struct Group {
    SenderKeyRecord alice;  // Alice's own sending state
    SenderKeyRecord bob;    // Bob's record for Alice

    Group() {
        auto skdm = create_sender_key_distribution(alice);
        EXPECT_TRUE(skdm.ok());
        EXPECT_TRUE(process_sender_key_distribution(bob, ByteView(skdm->serialized)).ok());
    }
    Bytes send(std::string_view s) {
        auto r = group_encrypt(alice, text(s));
        EXPECT_TRUE(r.ok());
        return r.ok() ? *r : Bytes{};
    }
};

std::string hex_of(const SenderKeyRecord& r) {
    return to_hex(r.serialize().view());
}

TEST(SenderMessageKey, DerivesIvFirstThenCipherKey) {
    // HKDF(seed = 32 x 0x00, salt = 32 zero bytes, "WhisperGroup", 48) = iv 16 || key 32.
    SecretArray<32> seed;
    auto k = SenderMessageKey::derive(7, seed.view());
    EXPECT_EQ(k.iteration(), 7u);
    auto okm = crypto::hkdf_sha256(seed.view(), {}, as_bytes("WhisperGroup"), 48);
    EXPECT_EQ(to_hex(k.iv().view()), to_hex(okm.view().first(16)));
    EXPECT_EQ(to_hex(k.cipher_key().view()), to_hex(okm.view().subspan(16, 32)));
}

TEST(SenderChainKey, StepsLikeTheSymmetricRatchet) {
    SecretArray<32> ck;
    ck[0] = 1;
    SenderChainKey c(5, ck.view());
    auto n = c.next();
    EXPECT_EQ(n.iteration(), 6u);
    const std::uint8_t two[1] = {0x02}, one[1] = {0x01};
    EXPECT_EQ(to_hex(n.key().view()),
              to_hex(crypto::hmac_sha256(ck.view(), {ByteView(two, 1)}).view()));
    EXPECT_EQ(to_hex(c.message_seed().view()),
              to_hex(crypto::hmac_sha256(ck.view(), {ByteView(one, 1)}).view()));
    EXPECT_EQ(c.message_key().iteration(), 5u);
}

TEST(SenderKeys, DistributionCreatesOwnStateOnce) {
    SenderKeyRecord own;
    auto first = create_sender_key_distribution(own);
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(first->iteration, 0u);
    EXPECT_LE(first->key_id, kMaxSenderKeyId);
    ASSERT_EQ(own.states().size(), 1u);
    EXPECT_TRUE(own.current()->signing_private().has_value());
    auto second = create_sender_key_distribution(own);
    ASSERT_TRUE(second.ok());
    EXPECT_EQ(second->key_id, first->key_id);
    EXPECT_EQ(second->serialized, first->serialized);
}

TEST(SenderKeys, DistributionReflectsCurrentIteration) {
    Group g;
    g.send("one");
    g.send("two");
    auto skdm = create_sender_key_distribution(g.alice);
    ASSERT_TRUE(skdm.ok());
    EXPECT_EQ(skdm->iteration, 2u);
}

TEST(SenderKeys, RoundTripInOrder) {
    Group g;
    for (int i = 0; i < 5; ++i) {
        std::string msg = numbered("message ", i);
        auto ct = g.send(msg);
        auto pt = group_decrypt(g.bob, ct);
        ASSERT_TRUE(pt.ok()) << to_string(pt.error().code);
        EXPECT_EQ(*pt, text(msg));
    }
    EXPECT_EQ(g.bob.current()->chain_key().iteration(), 5u);
    EXPECT_TRUE(g.bob.current()->skipped_keys().empty());
}

TEST(SenderKeys, EmptyPlaintext) {
    Group g;
    auto pt = group_decrypt(g.bob, g.send(""));
    ASSERT_TRUE(pt.ok());
    EXPECT_TRUE(pt->empty());
}

TEST(SenderKeys, LargestPlaintextStillFitsAMessage) {
    Group g;
    Bytes big(kMaxGroupPlaintextSize, 0xab);
    auto ct = group_encrypt(g.alice, big);
    ASSERT_TRUE(ct.ok());
    auto pt = group_decrypt(g.bob, *ct);
    ASSERT_TRUE(pt.ok()) << to_string(pt.error().code);
    EXPECT_EQ(*pt, big);
    big.push_back(0);
    EXPECT_EQ(code_of(group_encrypt(g.alice, big)), ErrorCode::kLimitExceeded);
}

TEST(SenderKeys, ReceiverCannotEncrypt) {
    Group g;
    EXPECT_EQ(code_of(group_encrypt(g.bob, text("x"))), ErrorCode::kInvalidKey);
    SenderKeyRecord empty;
    EXPECT_EQ(code_of(group_encrypt(empty, text("x"))), ErrorCode::kNoSession);
    EXPECT_EQ(create_sender_key_distribution(g.bob).error().code, ErrorCode::kInvalidKey);
}

TEST(SenderKeys, OutOfOrderAndDuplicates) {
    Group g;
    std::vector<Bytes> cts;
    for (int i = 0; i < 6; ++i) cts.push_back(g.send(numbered("m", i)));
    for (int i : {5, 0, 3, 1, 4, 2}) {
        auto pt = group_decrypt(g.bob, cts[static_cast<std::size_t>(i)]);
        ASSERT_TRUE(pt.ok()) << i;
        EXPECT_EQ(*pt, text(numbered("m", i)));
    }
    EXPECT_TRUE(g.bob.current()->skipped_keys().empty());
    for (const auto& ct : cts) {
        std::string before = hex_of(g.bob);
        EXPECT_EQ(code_of(group_decrypt(g.bob, ct)), ErrorCode::kDuplicateMessage);
        EXPECT_EQ(hex_of(g.bob), before);
    }
}

TEST(SenderKeys, ImmediateDuplicateIsRejected) {
    Group g;
    auto ct = g.send("hello");
    ASSERT_TRUE(group_decrypt(g.bob, ct).ok());
    EXPECT_EQ(code_of(group_decrypt(g.bob, ct)), ErrorCode::kDuplicateMessage);
}

TEST(SenderKeys, ForwardJumpLimit) {
    Group g;
    SenderKeyRecord bob_copy = g.bob;
    std::vector<Bytes> cts;
    for (std::uint32_t i = 0; i <= kMaxSenderKeyForwardJump + 1; ++i) cts.push_back(g.send("x"));
    // Exactly kMaxSenderKeyForwardJump ahead is accepted (as the reference does) ...
    auto ok = group_decrypt(g.bob, cts[kMaxSenderKeyForwardJump]);
    ASSERT_TRUE(ok.ok());
    EXPECT_EQ(g.bob.current()->skipped_keys().size(), kMaxSenderMessageKeys);
    ASSERT_TRUE(group_decrypt(g.bob, cts[0]).ok());
    // ... one more is not, and leaves the record as it was.
    std::string before = hex_of(bob_copy);
    EXPECT_EQ(code_of(group_decrypt(bob_copy, cts[kMaxSenderKeyForwardJump + 1])),
              ErrorCode::kTooFarInFuture);
    EXPECT_EQ(hex_of(bob_copy), before);
}

TEST(SenderKeys, SkippedKeysAreBoundedOldestDropped) {
    Group g;
    std::vector<Bytes> cts;
    for (std::uint32_t i = 0; i < kMaxSenderMessageKeys + 11; ++i) cts.push_back(g.send("x"));
    ASSERT_TRUE(group_decrypt(g.bob, cts[10]).ok());     // stores 0..9
    ASSERT_TRUE(group_decrypt(g.bob, cts.back()).ok());  // stores 11..2009: 2009 in all
    const auto& skipped = g.bob.current()->skipped_keys();
    ASSERT_EQ(skipped.size(), kMaxSenderMessageKeys);
    EXPECT_EQ(skipped.front().iteration, 9u);  // 0..8 dropped
    EXPECT_EQ(code_of(group_decrypt(g.bob, cts[8])), ErrorCode::kDuplicateMessage);
    EXPECT_TRUE(group_decrypt(g.bob, cts[9]).ok());
    EXPECT_TRUE(group_decrypt(g.bob, cts[11]).ok());
}

TEST(SenderKeys, UnknownKeyIdIsNoSession) {
    Group g;
    SenderKeyRecord other;
    (void)create_sender_key_distribution(other);
    auto ct = group_encrypt(other, text("x"));
    ASSERT_TRUE(ct.ok());
    EXPECT_EQ(code_of(group_decrypt(g.bob, *ct)), ErrorCode::kNoSession);
    SenderKeyRecord empty;
    EXPECT_EQ(code_of(group_decrypt(empty, *ct)), ErrorCode::kNoSession);
}

TEST(SenderKeys, TamperingIsDetectedAndLeavesStateUnchanged) {
    Group g;
    auto ct = g.send("attack at dawn");
    std::string before = hex_of(g.bob);
    // Flip a bit in the (single-block) ciphertext and in the signature.
    for (std::size_t pos : {ct.size() - 70, ct.size() - 1, ct.size() - 40}) {
        Bytes bad = ct;
        bad[pos] ^= 0x01;
        auto r = group_decrypt(g.bob, bad);
        ASSERT_FALSE(r.ok()) << pos;
        EXPECT_EQ(r.error().code, ErrorCode::kInvalidSignature) << pos;
        EXPECT_EQ(hex_of(g.bob), before);
    }
    // A message signed by someone else under the same key id and iteration.
    auto forged = SenderKeyMessage::build(g.alice.current()->key_id(), 0, Bytes(16, 0),
                                          crypto::PrivateKey::generate());
    EXPECT_EQ(code_of(group_decrypt(g.bob, forged.serialized)), ErrorCode::kInvalidSignature);
    EXPECT_EQ(hex_of(g.bob), before);
    auto pt = group_decrypt(g.bob, ct);
    ASSERT_TRUE(pt.ok());
    EXPECT_EQ(*pt, text("attack at dawn"));
}

// The message key a receiver's current state derives for `iteration`.
SenderMessageKey message_key_at(const SenderKeyRecord& rec, std::uint32_t iteration) {
    SenderChainKey chain = rec.current()->chain_key();
    while (chain.iteration() < iteration) chain = chain.next();
    return chain.message_key();
}

// A ciphertext under the real message key whose padding is invalid for certain: a whole block
// of plaintext gets a final block of sixteen 0x10 bytes; flipping bit 0 of the previous
// ciphertext block turns the last padding byte into 0x11, which no PKCS#7 padding can be.
Bytes bad_padding_ciphertext(const SenderMessageKey& key) {
    Bytes ct =
        crypto::aes256_cbc_encrypt(key.cipher_key().view(), key.iv().view(), Bytes(16, 0x61));
    EXPECT_EQ(ct.size(), 32u);
    ct[15] ^= 0x01;
    return ct;
}

TEST(SenderKeys, ValidSignatureBadPaddingLeavesStateUnchanged) {
    Group g;
    const auto& signer = *g.alice.current()->signing_private();
    const std::uint32_t id = g.alice.current()->key_id();
    // Signed with the real key, but the ciphertext does not decrypt under the message key.
    auto bad_padding =
        SenderKeyMessage::build(id, 3, bad_padding_ciphertext(message_key_at(g.bob, 3)), signer);
    auto not_blocks = SenderKeyMessage::build(id, 3, Bytes(33, 0x42), signer);
    std::string before = hex_of(g.bob);
    for (const auto* bad : {&bad_padding, &not_blocks}) {
        auto r = group_decrypt(g.bob, bad->serialized);
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().code, ErrorCode::kMalformed);
        EXPECT_EQ(hex_of(g.bob), before);
    }

    // The same for a late message, whose stored key must survive the failure.
    std::vector<Bytes> cts;
    for (int i = 0; i < 4; ++i) cts.push_back(g.send(numbered("m", i)));
    ASSERT_TRUE(group_decrypt(g.bob, cts[3]).ok());  // Bob stores keys 0..2
    auto late_key = SenderMessageKey::derive(1, g.bob.current()->skipped_keys()[1].seed.view());
    auto late_bad = SenderKeyMessage::build(id, 1, bad_padding_ciphertext(late_key), signer);
    before = hex_of(g.bob);
    EXPECT_EQ(code_of(group_decrypt(g.bob, late_bad.serialized)), ErrorCode::kMalformed);
    EXPECT_EQ(hex_of(g.bob), before);
    EXPECT_EQ(*group_decrypt(g.bob, cts[1]), text("m1"));
    EXPECT_EQ(g.bob.current()->skipped_keys().size(), 2u);
    EXPECT_EQ(code_of(group_decrypt(g.bob, cts[1])), ErrorCode::kDuplicateMessage);
}

TEST(SenderKeys, ChainStopsBeforeIterationWraps) {
    constexpr std::uint32_t kLast = 0xffffffff;
    SecretArray<32> chain_key;
    chain_key.span()[0] = 1;
    auto signing = crypto::KeyPair::generate();
    SenderKeyRecord alice;
    alice.set_state(SenderKeyState(42, SenderChainKey(kLast - 1, chain_key.view()),
                                   signing.public_key, std::move(signing.private_key)));
    auto skdm = create_sender_key_distribution(alice);
    ASSERT_TRUE(skdm.ok());
    EXPECT_EQ(skdm->iteration, kLast - 1);
    SenderKeyRecord bob, carol;
    ASSERT_TRUE(process_sender_key_distribution(bob, *skdm).ok());
    ASSERT_TRUE(process_sender_key_distribution(carol, *skdm).ok());

    // The sender uses iteration 2^32 - 2, then refuses: 2^32 - 1 would step the chain to 0.
    auto last = group_encrypt(alice, text("last"));
    ASSERT_TRUE(last.ok());
    EXPECT_EQ(alice.current()->chain_key().iteration(), kLast);
    std::string alice_before = hex_of(alice);
    EXPECT_EQ(code_of(group_encrypt(alice, text("wrap"))), ErrorCode::kLimitExceeded);
    EXPECT_EQ(hex_of(alice), alice_before);
    // Also after a round trip through the record format.
    auto restored = SenderKeyRecord::deserialize(alice.serialize().view());
    ASSERT_TRUE(restored.ok());
    EXPECT_EQ(restored->current()->chain_key().iteration(), kLast);
    EXPECT_EQ(code_of(group_encrypt(*restored, text("wrap"))), ErrorCode::kLimitExceeded);

    // Receivers refuse a (validly signed) message at iteration 2^32 - 1, whether their chain
    // is there already or one behind.
    EXPECT_EQ(*group_decrypt(bob, *last), text("last"));
    EXPECT_EQ(bob.current()->chain_key().iteration(), kLast);
    auto wrap =
        SenderKeyMessage::build(42, kLast, Bytes(16, 0), *alice.current()->signing_private());
    for (SenderKeyRecord* rec : {&bob, &carol}) {
        std::string before = hex_of(*rec);
        EXPECT_EQ(code_of(group_decrypt(*rec, wrap.serialized)), ErrorCode::kLimitExceeded);
        EXPECT_EQ(hex_of(*rec), before);
    }
    EXPECT_EQ(*group_decrypt(carol, *last), text("last"));
}

TEST(SenderKeys, GarbageMessages) {
    Group g;
    EXPECT_EQ(code_of(group_decrypt(g.bob, Bytes{})), ErrorCode::kMalformed);
    EXPECT_EQ(code_of(group_decrypt(g.bob, Bytes(70, 0x33))), ErrorCode::kMalformed);
    auto ct = g.send("x");
    ct[0] = 0x23;
    EXPECT_EQ(code_of(group_decrypt(g.bob, ct)), ErrorCode::kInvalidVersion);
}

TEST(SenderKeys, RotationStartsANewChainOldMembersCannotFollow) {
    Group g;
    SenderKeyRecord carol;  // stays in the group
    auto skdm = create_sender_key_distribution(g.alice);
    ASSERT_TRUE(process_sender_key_distribution(carol, ByteView(skdm->serialized)).ok());
    auto old_ct = g.send("before");
    std::uint32_t old_id = g.alice.current()->key_id();

    auto fresh = rotate_sender_key(g.alice);  // Bob leaves
    EXPECT_NE(fresh.key_id, old_id);
    EXPECT_EQ(fresh.iteration, 0u);
    EXPECT_EQ(g.alice.states().size(), 1u);
    ASSERT_TRUE(process_sender_key_distribution(carol, ByteView(fresh.serialized)).ok());
    EXPECT_EQ(carol.states().size(), 2u);
    EXPECT_EQ(carol.current()->key_id(), fresh.key_id);

    auto new_ct = g.send("after");
    EXPECT_EQ(code_of(group_decrypt(g.bob, new_ct)), ErrorCode::kNoSession);
    EXPECT_EQ(*group_decrypt(carol, new_ct), text("after"));
    // A message sent before the rotation still decrypts with the older state.
    EXPECT_EQ(*group_decrypt(carol, old_ct), text("before"));
}

TEST(SenderKeys, RecordKeepsAtMostFiveStatesNewestFirst) {
    SenderKeyRecord rec;
    std::vector<std::uint32_t> ids;
    for (int i = 0; i < 7; ++i) {
        SenderKeyRecord sender;
        auto skdm = rotate_sender_key(sender);
        ids.push_back(skdm.key_id);
        ASSERT_TRUE(process_sender_key_distribution(rec, skdm).ok());
    }
    ASSERT_EQ(rec.states().size(), kMaxSenderKeyStates);
    EXPECT_EQ(rec.states().front().key_id(), ids.back());
    EXPECT_EQ(rec.find(ids[0]), nullptr);
    EXPECT_EQ(rec.find(ids[1]), nullptr);
    EXPECT_NE(rec.find(ids[2]), nullptr);
}

TEST(SenderKeys, ReplayedDistributionDoesNotRewindTheChain) {
    Group g;
    auto skdm0 = *create_sender_key_distribution(g.alice);
    auto ct = g.send("once");
    ASSERT_TRUE(group_decrypt(g.bob, ct).ok());
    ASSERT_TRUE(process_sender_key_distribution(g.bob, ByteView(skdm0.serialized)).ok());
    EXPECT_EQ(g.bob.states().size(), 1u);
    EXPECT_EQ(code_of(group_decrypt(g.bob, ct)), ErrorCode::kDuplicateMessage);
}

TEST(SenderKeys, DistributionWithSameIdButNewSigningKeyReplacesState) {
    Group g;
    auto skdm = *create_sender_key_distribution(g.alice);
    auto other = crypto::KeyPair::generate();
    auto replaced = SenderKeyDistributionMessage::build(skdm.key_id, 0, skdm.chain_key.view(),
                                                        other.public_key);
    ASSERT_TRUE(process_sender_key_distribution(g.bob, replaced).ok());
    ASSERT_EQ(g.bob.states().size(), 1u);
    EXPECT_EQ(g.bob.current()->signing_public(), other.public_key);
    EXPECT_EQ(code_of(group_decrypt(g.bob, g.send("x"))), ErrorCode::kInvalidSignature);
}

TEST(SenderKeys, BadDistributionMessage) {
    SenderKeyRecord rec;
    EXPECT_FALSE(process_sender_key_distribution(rec, ByteView(Bytes{0x33, 0x08})).ok());
    EXPECT_TRUE(rec.empty());
}

// --- Serialization ---

TEST(SenderKeyRecordCodec, RoundTripOwnAndReceived) {
    Group g;
    std::vector<Bytes> cts;
    for (int i = 0; i < 10; ++i) cts.push_back(g.send(numbered("m", i)));
    ASSERT_TRUE(group_decrypt(g.bob, cts[7]).ok());  // Bob stores keys 0..6

    for (const SenderKeyRecord* rec : {&g.alice, &g.bob}) {
        auto bytes = rec->serialize();
        EXPECT_EQ(bytes.view()[0], kSenderKeyRecordFormat);
        auto back = SenderKeyRecord::deserialize(bytes.view());
        ASSERT_TRUE(back.ok()) << to_string(back.error().code) << " " << back.error().detail;
        EXPECT_EQ(to_hex(back->serialize().view()), to_hex(bytes.view()));
    }
    auto alice2 = *SenderKeyRecord::deserialize(g.alice.serialize().view());
    auto bob2 = *SenderKeyRecord::deserialize(g.bob.serialize().view());
    EXPECT_EQ(bob2.current()->skipped_keys().size(), 7u);
    EXPECT_FALSE(bob2.current()->signing_private().has_value());
    EXPECT_EQ(*group_decrypt(bob2, cts[3]), text("m3"));
    EXPECT_EQ(*group_decrypt(bob2, cts[9]), text("m9"));
    auto ct = group_encrypt(alice2, text("after restore"));
    ASSERT_TRUE(ct.ok());
    EXPECT_EQ(*group_decrypt(bob2, *ct), text("after restore"));
}

TEST(SenderKeyRecordCodec, EmptyRecord) {
    SenderKeyRecord empty;
    auto bytes = empty.serialize();
    ASSERT_EQ(bytes.size(), 1u);
    auto back = SenderKeyRecord::deserialize(bytes.view());
    ASSERT_TRUE(back.ok());
    EXPECT_TRUE(back->empty());
}

TEST(SenderKeyRecordCodec, RejectsTruncationAndGarbage) {
    Group g;
    for (int i = 0; i < 3; ++i) g.send("x");
    (void)group_decrypt(g.bob, g.send("y"));
    for (const SenderKeyRecord* rec : {&g.alice, &g.bob}) {
        auto bytes = rec->serialize();
        ByteView all = bytes.view();
        for (std::size_t n = 2; n < all.size(); ++n) {
            auto r = SenderKeyRecord::deserialize(all.first(n));
            EXPECT_FALSE(r.ok()) << n;
            if (!r.ok()) {
                EXPECT_EQ(r.error().code, ErrorCode::kMalformed) << n;
            }
        }
    }
    EXPECT_EQ(SenderKeyRecord::deserialize(Bytes{}).error().code, ErrorCode::kMalformed);
    EXPECT_EQ(SenderKeyRecord::deserialize(Bytes{2}).error().code, ErrorCode::kInvalidVersion);
    EXPECT_EQ(SenderKeyRecord::deserialize(Bytes{1, 0xff, 0xff}).error().code,
              ErrorCode::kMalformed);
    EXPECT_EQ(SenderKeyRecord::deserialize(Bytes{1, 0x08, 0x01}).error().code,
              ErrorCode::kMalformed);
}

// Hand-built records exercising each strictness rule.
Bytes state_bytes(std::uint32_t id, std::uint32_t iteration, std::size_t chain_len,
                  std::vector<std::pair<std::uint32_t, std::size_t>> skipped = {},
                  bool extra_field = false) {
    proto::Writer w;
    w.varint_field(1, id);
    w.varint_field(2, iteration);
    w.bytes_field(3, Bytes(chain_len, 7));
    w.bytes_field(4, crypto::KeyPair::generate().public_key.serialize());
    for (auto [it, seed_len] : skipped) {
        proto::Writer s;
        s.varint_field(1, it);
        s.bytes_field(2, Bytes(seed_len, 9));
        w.bytes_field(6, s.bytes());
    }
    if (extra_field) w.varint_field(9, 1);
    return w.take();
}

Result<SenderKeyRecord> record_of(const std::vector<Bytes>& states) {
    proto::Writer w;
    for (const auto& s : states) w.bytes_field(1, s);
    Bytes out{kSenderKeyRecordFormat};
    append(out, w.bytes());
    return SenderKeyRecord::deserialize(out);
}

TEST(SenderKeyRecordCodec, StrictRules) {
    EXPECT_TRUE(record_of({state_bytes(1, 5, 32, {{1, 32}, {3, 32}})}).ok());
    auto malformed = [](const Result<SenderKeyRecord>& r) {
        return !r.ok() && r.error().code == ErrorCode::kMalformed;
    };
    EXPECT_TRUE(malformed(record_of({state_bytes(1, 5, 31)})));                      // short key
    EXPECT_TRUE(malformed(record_of({state_bytes(1, 5, 32, {{1, 33}})})));           // long seed
    EXPECT_TRUE(malformed(record_of({state_bytes(1, 5, 32, {{5, 32}})})));           // not behind
    EXPECT_TRUE(malformed(record_of({state_bytes(1, 5, 32, {{3, 32}, {2, 32}})})));  // order
    EXPECT_TRUE(malformed(record_of({state_bytes(1, 5, 32, {}, true)})));            // unknown
    EXPECT_TRUE(malformed(record_of({state_bytes(1, 5, 32), state_bytes(1, 6, 32)})));  // dup id
    std::vector<Bytes> six;
    for (std::uint32_t i = 0; i < kMaxSenderKeyStates; ++i) six.push_back(state_bytes(i, 0, 32));
    EXPECT_TRUE(record_of(six).ok());
    six.push_back(state_bytes(99, 0, 32));
    EXPECT_TRUE(malformed(record_of(six)));
    std::vector<std::pair<std::uint32_t, std::size_t>> many;
    for (std::uint32_t i = 0; i <= kMaxSenderMessageKeys; ++i) many.emplace_back(i, 32);
    EXPECT_TRUE(malformed(record_of({state_bytes(1, 5000, 32, many)})));
    many.pop_back();
    EXPECT_TRUE(record_of({state_bytes(1, 5000, 32, many)}).ok());
}

TEST(SenderKeyRecordCodec, RejectsMismatchedSigningKeyPair) {
    SenderKeyRecord own;
    (void)create_sender_key_distribution(own);
    auto bytes = own.serialize();
    Bytes b(bytes.view().begin(), bytes.view().end());
    b[b.size() - 1] ^=
        0x01;  // the private key is the last field; bit 0 of byte 31 survives clamping
    auto r = SenderKeyRecord::deserialize(b);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kMalformed);
}

}  // namespace
}  // namespace pp::protocol

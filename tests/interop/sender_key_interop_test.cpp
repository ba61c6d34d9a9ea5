// Sender Keys between our implementation and libsignal-protocol-c: distribution messages and
// group messages both ways, disorder, duplicates, the forward-jump bound, tampering, rotation.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/sender_keys.hpp"
#include "tests/interop/ref_party.hpp"

namespace pp::interop {
namespace {

using protocol::SenderKeyRecord;

const std::string kGroup = "group-1";

// prefix + decimal n, built by append: a string literal plus std::to_string(n) trips GCC 12's
// bogus -Wrestrict at -O3.
ref::Bytes numbered(const char* prefix, std::size_t n) {
    std::string s(prefix);
    s += std::to_string(n);
    return ref::Bytes(s.begin(), s.end());
}

// The reference ("alice") sends to our member, who holds a record for her.
struct RefSends {
    ref::RefParty alice{"alice"};
    SenderKeyRecord ours;  // our record for alice in kGroup

    RefSends() {
        ref::Bytes skdm;
        EXPECT_EQ(alice.create_sender_key_distribution(kGroup, skdm), ref::kSuccess);
        auto r = protocol::process_sender_key_distribution(ours, ByteView(skdm));
        EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().detail);
    }
    std::vector<ref::Bytes> send(std::size_t n, const char* prefix = "m") {
        std::vector<ref::Bytes> cts(n);
        for (std::size_t i = 0; i < n; ++i)
            EXPECT_EQ(alice.group_encrypt(kGroup, numbered(prefix, i), cts[i]), ref::kSuccess);
        return cts;
    }
};

// Our member ("ours") sends to the reference ("bob"), who processed our distribution message.
struct WeSend {
    SenderKeyRecord own;
    ref::RefParty bob{"bob"};

    WeSend() {
        auto skdm = protocol::create_sender_key_distribution(own);
        EXPECT_TRUE(skdm.ok());
        EXPECT_EQ(bob.process_sender_key_distribution(kGroup, "ours", skdm->serialized),
                  ref::kSuccess)
            << bob.last_log();
    }
    std::vector<ref::Bytes> send(std::size_t n, const char* prefix = "m") {
        std::vector<ref::Bytes> cts;
        for (std::size_t i = 0; i < n; ++i) {
            auto ct = protocol::group_encrypt(own, numbered(prefix, i));
            EXPECT_TRUE(ct.ok());
            cts.push_back(ct.ok() ? *ct : ref::Bytes{});
        }
        return cts;
    }
    int receive(const ref::Bytes& ct, ref::Bytes& pt) {
        return bob.group_decrypt(kGroup, "ours", ct, pt);
    }
};

TEST(SenderKeyInterop, DistributionMessageFieldsMatch) {
    ref::RefParty alice("alice");
    ref::Bytes skdm;
    ASSERT_EQ(alice.create_sender_key_distribution(kGroup, skdm), ref::kSuccess);
    auto parsed = protocol::SenderKeyDistributionMessage::parse(skdm);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->iteration, 0u);
    EXPECT_LE(parsed->key_id, protocol::kMaxSenderKeyId);
    // Re-building from the parsed fields gives the reference's bytes exactly.
    auto rebuilt = protocol::SenderKeyDistributionMessage::build(
        parsed->key_id, parsed->iteration, parsed->chain_key.view(), parsed->signing_key);
    EXPECT_EQ(rebuilt.serialized, skdm);
}

TEST(SenderKeyInterop, RefToUsInOrder) {
    RefSends g;
    auto cts = g.send(20);
    for (std::size_t i = 0; i < cts.size(); ++i) {
        auto pt = protocol::group_decrypt(g.ours, cts[i]);
        ASSERT_TRUE(pt.ok()) << i << ": " << to_string(pt.error().code);
        EXPECT_EQ(*pt, numbered("m", i));
    }
}

TEST(SenderKeyInterop, UsToRefInOrder) {
    WeSend g;
    auto cts = g.send(20);
    for (std::size_t i = 0; i < cts.size(); ++i) {
        ref::Bytes pt;
        ASSERT_EQ(g.receive(cts[i], pt), ref::kSuccess) << i << ": " << g.bob.last_log();
        EXPECT_EQ(pt, numbered("m", i));
    }
}

TEST(SenderKeyInterop, RefToUsOutOfOrderAndDuplicates) {
    RefSends g;
    auto cts = g.send(10);
    for (std::size_t i : {9u, 2u, 0u, 5u, 1u, 8u, 3u, 7u, 4u, 6u}) {
        auto pt = protocol::group_decrypt(g.ours, cts[i]);
        ASSERT_TRUE(pt.ok()) << i;
        EXPECT_EQ(*pt, numbered("m", i));
    }
    for (std::size_t i : {0u, 6u, 9u}) {
        auto pt = protocol::group_decrypt(g.ours, cts[i]);
        ASSERT_FALSE(pt.ok());
        EXPECT_EQ(pt.error().code, ErrorCode::kDuplicateMessage);
    }
}

TEST(SenderKeyInterop, UsToRefOutOfOrderAndDuplicates) {
    WeSend g;
    auto cts = g.send(10);
    ref::Bytes pt;
    for (std::size_t i : {9u, 2u, 0u, 5u, 1u, 8u, 3u, 7u, 4u, 6u}) {
        ASSERT_EQ(g.receive(cts[i], pt), ref::kSuccess) << i << ": " << g.bob.last_log();
        EXPECT_EQ(pt, numbered("m", i));
    }
    for (std::size_t i : {0u, 6u, 9u}) EXPECT_EQ(g.receive(cts[i], pt), ref::kErrDuplicateMessage);
}

TEST(SenderKeyInterop, EmptyAndLargePlaintexts) {
    RefSends a;
    WeSend b;
    for (std::size_t size : {0u, 1u, 15u, 16u, 17u, 10000u}) {
        ref::Bytes msg(size);
        for (std::size_t i = 0; i < size; ++i) msg[i] = static_cast<std::uint8_t>(i * 7 + 1);
        ref::Bytes ct;
        ASSERT_EQ(a.alice.group_encrypt(kGroup, msg, ct), ref::kSuccess);
        auto pt = protocol::group_decrypt(a.ours, ct);
        ASSERT_TRUE(pt.ok()) << size;
        EXPECT_EQ(*pt, msg);

        auto ours = protocol::group_encrypt(b.own, msg);
        ASSERT_TRUE(ours.ok());
        ref::Bytes ref_pt;
        ASSERT_EQ(b.receive(*ours, ref_pt), ref::kSuccess) << size << ": " << b.bob.last_log();
        EXPECT_EQ(ref_pt, msg);
    }
}

TEST(SenderKeyInterop, LateJoinerGetsCurrentIteration) {
    // Each side's distribution message after some traffic starts at the current iteration.
    RefSends a;
    auto early = a.send(3);
    ref::Bytes skdm;
    ASSERT_EQ(a.alice.create_sender_key_distribution(kGroup, skdm), ref::kSuccess);
    SenderKeyRecord late;
    ASSERT_TRUE(protocol::process_sender_key_distribution(late, ByteView(skdm)).ok());
    EXPECT_EQ(late.current()->chain_key().iteration(), 3u);
    EXPECT_EQ(protocol::group_decrypt(late, early[0]).error().code, ErrorCode::kDuplicateMessage);
    auto next = a.send(1, "late");
    EXPECT_EQ(*protocol::group_decrypt(late, next[0]), numbered("late", 0));

    WeSend b;
    auto ours_early = b.send(3);
    auto our_skdm = protocol::create_sender_key_distribution(b.own);
    ASSERT_TRUE(our_skdm.ok());
    ref::RefParty carol("carol");
    ASSERT_EQ(carol.process_sender_key_distribution(kGroup, "ours", our_skdm->serialized),
              ref::kSuccess);
    ref::Bytes pt;
    EXPECT_EQ(carol.group_decrypt(kGroup, "ours", ours_early[0], pt), ref::kErrDuplicateMessage);
    auto ours_next = b.send(1, "late");
    ASSERT_EQ(carol.group_decrypt(kGroup, "ours", ours_next[0], pt), ref::kSuccess);
    EXPECT_EQ(pt, numbered("late", 0));
}

TEST(SenderKeyInterop, ForwardJumpBoundAgreesBothWays) {
    const std::size_t n = protocol::kMaxSenderKeyForwardJump + 2;
    {
        RefSends g;
        auto cts = g.send(n);
        SenderKeyRecord copy = g.ours;
        EXPECT_EQ(protocol::group_decrypt(copy, cts[n - 1]).error().code,
                  ErrorCode::kTooFarInFuture);
        EXPECT_TRUE(protocol::group_decrypt(g.ours, cts[n - 2]).ok());
        EXPECT_TRUE(protocol::group_decrypt(g.ours, cts[0]).ok());
    }
    {
        WeSend g;
        auto cts = g.send(n);
        ref::Bytes pt;
        EXPECT_EQ(g.receive(cts[n - 1], pt), ref::kErrInvalidMessage);
        EXPECT_EQ(g.receive(cts[n - 2], pt), ref::kSuccess) << g.bob.last_log();
        EXPECT_EQ(g.receive(cts[0], pt), ref::kSuccess) << g.bob.last_log();
    }
}

TEST(SenderKeyInterop, TamperedMessagesRejectedBothWays) {
    RefSends a;
    auto theirs = a.send(1)[0];
    WeSend b;
    auto ours = b.send(1)[0];
    for (std::size_t back : {1u, 30u, 64u + 5u}) {  // signature bytes, then ciphertext
        ref::Bytes bad = theirs;
        bad[bad.size() - back] ^= 0x01;
        auto r = protocol::group_decrypt(a.ours, bad);
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().code, ErrorCode::kInvalidSignature) << back;

        ref::Bytes bad_ours = ours;
        bad_ours[bad_ours.size() - back] ^= 0x01;
        ref::Bytes pt;
        EXPECT_EQ(b.receive(bad_ours, pt), ref::kErrInvalidMessage) << back;
    }
    // The untampered messages still decrypt: nothing was consumed.
    EXPECT_TRUE(protocol::group_decrypt(a.ours, theirs).ok());
    ref::Bytes pt;
    EXPECT_EQ(b.receive(ours, pt), ref::kSuccess);
}

TEST(SenderKeyInterop, RotationIsFollowedByRefAndOldStateKept) {
    WeSend g;
    ref::RefParty removed("removed");
    auto skdm0 = protocol::create_sender_key_distribution(g.own);
    ASSERT_TRUE(skdm0.ok());
    ASSERT_EQ(removed.process_sender_key_distribution(kGroup, "ours", skdm0->serialized),
              ref::kSuccess);
    auto before = g.send(2, "old");
    auto fresh = protocol::rotate_sender_key(g.own);
    ASSERT_EQ(g.bob.process_sender_key_distribution(kGroup, "ours", fresh.serialized),
              ref::kSuccess);
    auto after = g.send(2, "new");
    ref::Bytes pt;
    ASSERT_EQ(g.receive(after[1], pt), ref::kSuccess) << g.bob.last_log();
    EXPECT_EQ(pt, numbered("new", 1));
    // The reference keeps the previous state, so messages from before the rotation decrypt too.
    ASSERT_EQ(g.receive(before[0], pt), ref::kSuccess) << g.bob.last_log();
    EXPECT_EQ(pt, numbered("old", 0));
    // A member who only had the old key cannot read the new chain. (The reference reports an
    // unknown key id as an invalid message; we report kNoSession.)
    ASSERT_EQ(removed.group_decrypt(kGroup, "ours", before[1], pt), ref::kSuccess);
    EXPECT_EQ(removed.group_decrypt(kGroup, "ours", after[0], pt), ref::kErrInvalidMessage);
}

TEST(SenderKeyInterop, ThreeMembersMixed) {
    // alice (reference) and us both send; bob (reference) and we both receive.
    ref::RefParty alice("alice"), bob("bob");
    SenderKeyRecord own, from_alice;
    ref::Bytes alice_skdm;
    ASSERT_EQ(alice.create_sender_key_distribution(kGroup, alice_skdm), ref::kSuccess);
    ASSERT_EQ(bob.process_sender_key_distribution(kGroup, "alice", alice_skdm), ref::kSuccess);
    ASSERT_TRUE(protocol::process_sender_key_distribution(from_alice, ByteView(alice_skdm)).ok());
    auto our_skdm = *protocol::create_sender_key_distribution(own);
    ASSERT_EQ(alice.process_sender_key_distribution(kGroup, "ours", our_skdm.serialized),
              ref::kSuccess);
    ASSERT_EQ(bob.process_sender_key_distribution(kGroup, "ours", our_skdm.serialized),
              ref::kSuccess);
    for (std::size_t round = 0; round < 5; ++round) {
        ref::Bytes a_ct, pt;
        ASSERT_EQ(alice.group_encrypt(kGroup, numbered("a", round), a_ct), ref::kSuccess);
        ASSERT_EQ(bob.group_decrypt(kGroup, "alice", a_ct, pt), ref::kSuccess);
        EXPECT_EQ(*protocol::group_decrypt(from_alice, a_ct), numbered("a", round));
        auto o_ct = *protocol::group_encrypt(own, numbered("o", round));
        ASSERT_EQ(alice.group_decrypt(kGroup, "ours", o_ct, pt), ref::kSuccess);
        EXPECT_EQ(pt, numbered("o", round));
        ASSERT_EQ(bob.group_decrypt(kGroup, "ours", o_ct, pt), ref::kSuccess);
        EXPECT_EQ(pt, numbered("o", round));
    }
}

}  // namespace
}  // namespace pp::interop

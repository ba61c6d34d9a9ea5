// paperplane-demo: the protocol core end to end, in one process and without a network.
// Alice starts a session from Bob's prekey bundle, they talk, a three-person group talks with
// Sender Keys, and both sides show the same safety number. Every byte that would cross the
// server is printed in size only: the server would see nothing else.
#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include "base/hex.hpp"
#include "protocol/fingerprint.hpp"
#include "protocol/sender_keys.hpp"
#include "protocol/session_cipher.hpp"

namespace {

using namespace pp;
using namespace pp::protocol;

// One person's device: identity, published prekeys, and a session per contact.
class Person : public LocalPreKeys {
  public:
    explicit Person(std::string name)
        : name_(std::move(name)),
          identity_(crypto::KeyPair::generate()),
          registration_id_(generate_registration_id()),
          signed_prekey_(generate_signed_prekey(identity_, 1, 0)) {
        for (auto& k : generate_prekeys(1, 10)) prekeys_.emplace(k.id, std::move(k));
    }
    const std::string& name() const { return name_; }
    const IdentityKeyPair& identity() const override { return identity_; }
    std::uint32_t registration_id() const override { return registration_id_; }
    const SignedPreKeyRecord* signed_prekey(std::uint32_t id) const override {
        return id == signed_prekey_.id ? &signed_prekey_ : nullptr;
    }
    const PreKeyRecord* prekey(std::uint32_t id) const override {
        auto it = prekeys_.find(id);
        return it == prekeys_.end() ? nullptr : &it->second;
    }

    // What the server would hand out; it hands each one-time prekey out once.
    PreKeyBundle publish_bundle() {
        return make_bundle(identity_, registration_id_, signed_prekey_, &prekeys_.begin()->second);
    }

    bool start_session(Person& peer) {
        // The identity key from peer's contact link: the server cannot substitute another.
        auto r = process_prekey_bundle(sessions_[peer.name()], identity_, registration_id_,
                                       peer.publish_bundle(), peer.identity().public_key);
        if (!r) std::printf("  ! %s\n", std::string(to_string(r.error().code)).c_str());
        return r.ok();
    }

    CiphertextMessage send(const Person& to, const std::string& text) {
        return *encrypt(sessions_[to.name()], as_bytes(text));
    }

    Result<Bytes> receive(const Person& from, const CiphertextMessage& m) {
        auto& record = sessions_[from.name()];
        if (m.type == MessageType::kPreKey) {
            auto r = decrypt_prekey_message(record, *this, m.bytes, from.identity().public_key);
            if (!r) return r.error();
            if (r->consumed_prekey_id) prekeys_.erase(*r->consumed_prekey_id);
            return std::move(r->plaintext);
        }
        return decrypt_signal_message(record, m.bytes);
    }

    SenderKeyRecord own_group_key;
    std::map<std::string, SenderKeyRecord> group_keys;  // one per other member

  private:
    std::string name_;
    IdentityKeyPair identity_;
    std::uint32_t registration_id_;
    SignedPreKeyRecord signed_prekey_;
    std::map<std::uint32_t, PreKeyRecord> prekeys_;
    std::map<std::string, SessionRecord> sessions_;
};

const char* type_name(MessageType t) {
    return t == MessageType::kPreKey ? "PreKeySignalMessage" : "SignalMessage";
}

bool deliver(Person& from, Person& to, const std::string& text) {
    auto m = from.send(to, text);
    auto r = to.receive(from, m);
    if (!r) {
        std::printf("  %s -> %s: FAILED (%s)\n", from.name().c_str(), to.name().c_str(),
                    std::string(to_string(r.error().code)).c_str());
        return false;
    }
    std::printf("  %-5s -> %-5s %-20s %4zu bytes on the wire   \"%.*s\"\n", from.name().c_str(),
                to.name().c_str(), type_name(m.type), m.bytes.size(), static_cast<int>(r->size()),
                reinterpret_cast<const char*>(r->data()));
    return true;
}

int run(int messages) {
    Person alice("alice"), bob("bob"), carol("carol");
    std::printf("Paperplane protocol demo: X3DH, Double Ratchet, Sender Keys, safety numbers\n\n");
    std::printf("Bob's identity key: %s\n", to_hex(bob.identity().public_key.serialize()).c_str());
    std::printf(
        "\n1:1 session (Alice fetched Bob's bundle and checked it against his contact link)\n");
    if (!alice.start_session(bob)) return 1;
    if (!deliver(alice, bob, "Hi Bob, this is Alice.")) return 1;
    if (!deliver(bob, alice, "Hi Alice! Nobody else can read this.")) return 1;
    for (int i = 0; i < messages; ++i) {
        std::string text = "message " + std::to_string(i + 1);
        if (!(i % 2 ? deliver(bob, alice, text) : deliver(alice, bob, text))) return 1;
    }

    std::printf("\nA tampered message is refused and changes nothing:\n");
    auto m = alice.send(bob, "untampered");
    auto tampered = m;
    tampered.bytes[tampered.bytes.size() / 2] ^= 1;
    auto bad = bob.receive(alice, tampered);
    std::printf("  tampered: %s\n",
                bad ? "ACCEPTED (bug!)" : std::string(to_string(bad.error().code)).c_str());
    auto good = bob.receive(alice, m);
    std::printf("  original: %s\n", good ? "decrypted" : "FAILED");
    if (bad || !good) return 1;

    std::printf(
        "\nGroup \"friends\" with Sender Keys (distribution messages travel inside 1:1 "
        "sessions)\n");
    std::vector<Person*> members = {&alice, &bob, &carol};
    if (!carol.start_session(alice) || !carol.start_session(bob) || !deliver(carol, alice, "hi") ||
        !deliver(carol, bob, "hi"))
        return 1;
    for (Person* sender : members) {
        auto skdm = create_sender_key_distribution(sender->own_group_key);
        for (Person* other : members)
            if (other != sender)
                (void)process_sender_key_distribution(other->group_keys[sender->name()], *skdm);
    }
    for (Person* sender : members) {
        std::string text = "hello group, " + sender->name() + " here";
        auto c = group_encrypt(sender->own_group_key, as_bytes(text));
        std::printf("  %-5s -> group  SenderKeyMessage     %4zu bytes, stored once by the server\n",
                    sender->name().c_str(), c->size());
        for (Person* other : members) {
            if (other == sender) continue;
            auto p = group_decrypt(other->group_keys[sender->name()], *c);
            if (!p) return 1;
            std::printf("           %-5s reads \"%.*s\"\n", other->name().c_str(),
                        static_cast<int>(p->size()), reinterpret_cast<const char*>(p->data()));
        }
    }

    std::printf("\nSafety number for Alice and Bob (compare in person, or scan the QR code):\n");
    FingerprintGenerator gen;
    auto at_alice =
        gen.create("alice", alice.identity().public_key, "bob", bob.identity().public_key);
    auto at_bob =
        gen.create("bob", bob.identity().public_key, "alice", alice.identity().public_key);
    std::printf("  Alice sees: %s\n", group_digits(at_alice->displayable.text()).c_str());
    std::printf("  Bob sees:   %s\n", group_digits(at_bob->displayable.text()).c_str());
    bool same = at_alice->displayable.text() == at_bob->displayable.text() &&
                at_alice->scannable.compare(at_bob->scannable) == FingerprintMatch::kMatch;
    std::printf("  %s\n", same ? "match: no one is in the middle" : "MISMATCH");
    return same ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    int messages = 6;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--messages") == 0 && i + 1 < argc) {
            messages = std::atoi(argv[++i]);
        } else {
            std::printf("usage: %s [--messages N]\n", argv[0]);
            return std::strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    return run(messages);
}

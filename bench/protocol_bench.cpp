// Protocol benchmarks: every case runs on our implementation and on libsignal-protocol-c in the
// same process, and a table of both with their ratio is printed at the end.
//
// The reference loads and stores its records through store callbacks on every operation, so
// each message costs it a record (de)serialization. Our API works on records in memory; the
// "+persist" rows add a deserialize and serialize of our record per message to compare like
// with like.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <string>

#include "protocol/sender_keys.hpp"
#include "tests/interop/our_party.hpp"

namespace {

using pp::Bytes;
using pp::interop::OurParty;
using pp::ref::RefParty;

const Bytes kPayload(1024, 0x5a);

template <typename T>
T must(pp::Result<T> r) {
    if (!r) {
        std::fprintf(stderr, "benchmark operation failed: %s\n",
                     std::string(pp::to_string(r.error().code)).c_str());
        std::abort();
    }
    return std::move(r).value();
}

void must_ok(const pp::Result<void>& r) {
    if (!r) {
        std::fprintf(stderr, "benchmark operation failed: %s\n",
                     std::string(pp::to_string(r.error().code)).c_str());
        std::abort();
    }
}

void must_ok(int rc) {
    if (rc != pp::ref::kSuccess) {
        std::fprintf(stderr, "reference operation failed: %s\n", pp::ref::error_name(rc).c_str());
        std::abort();
    }
}

// --- session setup: bundle, X3DH, first message, its decryption ----------------------------

void ours_session_setup(benchmark::State& state) {
    for (auto _ : state) {
        OurParty alice, bob;
        must_ok(alice.process_bundle("bob", bob.make_bundle(true)));
        auto c = must(alice.encrypt("bob", kPayload));
        benchmark::DoNotOptimize(must(bob.decrypt("alice", c)));
    }
}

void ref_session_setup(benchmark::State& state) {
    for (auto _ : state) {
        RefParty alice("alice"), bob("bob");
        must_ok(alice.process_bundle("bob", bob.make_bundle(true)));
        pp::ref::Ciphertext c;
        must_ok(alice.encrypt("bob", kPayload, c));
        Bytes out;
        must_ok(bob.decrypt("alice", c, out));
        benchmark::DoNotOptimize(out);
    }
}

// --- 1 KiB round trips -----------------------------------------------------------------------
// "same direction": Alice keeps sending, only the symmetric ratchet moves.
// "ratchet turn": the direction alternates, so every message is a DH ratchet step.

struct OurPair {
    OurParty alice, bob;
    OurPair() {
        must_ok(alice.process_bundle("bob", bob.make_bundle(true)));
        (void)bob.decrypt("alice", must(alice.encrypt("bob", kPayload)));
        (void)alice.decrypt("bob", must(bob.encrypt("alice", kPayload)));
    }
};

struct RefPair {
    RefParty alice{"alice"}, bob{"bob"};
    RefPair() {
        must_ok(alice.process_bundle("bob", bob.make_bundle(true)));
        Bytes out;
        pp::ref::Ciphertext c;
        must_ok(alice.encrypt("bob", kPayload, c));
        must_ok(bob.decrypt("alice", c, out));
        must_ok(bob.encrypt("alice", kPayload, c));
        must_ok(alice.decrypt("bob", c, out));
    }
};

// Persisting variant: the record goes through its serialized form around every operation.
pp::ref::Ciphertext ours_encrypt_persisted(OurParty& from, const std::string& to) {
    auto& rec = from.session(to);
    rec = must(pp::protocol::SessionRecord::deserialize(rec.serialize().view()));
    auto c = must(from.encrypt(to, kPayload));
    benchmark::DoNotOptimize(rec.serialize());
    return c;
}

Bytes ours_decrypt_persisted(OurParty& at, const std::string& from, const pp::ref::Ciphertext& c) {
    auto& rec = at.session(from);
    rec = must(pp::protocol::SessionRecord::deserialize(rec.serialize().view()));
    auto p = must(at.decrypt(from, c));
    benchmark::DoNotOptimize(rec.serialize());
    return p;
}

void ours_roundtrip(benchmark::State& state, bool turn, bool persist) {
    OurPair p;
    bool forward = true;
    for (auto _ : state) {
        OurParty& from = forward ? p.alice : p.bob;
        OurParty& to = forward ? p.bob : p.alice;
        std::string from_name = forward ? "alice" : "bob", to_name = forward ? "bob" : "alice";
        if (persist) {
            benchmark::DoNotOptimize(
                ours_decrypt_persisted(to, from_name, ours_encrypt_persisted(from, to_name)));
        } else {
            benchmark::DoNotOptimize(
                must(to.decrypt(from_name, must(from.encrypt(to_name, kPayload)))));
        }
        if (turn) forward = !forward;
    }
}

void ref_roundtrip(benchmark::State& state, bool turn) {
    RefPair p;
    bool forward = true;
    pp::ref::Ciphertext c;
    Bytes out;
    for (auto _ : state) {
        RefParty& from = forward ? p.alice : p.bob;
        RefParty& to = forward ? p.bob : p.alice;
        must_ok(from.encrypt(forward ? "bob" : "alice", kPayload, c));
        must_ok(to.decrypt(forward ? "alice" : "bob", c, out));
        benchmark::DoNotOptimize(out);
        if (turn) forward = !forward;
    }
}

// --- sender keys: 1 KiB group message encrypted once and decrypted by one member ------------

void ours_sender_key(benchmark::State& state) {
    pp::protocol::SenderKeyRecord own, theirs;
    (void)pp::protocol::process_sender_key_distribution(
        theirs, must(pp::protocol::create_sender_key_distribution(own)));
    for (auto _ : state) {
        auto c = must(pp::protocol::group_encrypt(own, kPayload));
        benchmark::DoNotOptimize(must(pp::protocol::group_decrypt(theirs, c)));
    }
}

void ref_sender_key(benchmark::State& state) {
    RefParty alice("alice"), bob("bob");
    Bytes skdm, c, out;
    must_ok(alice.create_sender_key_distribution("group", skdm));
    must_ok(bob.process_sender_key_distribution("group", "alice", skdm));
    for (auto _ : state) {
        must_ok(alice.group_encrypt("group", kPayload, c));
        must_ok(bob.group_decrypt("group", "alice", c, out));
        benchmark::DoNotOptimize(out);
    }
}

// Collects every result so the side-by-side table can be printed after the run.
class SideBySideReporter : public benchmark::ConsoleReporter {
  public:
    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const auto& r : runs)
            if (!r.error_occurred)
                us_[r.benchmark_name()] = r.GetAdjustedRealTime();  // in kMicrosecond
    }
    void Finalize() override {
        ConsoleReporter::Finalize();
        std::printf("\n%-34s %14s %14s %9s\n", "case (1 KiB payload)", "ours (us/op)",
                    "libsignal-c", "speed-up");
        for (const char* c : {"session_setup", "roundtrip_same_direction", "roundtrip_ratchet_turn",
                              "sender_key_encrypt_decrypt"}) {
            for (const char* variant : {"", "+persist"}) {
                auto ours = us_.find(std::string("ours/") + c + variant);
                auto ref = us_.find(std::string("ref/") + c);
                if (ours == us_.end() || ref == us_.end()) continue;
                std::printf("%-34s %14.1f %14.1f %8.2fx\n", (std::string(c) + variant).c_str(),
                            ours->second, ref->second, ref->second / ours->second);
            }
        }
    }

  private:
    std::map<std::string, double> us_;
};

}  // namespace

BENCHMARK(ours_session_setup)->Name("ours/session_setup")->Unit(benchmark::kMicrosecond);
BENCHMARK(ref_session_setup)->Name("ref/session_setup")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(ours_roundtrip, same, false, false)
    ->Name("ours/roundtrip_same_direction")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(ours_roundtrip, same_p, false, true)
    ->Name("ours/roundtrip_same_direction+persist")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(ref_roundtrip, same, false)
    ->Name("ref/roundtrip_same_direction")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(ours_roundtrip, turn, true, false)
    ->Name("ours/roundtrip_ratchet_turn")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(ours_roundtrip, turn_p, true, true)
    ->Name("ours/roundtrip_ratchet_turn+persist")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(ref_roundtrip, turn, true)
    ->Name("ref/roundtrip_ratchet_turn")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(ours_sender_key)->Name("ours/sender_key_encrypt_decrypt")->Unit(benchmark::kMicrosecond);
BENCHMARK(ref_sender_key)->Name("ref/sender_key_encrypt_decrypt")->Unit(benchmark::kMicrosecond);

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    SideBySideReporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
    return 0;
}

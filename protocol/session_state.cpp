#include "protocol/session_state.hpp"

namespace pp::protocol {

ReceiverChain* SessionState::find_receiver_chain(const crypto::PublicKey& sender_ratchet_key) {
    for (auto& c : receiver_chains)
        if (c.sender_ratchet_key == sender_ratchet_key) return &c;
    return nullptr;
}

void SessionState::add_receiver_chain(const crypto::PublicKey& sender_ratchet_key, ChainKey chain) {
    receiver_chains.insert(receiver_chains.begin(),
                           ReceiverChain{sender_ratchet_key, std::move(chain), {}});
    if (receiver_chains.size() > kMaxReceiverChains) receiver_chains.resize(kMaxReceiverChains);
}

bool SessionRecord::has_session_state(std::uint32_t version,
                                      const crypto::PublicKey& alice_base_key) const {
    auto matches = [&](const SessionState& s) {
        return s.version == version && s.alice_base_key == alice_base_key;
    };
    if (current_ && matches(*current_)) return true;
    for (const auto& s : previous_)
        if (matches(s)) return true;
    return false;
}

void SessionRecord::archive_current() {
    if (!current_) return;
    previous_.push_front(std::move(*current_));
    current_.reset();
    while (previous_.size() > kMaxArchivedSessions) previous_.pop_back();
}

void SessionRecord::promote(SessionState state) {
    archive_current();
    current_ = std::move(state);
}

}  // namespace pp::protocol

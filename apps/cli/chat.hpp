#pragma once
#include <chrono>

#include "client/client.hpp"

namespace pp::cli {

// Runs until /quit or end of input; returns the exit code.
int run_chat(client::Client& c, const client::ConversationId& conv,
             std::chrono::milliseconds poll_interval);

}  // namespace pp::cli

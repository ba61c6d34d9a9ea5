#pragma once
// `paperplane route ...` and `paperplane endpoints ...`: the ways around a blocked server.
#include <CLI/CLI.hpp>

#include <functional>

#include "apps/cli/command_context.hpp"

namespace pp::cli {

// Adds the subcommands to `app`; the one chosen sets `run`.
void add_route_commands(CLI::App& app, Globals& g, std::function<int()>& run);
void add_endpoints_commands(CLI::App& app, Globals& g, std::function<int()>& run);

}  // namespace pp::cli

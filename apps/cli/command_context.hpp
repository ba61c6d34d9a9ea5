#pragma once
// What every `paperplane` command shares: the global options, opening the profile, and the
// two ways of printing (JSON for scripts, QR codes for phones).
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "base/result.hpp"
#include "client/client.hpp"

namespace CLI {
class App;
}

namespace pp::cli {

struct Globals {
    std::string profile = "default";
    std::string profile_dir;
    bool json = false;
    int timeout_s = 15;

    std::filesystem::path dir() const {
        return profile_dir.empty() ? client::Client::default_profile_dir(profile)
                                   : std::filesystem::path(profile_dir);
    }
    std::chrono::milliseconds timeout() const {
        return std::chrono::milliseconds(timeout_s * 1000L);
    }
    // How to name this profile again in a suggested next command.
    std::string flag() const {
        return profile_dir.empty() ? "--profile " + profile : "--profile-dir " + profile_dir;
    }
};

void print_json(const nlohmann::json& j);
void print_qr(const std::string& text);

Result<std::unique_ptr<client::Client>> open_profile(const Globals& g);
int open_failed(const Globals& g, const Error& e);
// Opens the profile and runs `body` with it; the shape of every command but init.
int with_client(const Globals& g, const std::function<int(client::Client&)>& body);

// Binds subcommands to what they run. CLI11 calls a subcommand back while it parses; the body
// is kept in `run` for main() to call once the whole command line is read. The bodies may
// capture main()'s locals by reference, nothing of the function that binds them.
class Commands {
  public:
    Commands(Globals& g, std::function<int()>& run) : g_(g), run_(run) {}
    void on_run(CLI::App* sub, std::function<int()> body);
    // For a subcommand that works on the opened profile.
    void on_run_with_client(CLI::App* sub, std::function<int(client::Client&)> body);

  private:
    Globals& g_;
    std::function<int()>& run_;
};

}  // namespace pp::cli

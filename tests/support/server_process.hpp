#pragma once
// Runs the real paperplane-server binary for integration tests: a temporary root with data/
// (the server's --data-dir) and logs/ (everything the process wrote to stdout and stderr),
// `--listen 127.0.0.1:0`, the port and certificate pin parsed from its banner, /healthz
// checked over pinned TLS. It can be stopped gracefully (SIGTERM), killed (SIGKILL) and
// restarted on the same data directory and port. Every wait is bounded.
//
// The child gets PR_SET_PDEATHSIG(SIGKILL) so it cannot outlive a crashed test; that signal
// follows the thread that started it, so call start()/restart() from the test's main thread.
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace pp::test {

// The outcome of a helper step: ok, or why not (for gtest messages).
struct Status {
    bool ok = true;
    std::string error;
    explicit operator bool() const { return ok; }
    static Status failure(std::string why) { return {false, std::move(why)}; }
};

struct ServerProcessOptions {
    std::vector<std::string> args;  // extra arguments, e.g. {"--registration", "invite"}
    std::string config_toml;        // non-empty: written to a file and passed as --config
    std::chrono::milliseconds startup_timeout{20000};

    static ServerProcessOptions with_args(std::vector<std::string> a) {
        ServerProcessOptions o;
        o.args = std::move(a);
        return o;
    }
    static ServerProcessOptions with_config(std::string toml) {
        ServerProcessOptions o;
        o.config_toml = std::move(toml);
        return o;
    }
};

struct CommandResult {
    int exit_code = -1;
    std::string output;  // stdout and stderr
};

class ServerProcess {
  public:
    explicit ServerProcess(ServerProcessOptions options = {});
    ~ServerProcess();  // SIGKILL if still running, then removes the temporary root
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;

    // Launches the server (on the port it had before, after a restart) and waits until it
    // printed its port and pin and /healthz answers.
    Status start();
    // SIGTERM and wait for a clean exit (status 0).
    Status stop(std::chrono::milliseconds timeout = std::chrono::seconds(20));
    // SIGKILL and reap.
    Status kill();
    Status restart() {
        if (running()) {
            if (auto s = stop(); !s) return s;
        }
        return start();
    }
    bool running() const { return pid_ > 0; }
    pid_t pid() const { return pid_; }  // -1 when not running
    // True if the process is still alive (not exited on its own).
    bool alive();
    std::optional<int> last_exit_status() const { return exit_status_; }

    const std::string& host() const { return host_; }
    std::uint16_t port() const { return port_; }
    const std::string& pin() const { return pin_; }
    std::filesystem::path root() const { return root_; }
    std::filesystem::path data_dir() const { return root_ / "data"; }
    std::filesystem::path log_dir() const { return root_ / "logs"; }
    // What the current (or last) run printed so far.
    std::string output() const;

    // `paperplane-server <args...> --data-dir <ours>` to completion, e.g. {"admin", "stats"}.
    CommandResult admin(const std::vector<std::string>& args,
                        std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;

    static std::string binary();
    // Runs any command to completion (bounded), capturing stdout and stderr.
    static CommandResult run(const std::vector<std::string>& argv,
                             std::chrono::milliseconds timeout);

  private:
    Status wait_exit(std::chrono::milliseconds timeout);
    void reader_loop(int fd, std::filesystem::path log);

    ServerProcessOptions options_;
    std::filesystem::path root_;
    std::string host_ = "127.0.0.1";
    std::uint16_t port_ = 0;
    std::string pin_;
    pid_t pid_ = -1;
    int pidfd_ = -1;
    int runs_ = 0;
    std::optional<int> exit_status_;

    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::string output_;
    bool eof_ = false;
    std::thread reader_;
};

}  // namespace pp::test

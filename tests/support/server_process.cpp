#include "tests/support/server_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <regex>

#include "net/ws_client.hpp"

#ifndef PP_SERVER_BINARY
#error "PP_SERVER_BINARY must name the paperplane-server executable"
#endif

namespace pp::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

int pidfd_open(pid_t pid) {
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

// Waits up to `timeout` for the pidfd to become readable (the process exited).
bool wait_pidfd(int pidfd, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() < 0) return false;
        pollfd p{pidfd, POLLIN, 0};
        int n = ::poll(&p, 1, static_cast<int>(left.count()) + 1);
        if (n > 0) return true;
        if (n == 0) return false;
        if (errno != EINTR) return false;
    }
}

// fork + exec with stdout and stderr on `out_fd`; the child dies with its parent thread.
pid_t spawn(const std::vector<std::string>& argv, int out_fd) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid != 0) return pid;
    // Child: async-signal-safe calls only until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(out_fd, 1);
    ::dup2(out_fd, 2);
    ::execv(args[0], args.data());
    ::_exit(127);
}

std::string decode_status(int status) {
    if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
    return "status " + std::to_string(status);
}

}  // namespace

std::string ServerProcess::binary() {
    return PP_SERVER_BINARY;
}

ServerProcess::ServerProcess(ServerProcessOptions options) : options_(std::move(options)) {
    std::string tmpl = (fs::temp_directory_path() / "pp-it-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    root_ = tmpl;
    fs::create_directories(log_dir());
    if (!options_.config_toml.empty()) {
        std::ofstream(root_ / "server.toml") << options_.config_toml;
    }
}

ServerProcess::~ServerProcess() {
    if (running()) (void)kill();
    if (reader_.joinable()) reader_.join();
    if (std::getenv("PP_KEEP_TEST_DIRS") == nullptr) {
        std::error_code ec;
        fs::remove_all(root_, ec);
    }
}

void ServerProcess::reader_loop(int fd, fs::path log) {
    std::ofstream out(log, std::ios::binary);
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out.write(buf, n);
        out.flush();
        std::lock_guard lock(mutex_);
        output_.append(buf, static_cast<std::size_t>(n));
        changed_.notify_all();
    }
    ::close(fd);
    std::lock_guard lock(mutex_);
    eof_ = true;
    changed_.notify_all();
}

std::string ServerProcess::output() const {
    std::lock_guard lock(mutex_);
    return output_;
}

Status ServerProcess::start() {
    if (running()) return Status::failure("already running");
    if (reader_.joinable()) reader_.join();
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return Status::failure("pipe failed");
    std::vector<std::string> argv = {binary(), "--data-dir", data_dir().string(), "--listen",
                                     host_ + ":" + std::to_string(port_)};
    if (!options_.config_toml.empty()) {
        argv.push_back("--config");
        argv.push_back((root_ / "server.toml").string());
    }
    argv.insert(argv.end(), options_.args.begin(), options_.args.end());
    {
        std::lock_guard lock(mutex_);
        output_.clear();
        eof_ = false;
    }
    pid_ = spawn(argv, fds[1]);
    ::close(fds[1]);
    if (pid_ < 0) {
        ::close(fds[0]);
        return Status::failure("fork failed");
    }
    pidfd_ = pidfd_open(pid_);
    exit_status_.reset();
    ++runs_;
    reader_ = std::thread(&ServerProcess::reader_loop, this, fds[0],
                          log_dir() / ("server-" + std::to_string(runs_) + ".log"));

    // The banner: "listening on HOST:PORT" and "certificate pin:  sha256:HEX".
    static const std::regex listen_re(R"(paperplane-server listening on (\S+):(\d+))");
    static const std::regex pin_re(R"(certificate pin:\s+sha256:([0-9a-f]{64}))");
    std::smatch lm, pm;
    std::string out;
    {
        std::unique_lock lock(mutex_);
        const bool seen = changed_.wait_for(lock, options_.startup_timeout, [&] {
            out = output_;
            return eof_ ||
                   (std::regex_search(out, lm, listen_re) && std::regex_search(out, pm, pin_re));
        });
        if (!seen || lm.empty() || pm.empty()) {
            lock.unlock();
            (void)kill();
            return Status::failure("server did not print its port and pin; output:\n" + out);
        }
    }
    port_ = static_cast<std::uint16_t>(std::stoul(lm[2].str()));
    pin_ = pm[1].str();

    // It listens before printing, so /healthz should answer at once; allow a few tries.
    const auto deadline = Clock::now() + options_.startup_timeout;
    for (;;) {
        auto r = net::https_get(host_, port_, pin_, "/healthz", 5s);
        if (r && r->status == 200) return {};
        if (Clock::now() >= deadline || !alive()) {
            (void)kill();
            return Status::failure("/healthz did not answer; output:\n" + output());
        }
        std::unique_lock lock(mutex_);
        changed_.wait_for(lock, 50ms, [&] { return eof_; });
    }
}

bool ServerProcess::alive() {
    if (!running()) return false;
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
        exit_status_ = status;
        pid_ = -1;
        if (pidfd_ >= 0) ::close(pidfd_);
        pidfd_ = -1;
        return false;
    }
    return true;
}

Status ServerProcess::wait_exit(std::chrono::milliseconds timeout) {
    if (pidfd_ >= 0) {
        if (!wait_pidfd(pidfd_, timeout)) return Status::failure("process did not exit in time");
    } else {
        // No pidfd (old kernel): poll.
        const auto deadline = Clock::now() + timeout;
        while (alive()) {
            if (Clock::now() >= deadline) return Status::failure("process did not exit in time");
            std::this_thread::sleep_for(10ms);
        }
    }
    int status = 0;
    if (pid_ > 0) {
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        exit_status_ = status;
    }
    pid_ = -1;
    if (pidfd_ >= 0) ::close(pidfd_);
    pidfd_ = -1;
    // The pipe closes with the process (unless it left children holding it: it has none).
    if (reader_.joinable()) reader_.join();
    return {};
}

Status ServerProcess::stop(std::chrono::milliseconds timeout) {
    if (!running()) return Status::failure("not running");
    ::kill(pid_, SIGTERM);
    if (auto s = wait_exit(timeout); !s) {
        (void)kill();
        return Status::failure("no clean exit after SIGTERM; output:\n" + output());
    }
    if (!exit_status_ || !WIFEXITED(*exit_status_) || WEXITSTATUS(*exit_status_) != 0) {
        return Status::failure("after SIGTERM: " + decode_status(exit_status_.value_or(-1)) +
                               "; output:\n" + output());
    }
    return {};
}

Status ServerProcess::kill() {
    if (!running()) return Status::failure("not running");
    ::kill(pid_, SIGKILL);
    return wait_exit(10s);
}

CommandResult ServerProcess::admin(const std::vector<std::string>& args,
                                   std::chrono::milliseconds timeout) const {
    std::vector<std::string> argv = {binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--data-dir");
    argv.push_back(data_dir().string());
    return run(argv, timeout);
}

CommandResult ServerProcess::run(const std::vector<std::string>& argv,
                                 std::chrono::milliseconds timeout) {
    CommandResult result;
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return result;
    pid_t pid = spawn(argv, fds[1]);
    ::close(fds[1]);
    if (pid < 0) {
        ::close(fds[0]);
        return result;
    }
    const auto deadline = Clock::now() + timeout;
    char buf[4096];
    bool timed_out = false;
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            timed_out = true;
            break;
        }
        pollfd p{fds[0], POLLIN, 0};
        int n = ::poll(&p, 1, static_cast<int>(left.count()));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            timed_out = n == 0;
            break;
        }
        ssize_t got = ::read(fds[0], buf, sizeof buf);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        result.output.append(buf, static_cast<std::size_t>(got));
    }
    ::close(fds[0]);
    if (timed_out) ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.exit_code = !timed_out && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

}  // namespace pp::test

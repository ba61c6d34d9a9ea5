#include "apps/cli/command_context.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <utility>

#include "apps/cli/output.hpp"
#include "apps/cli/passphrase.hpp"
#include "qr/terminal.hpp"

namespace pp::cli {

void print_json(const nlohmann::json& j) {
    std::printf("%s\n", j.dump(2).c_str());
}

void print_qr(const std::string& text) {
    auto qr = qr::qr_for_terminal(text);
    if (qr) std::printf("%s", qr->c_str());
}

Result<std::unique_ptr<client::Client>> open_profile(const Globals& g) {
    const auto dir = g.dir();
    return client::Client::open({dir, existing_passphrase(dir)});
}

int open_failed(const Globals& g, const Error& e) {
    if (e.code == ErrorCode::kNoSession)
        return fail(e, "create the profile first: paperplane " + g.flag() + " init");
    if (e.code == ErrorCode::kBadMac)
        return fail(e,
                    "set PAPERPLANE_PASSPHRASE or type the passphrase the profile was made with");
    return fail(e);
}

int with_client(const Globals& g, const std::function<int(client::Client&)>& body) {
    auto c = open_profile(g);
    if (!c) return open_failed(g, c.error());
    return body(**c);
}

void Commands::on_run(CLI::App* sub, std::function<int()> body) {
    sub->callback([&run = run_, body = std::move(body)] { run = body; });
}

void Commands::on_run_with_client(CLI::App* sub, std::function<int(client::Client&)> body) {
    on_run(sub, [&g = g_, body = std::move(body)] { return with_client(g, body); });
}

}  // namespace pp::cli

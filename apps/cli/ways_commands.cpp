#include "apps/cli/ways_commands.hpp"

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "apps/cli/output.hpp"
#include "net/durable_file.hpp"

namespace pp::cli {

namespace {

using Json = nlohmann::json;

Json to_json(const client::RouteInfo& r) {
    return {{"id", r.id},
            {"kind", r.kind},
            {"address", r.address},
            {"source", r.source},
            {"last_used", r.last_used}};
}

Json to_json(const client::EndpointListInfo& l) {
    return {{"issued_at", l.issued_at}, {"endpoints", l.endpoints}, {"relays", l.relays}};
}

void print_list(const client::EndpointListInfo& l) {
    std::printf("signed at:  %llu (unix seconds)\n", static_cast<unsigned long long>(l.issued_at));
    for (const auto& e : l.endpoints) std::printf("endpoint:   %s\n", printable(e).c_str());
    for (const auto& r : l.relays) std::printf("relay:      %s\n", printable(r).c_str());
}

// A link given on the command line, or the path of a file holding one (an exported list).
Result<std::string> link_or_file(const std::string& arg) {
    if (arg.rfind("paperplane://", 0) == 0) return arg;
    std::ifstream in(arg, std::ios::binary);
    if (!in) return make_error(ErrorCode::kNoSession, "no such file, and not a link");
    std::ostringstream text;
    text << in.rdbuf();
    std::string s = text.str();
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
}

}  // namespace

void add_route_commands(CLI::App& app, Globals& g, std::function<int()>& run) {
    Commands commands(g, run);
    auto* route = app.add_subcommand("route", "ways to the server: add, list, remove");
    route->require_subcommand(1);
    auto link = std::make_shared<std::string>();
    auto id = std::make_shared<std::int64_t>(0);

    auto* add = route->add_subcommand(
        "add", "add a relay, SOCKS5 or HTTP proxy, or another server address from its link");
    add->add_option("link", *link,
                    "paperplane://relay?..., socks5://..., tg://socks?..., http://host:port, "
                    "or paperplane://server?...")
        ->required();
    commands.on_run_with_client(add, [link](client::Client& c) {
        auto r = c.add_route(*link);
        if (!r) return fail(r.error());
        std::printf("added route %lld: %s %s\n", static_cast<long long>(r->id), r->kind.c_str(),
                    printable(r->address).c_str());
        return 0;
    });

    auto* list = route->add_subcommand("list", "routes in the order they are tried");
    list->add_flag("--json", g.json, "JSON output");
    commands.on_run_with_client(list, [&g](client::Client& c) {
        auto all = c.routes();
        if (!all) return fail(all.error());
        if (g.json) {
            auto arr = Json::array();
            for (const auto& r : *all) arr.push_back(to_json(r));
            print_json(arr);
            return 0;
        }
        for (const auto& r : *all) {
            const std::string id_text = r.id ? std::to_string(r.id) : "-";
            std::printf("%-4s %-7s %-40s %s%s\n", id_text.c_str(), r.kind.c_str(),
                        printable(r.address).c_str(), r.source.c_str(),
                        r.last_used ? "  (used last)" : "");
        }
        return 0;
    });

    auto* remove = route->add_subcommand("remove", "remove a route you added (by its id)");
    remove->add_option("id", *id, "the id `paperplane route list` shows")->required();
    commands.on_run_with_client(remove, [id](client::Client& c) {
        if (auto r = c.remove_route(*id); !r) return fail(r.error());
        std::printf("removed route %lld\n", static_cast<long long>(*id));
        return 0;
    });
}

void add_endpoints_commands(CLI::App& app, Globals& g, std::function<int()>& run) {
    Commands commands(g, run);
    auto* ep =
        app.add_subcommand("endpoints",
                           "the server's signed list of its addresses and relays: show, refresh, "
                           "export, import");
    ep->require_subcommand(1);
    auto out = std::make_shared<std::string>();
    auto no_qr = std::make_shared<bool>(false);
    auto source = std::make_shared<std::string>();

    auto* show = ep->add_subcommand("show", "the list as last verified");
    show->add_flag("--json", g.json, "JSON output");
    commands.on_run_with_client(show, [&g](client::Client& c) {
        auto l = c.endpoint_list();
        if (!l) return fail(l.error());
        if (g.json) {
            print_json(*l ? to_json(**l) : Json(nullptr));
            return 0;
        }
        if (!*l) {
            std::printf("no endpoint list yet: it is fetched when the client connects\n");
            return 0;
        }
        print_list(**l);
        return 0;
    });

    auto* refresh = ep->add_subcommand("refresh", "fetch the list from the server now");
    refresh->add_flag("--json", g.json, "JSON output");
    commands.on_run_with_client(refresh, [&g](client::Client& c) {
        auto l = c.refresh_endpoint_list(g.timeout());
        if (!l) return fail(l.error());
        if (g.json)
            print_json(to_json(*l));
        else
            print_list(*l);
        return 0;
    });

    auto* exp = ep->add_subcommand(
        "export", "print the signed list as a link (and QR code) to carry to someone else");
    exp->add_option("--out", *out, "write the link to this file (mode 0600) instead");
    exp->add_flag("--no-qr", *no_qr, "print the link only");
    commands.on_run_with_client(exp, [out, no_qr](client::Client& c) {
        auto link = c.export_endpoint_list();
        if (!link) return fail(link.error());
        if (!out->empty()) {
            // It names the relays the operator vouches for, secrets included.
            const std::string text = *link + "\n";
            if (auto w = net::write_file_durably(*out, as_bytes(text), 0600); !w)
                return fail(w.error());
            std::printf("wrote %s\n", out->c_str());
            return 0;
        }
        std::printf("%s\n", link->c_str());
        if (!*no_qr) print_qr(*link);
        return 0;
    });

    auto* imp = ep->add_subcommand(
        "import", "take a list someone carried to you (a link or a file holding one)");
    imp->add_option("source", *source, "paperplane://endpoints?... or a file")->required();
    commands.on_run_with_client(imp, [source](client::Client& c) {
        auto text = link_or_file(*source);
        if (!text) return fail(text.error());
        auto l = c.import_endpoint_list(*text);
        if (!l) return fail(l.error());
        std::printf("imported the server's endpoint list (signature verified)\n");
        print_list(*l);
        return 0;
    });
}

}  // namespace pp::cli

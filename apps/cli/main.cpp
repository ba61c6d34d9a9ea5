// paperplane: the command-line client. Argument parsing and output only; everything it does
// goes through libpaperplane's public API (client/client.hpp).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <functional>
#include <iostream>
#include <set>

#include "apps/cli/chat.hpp"
#include "apps/cli/command_context.hpp"
#include "apps/cli/output.hpp"
#include "apps/cli/passphrase.hpp"
#include "apps/cli/ways_commands.hpp"
#include "base/hex.hpp"
#include "client/client.hpp"
#include "client/links.hpp"
#include "qr/terminal.hpp"

using namespace pp;
using namespace pp::cli;
using std::chrono::milliseconds;
using Json = nlohmann::json;

namespace {

Result<client::ConversationId> resolve(client::Client& c, const std::string& name) {
    return c.resolve(name);
}

Result<client::AccountId> contact_id(client::Client& c, const std::string& name) {
    PP_TRY(conv, c.resolve(name));
    if (conv.kind != client::ConversationId::Kind::kContact)
        return make_error(ErrorCode::kMalformed, "that is a group, not a contact");
    return client::AccountId(conv.id);
}

Result<client::GroupId> group_id(client::Client& c, const std::string& name) {
    PP_TRY(conv, c.resolve(name));
    if (conv.kind != client::ConversationId::Kind::kGroup)
        return make_error(ErrorCode::kMalformed, "that is a contact, not a group");
    return client::GroupId(conv.id);
}

// Prints what a sync brought in, as events happen; counts refusals in `refused`, if given.
void report_events(client::Client& c, int* refused = nullptr) {
    c.set_event_handler([&c, refused](const client::Event& e) {
        using K = client::Event::Kind;
        if (e.kind == K::kUndeliverable && refused) ++*refused;
        if (e.kind == K::kIdentityChanged)
            std::fprintf(stderr,
                         "WARNING: the safety number with %s changed; their messages are held "
                         "until you run `paperplane safety %s` and `paperplane verify %s "
                         "--accept-new-identity`\n",
                         e.contact->name.c_str(), e.contact->name.c_str(), e.contact->name.c_str());
        else if (e.kind == K::kUndecryptable)
            std::fprintf(stderr, "warning: a message from %s could not be decrypted (%s)\n",
                         printable(c.display_name(e.conversation)).c_str(),
                         printable(e.detail).c_str());
        else if (e.kind == K::kUndeliverable)
            std::fprintf(stderr, "warning: a message to %s was refused by the server (%s)\n",
                         printable(c.display_name(e.conversation)).c_str(),
                         printable(e.detail).c_str());
    });
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"paperplane: end-to-end encrypted messenger (command-line client)"};
    app.require_subcommand(1);
    Globals g;
    app.add_option("--profile", g.profile, "profile name (default: default)");
    app.add_option("--profile-dir", g.profile_dir,
                   "profile directory (default: $XDG_DATA_HOME/paperplane/<profile>)");
    app.add_option("--timeout", g.timeout_s, "seconds to wait for the server (default: 15)");
    app.footer(
        "Exit codes: 0 done, 1 failed, 2 usage, 69 server unreachable, 75 queued for later, 77 "
        "wrong passphrase or untrusted identity.\nPassphrases come from PAPERPLANE_PASSPHRASE "
        "or are asked on the terminal.");
    std::function<int()> run;
    cli::Commands commands(g, run);

    // init
    auto* init = app.add_subcommand("init", "create a profile: this device's keys");
    bool with_passphrase = false;
    init->add_flag("--passphrase", with_passphrase,
                   "encrypt the profile with a passphrase (asked, or PAPERPLANE_PASSPHRASE); "
                   "otherwise a random key in a 0600 file next to it");
    commands.on_run(init, [&]() -> int {
        std::optional<std::string> pass;
        if (with_passphrase) {
            auto p = new_passphrase();
            if (!p) return fail(p.error());
            pass = *p;
        }
        auto c = client::Client::create({g.dir(), pass});
        if (!c) {
            if (c.error().code == ErrorCode::kLimitExceeded)
                return fail(c.error(), "a profile exists there; pick another with --profile");
            return fail(c.error());
        }
        std::printf(
            "profile created in %s\nnext: paperplane %s register "
            "'paperplane://server?...'\n",
            g.dir().c_str(), g.flag().c_str());
        return 0;
    });

    // register
    auto* reg = app.add_subcommand("register", "create an account on a server");
    std::string server_link;
    client::RegisterOptions reg_opts;
    reg->add_option("server-link", server_link, "the link the server printed")->required();
    reg->add_option("--username", reg_opts.username, "optional unique name on the server");
    reg->add_option("--invite", reg_opts.invite_code, "invite code, if the server needs one");
    commands.on_run(reg, [&]() -> int {
        auto server = client::parse_server_link(server_link);
        if (!server) return fail(server.error(), "copy the paperplane://server?... link");
        return with_client(g, [&](client::Client& c) {
            reg_opts.timeout = g.timeout();
            auto a = c.register_account(*server, reg_opts);
            if (!a) return fail(a.error());
            std::printf(
                "registered: account %s on %s:%u\nnext: paperplane %s invite   "
                "(share your link)\n",
                to_hex(a->account).c_str(), a->server.host.c_str(), a->server.port,
                g.flag().c_str());
            return 0;
        });
    });

    // invite
    auto* invite = app.add_subcommand("invite", "show your contact link and its QR code");
    bool no_qr = false;
    invite->add_flag("--no-qr", no_qr, "print the link only");
    invite->add_flag("--json", g.json, "JSON output");
    commands.on_run_with_client(invite, [&](client::Client& c) {
        auto link = c.contact_link();
        if (!link) return fail(link.error());
        if (g.json) {
            print_json({{"link", *link}});
            return 0;
        }
        std::printf("%s\n", link->c_str());
        if (!no_qr) print_qr(*link);
        return 0;
    });

    // add
    auto* add = app.add_subcommand("add", "add a contact from their link");
    std::string contact_link, contact_name;
    add->add_option("link", contact_link, "their paperplane://contact?... link")->required();
    add->add_option("--name", contact_name, "what to call them (default: from the link)");
    commands.on_run_with_client(add, [&](client::Client& c) {
        auto added = c.add_contact(contact_link, contact_name);
        if (!added) return fail(added.error());
        std::printf("added %s\n", added->name.c_str());
        return 0;
    });

    // contacts
    auto* contacts = app.add_subcommand("contacts", "list contacts");
    contacts->add_flag("--json", g.json, "JSON output");
    commands.on_run_with_client(contacts, [&](client::Client& c) {
        auto list = c.contacts();
        if (!list) return fail(list.error());
        if (g.json) {
            auto arr = Json::array();
            for (const auto& ct : *list) arr.push_back(to_json(ct));
            print_json(arr);
            return 0;
        }
        for (const auto& ct : *list)
            std::printf("%-20s %s%s\n", printable(ct.name).c_str(), to_hex(ct.account).c_str(),
                        ct.changed_identity_key ? "  SAFETY NUMBER CHANGED"
                        : ct.verified           ? "  verified"
                                                : "");
        return 0;
    });

    // send
    auto* send = app.add_subcommand("send", "send a message to a contact or group");
    std::string to;
    std::vector<std::string> words;
    send->add_option("to", to, "contact or group name")->required();
    send->add_option("text", words, "the message")->required();
    std::string reply_to;
    send->add_option("--reply-to", reply_to,
                     "answer a message: its id as `history` shows it (#...), or the full id");
    send->add_flag("--json", g.json, "JSON output");
    commands.on_run_with_client(send, [&](client::Client& c) {
        auto conv = resolve(c, to);
        if (!conv) return fail(conv.error());
        std::string text;
        for (const auto& w : words) text += (text.empty() ? "" : " ") + w;
        std::optional<client::Message> answered;
        if (!reply_to.empty()) {
            auto h = c.history(*conv, 1000);
            if (!h) return fail(h.error());
            // The short id `history` shows, or the full one from `history --json`.
            int matches = 0;
            for (const auto& m : *h) {
                if (short_message_id(m.id).starts_with(reply_to) || to_hex(m.id) == reply_to) {
                    answered = m;
                    ++matches;
                }
            }
            if (matches == 0)
                return fail(make_error(ErrorCode::kNoSession,
                                       "no message with that id in this conversation"),
                            "see the ids with: paperplane history " + to);
            if (matches > 1)
                return fail(
                    make_error(ErrorCode::kMalformed,
                               "more than one message in this conversation has "
                               "an id starting like that"),
                    "give all 8 digits, or the full id from: paperplane history " + to + " --json");
        }
        int refused = 0;
        report_events(c, &refused);
        auto m = c.send_text(*conv, text, answered, g.timeout());
        if (!m) return fail(m.error());
        if (refused > 0 && m->status == client::MessageStatus::kPending) return kExitFailure;
        if (g.json)
            print_json(to_json(c, *m));
        else
            std::printf("%s %s\n", status_name(m->status).c_str(), to_hex(m->id).c_str());
        return m->status == client::MessageStatus::kPending ? kExitTempFail : 0;
    });

    // inbox
    auto* inbox = app.add_subcommand("inbox", "fetch and show unread messages");
    bool keep_unread = false;
    inbox->add_flag("--json", g.json, "JSON output");
    inbox->add_flag("--keep-unread", keep_unread, "do not mark them read");
    commands.on_run_with_client(inbox, [&](client::Client& c) {
        report_events(c);
        auto got = c.sync(g.timeout());
        if (!got) {
            std::fprintf(stderr,
                         "warning: could not reach the server (%s); showing "
                         "what is stored\n",
                         std::string(got.error().detail).c_str());
        }
        auto unread = c.unread();
        if (!unread) return fail(unread.error());
        if (g.json) {
            auto arr = Json::array();
            for (const auto& m : *unread) arr.push_back(to_json(c, m));
            print_json(arr);
        } else {
            for (const auto& m : *unread) std::printf("%s\n", message_line(c, m).c_str());
            if (unread->empty()) std::printf("no unread messages\n");
        }
        if (!keep_unread) {
            std::set<client::ConversationId> convs;
            for (const auto& m : *unread) convs.insert(m.conversation);
            for (const auto& conv : convs) (void)c.mark_read(conv);
        }
        return got ? 0 : kExitUnavailable;
    });

    // history
    auto* history = app.add_subcommand("history", "show a conversation's messages");
    std::string history_of;
    std::size_t limit = 50;
    history->add_option("with", history_of, "contact or group name")->required();
    history->add_option("--limit", limit, "how many (default 50)");
    history->add_flag("--json", g.json, "JSON output");
    commands.on_run_with_client(history, [&](client::Client& c) {
        auto conv = resolve(c, history_of);
        if (!conv) return fail(conv.error());
        auto list = c.history(*conv, limit);
        if (!list) return fail(list.error());
        if (g.json) {
            auto arr = Json::array();
            for (const auto& m : *list) arr.push_back(to_json(c, m));
            print_json(arr);
            return 0;
        }
        for (const auto& m : *list)
            std::printf("#%s %s%s\n", short_message_id(m.id).c_str(), message_line(c, m).c_str(),
                        m.direction == client::Direction::kOutgoing
                            ? ("  (" + status_name(m.status) + ")").c_str()
                            : "");
        return 0;
    });

    // chat
    auto* chat = app.add_subcommand("chat", "interactive chat with a contact or group");
    std::string chat_with;
    chat->add_option("with", chat_with, "contact or group name")->required();
    commands.on_run_with_client(chat, [&](client::Client& c) {
        auto conv = resolve(c, chat_with);
        if (!conv) return fail(conv.error());
        return run_chat(c, *conv, milliseconds(200));
    });

    // sync
    auto* sync = app.add_subcommand("sync", "fetch queued messages and send pending ones");
    commands.on_run_with_client(sync, [&](client::Client& c) {
        report_events(c);
        auto got = c.sync(g.timeout());
        if (!got) {
            fail(got.error());
            return kExitUnavailable;
        }
        std::printf("%zu new\n", *got);
        return 0;
    });

    // status
    auto* status = app.add_subcommand("status", "profile, connection and queue state");
    status->add_flag("--json", g.json, "JSON output");
    commands.on_run_with_client(status, [&](client::Client& c) {
        (void)c.connect(g.timeout());  // one attempt, so "online" means something
        const auto st = c.status();
        Json j{{"registered", st.registered}, {"online", st.online},        {"server", st.server},
               {"route", st.route},           {"outbox", st.outbox},        {"unread", st.unread},
               {"prekeys", st.prekeys},       {"last_error", st.last_error}};
        if (auto a = c.account()) j["account"] = to_hex(a->account);
        if (g.json) {
            print_json(j);
            return 0;
        }
        std::printf(
            "registered: %s\nserver:     %s (%s)\nroute:      %s\n"
            "outbox:     %zu waiting\nunread:     %zu\n",
            st.registered ? "yes" : "no", st.server.c_str(),
            st.online ? "online" : ("offline: " + st.last_error).c_str(),
            st.online ? st.route.c_str() : "-", st.outbox, st.unread);
        return 0;
    });

    // safety / verify
    auto* safety = app.add_subcommand("safety", "show the safety number with a contact");
    std::string safety_with;
    safety->add_option("contact", safety_with, "contact name")->required();
    safety->add_flag("--json", g.json, "JSON output");
    commands.on_run_with_client(safety, [&](client::Client& c) {
        auto id = contact_id(c, safety_with);
        if (!id) return fail(id.error());
        auto sn = c.safety_number(*id);
        if (!sn) return fail(sn.error());
        if (g.json) {
            Json j{{"contact", c.display_name(*id)},
                   {"safety_number", sn->digits},
                   {"verified", sn->verified},
                   {"scannable", to_hex(sn->scannable)},
                   {"identity_changed", sn->pending_change}};
            if (sn->pending_change) j["previous_safety_number"] = sn->previous_digits;
            print_json(j);
            return 0;
        }
        if (sn->pending_change)
            std::printf(
                "WARNING: %s's identity key CHANGED. Compare this NEW number with "
                "theirs; only if it matches run `paperplane verify %s "
                "--accept-new-identity` (or --reject-new-identity).\n"
                "previous number:\n%s\n",
                printable(c.display_name(*id)).c_str(), safety_with.c_str(),
                sn->previous_digits.c_str());
        std::printf("safety number with %s%s:\n%s\n", c.display_name(*id).c_str(),
                    sn->verified ? " (verified)" : "", sn->digits.c_str());
        std::printf(
            "Compare it with theirs (in person or on a call), then run "
            "`paperplane verify %s`.\n",
            safety_with.c_str());
        return 0;
    });
    auto* verify = app.add_subcommand("verify", "mark a contact's safety number as verified");
    std::string verify_who;
    bool accept_new = false, reject_new = false;
    verify->add_option("contact", verify_who, "contact name")->required();
    auto* accept_flag =
        verify->add_flag("--accept-new-identity", accept_new,
                         "trust the contact's new identity key (after comparing safety numbers)");
    verify
        ->add_flag("--reject-new-identity", reject_new,
                   "keep the old key; drop what arrived under the new one")
        ->excludes(accept_flag);
    commands.on_run_with_client(verify, [&](client::Client& c) {
        auto id = contact_id(c, verify_who);
        if (!id) return fail(id.error());
        report_events(c);
        if (reject_new) {
            auto r = c.reject_identity_change(*id);
            if (!r) return fail(r.error());
            std::printf("kept the old key for %s\n", printable(c.display_name(*id)).c_str());
            return 0;
        }
        auto r = c.verify(*id, accept_new);
        if (!r) return fail(r.error(), "compare numbers first: paperplane safety " + verify_who);
        std::printf("%s is verified\n", printable(c.display_name(*id)).c_str());
        return 0;
    });

    // group ...
    auto* group = app.add_subcommand("group", "groups: create, add, remove, rename, list");
    group->require_subcommand(1);
    auto* gcreate = group->add_subcommand("create", "create a group with contacts");
    std::string gname;
    std::vector<std::string> gmembers;
    gcreate->add_option("name", gname, "group name")->required();
    gcreate->add_option("members", gmembers, "contact names")->required();
    commands.on_run_with_client(gcreate, [&](client::Client& c) {
        std::vector<client::AccountId> ids;
        for (const auto& m : gmembers) {
            auto id = contact_id(c, m);
            if (!id) return fail(id.error());
            ids.push_back(*id);
        }
        auto created = c.create_group(gname, ids);
        if (!created) return fail(created.error());
        std::printf("created %s with %zu members\n", created->name.c_str(),
                    created->members.size());
        return 0;
    });
    std::string gtarget, gwho;
    auto member_change = [&](const char* what, bool adding) {
        auto* sub = group->add_subcommand(
            what, adding ? "add a contact to a group" : "remove a member (keys rotate)");
        sub->add_option("group", gtarget, "group name")->required();
        sub->add_option("contact", gwho, "contact name")->required();
        commands.on_run_with_client(sub, [&, adding](client::Client& c) {
            auto gid = group_id(c, gtarget);
            if (!gid) return fail(gid.error());
            auto who = contact_id(c, gwho);
            if (!who) return fail(who.error());
            auto r = adding ? c.add_member(*gid, *who) : c.remove_member(*gid, *who);
            if (!r) return fail(r.error());
            std::printf("%s now has %zu members\n", r->name.c_str(), r->members.size());
            return 0;
        });
    };
    member_change("add", true);
    member_change("remove", false);
    auto* grename = group->add_subcommand("rename", "rename a group");
    std::string gnew;
    grename->add_option("group", gtarget, "group name")->required();
    grename->add_option("new-name", gnew, "new name")->required();
    commands.on_run_with_client(grename, [&](client::Client& c) {
        auto gid = group_id(c, gtarget);
        if (!gid) return fail(gid.error());
        auto r = c.rename_group(*gid, gnew);
        if (!r) return fail(r.error());
        std::printf("renamed to %s\n", r->name.c_str());
        return 0;
    });
    auto* glist = group->add_subcommand("list", "list groups");
    glist->add_flag("--json", g.json, "JSON output");
    commands.on_run_with_client(glist, [&](client::Client& c) {
        auto list = c.groups();
        if (!list) return fail(list.error());
        if (g.json) {
            auto arr = Json::array();
            for (const auto& gr : *list) arr.push_back(to_json(c, gr));
            print_json(arr);
            return 0;
        }
        for (const auto& gr : *list) {
            std::string members;
            for (const auto& m : gr.members)
                members += (members.empty() ? "" : ", ") + c.display_name(m.account);
            std::printf("%-20s %s%s\n", printable(gr.name).c_str(), printable(members).c_str(),
                        gr.left ? "  (you were removed)" : "");
        }
        return 0;
    });

    add_route_commands(app, g, run);
    add_endpoints_commands(app, g, run);

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return kExitUsage;
    }
    return run ? run() : kExitUsage;
}

// `paperplane chat`: a line-based interactive session. Typed lines are read on a thread of
// their own; everything that touches the Client happens on the main thread, which alternates
// between polling the server (incoming messages appear at once) and sending what was typed.
// Plain lines on stdout, so it works the same over SSH, in tmux and in a pipe.
#include "apps/cli/chat.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <iostream>
#include <mutex>
#include <thread>

#include "apps/cli/output.hpp"

namespace pp::cli {

namespace {

// Lines typed by the user, handed from the reader thread to the main loop.
class LineQueue {
  public:
    void push(std::optional<std::string> line) {
        std::lock_guard lock(mu_);
        lines_.push_back(std::move(line));
    }
    std::deque<std::optional<std::string>> take() {
        std::lock_guard lock(mu_);
        return std::exchange(lines_, {});
    }

  private:
    std::mutex mu_;
    std::deque<std::optional<std::string>> lines_;  // nullopt: end of input
};

void say(const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
}

}  // namespace

int run_chat(client::Client& c, const client::ConversationId& conv,
             std::chrono::milliseconds poll_interval) {
    const std::string name = printable(c.display_name(conv));
    bool unread_here = false;
    c.set_event_handler([&](const client::Event& e) {
        using K = client::Event::Kind;
        switch (e.kind) {
            case K::kMessage:
                if (e.conversation == conv) {
                    say(message_line(c, *e.message));
                    unread_here = true;
                } else {
                    say("(new message in " + printable(c.display_name(e.conversation)) + ")");
                }
                break;
            case K::kStatus:
                if (e.conversation == conv && (e.status == client::MessageStatus::kDelivered ||
                                               e.status == client::MessageStatus::kRead))
                    say("  (" + status_name(e.status) + ")");
                break;
            case K::kIdentityChanged:
                say("!! WARNING: the safety number with " + printable(e.contact->name) +
                    " changed. Messages are held back until you compare it "
                    "(`paperplane safety`) and accept it (`paperplane verify "
                    "--accept-new-identity`).");
                break;
            case K::kGroupChanged:
                if (e.conversation == conv) say("(group updated)");
                break;
            case K::kUndecryptable:
                say("(a message from " + printable(c.display_name(e.conversation)) +
                    " could not be decrypted: " + printable(e.detail) + ")");
                break;
            case K::kUndeliverable:
                say("(not delivered: " + printable(e.detail) + ")");
                break;
            case K::kConnected:
                say("(online: " + printable(e.detail) + ")");
                break;
            case K::kDisconnected:
                say("(offline: " + e.detail + "; retrying)");
                break;
        }
    });

    say("chat with " + name + " - type a message and press Enter; /quit or Ctrl-D to leave");
    if (conv.kind == client::ConversationId::Kind::kContact) {
        auto sn = c.safety_number(client::AccountId(conv.id));
        if (sn && !sn->verified)
            say("(not verified: compare safety numbers with `paperplane safety " + name + "`)");
    }
    if (auto h = c.history(conv, 20); h)
        for (const auto& m : *h) say(message_line(c, m));
    (void)c.mark_read(conv);

    LineQueue lines;
    std::thread reader([&lines] {
        std::string line;
        while (std::getline(std::cin, line)) lines.push(line);
        lines.push(std::nullopt);
    });
    reader.detach();  // blocked in getline until input ends; the process may exit first

    for (;;) {
        (void)c.poll(poll_interval);
        if (unread_here) {
            unread_here = false;
            (void)c.mark_read(conv);
        }
        for (auto& line : lines.take()) {
            if (!line || *line == "/quit") {
                c.disconnect();
                return 0;
            }
            if (line->empty()) continue;
            if (*line == "/help") {
                say("type to send; /quit leaves");
                continue;
            }
            auto sent = c.send_text(conv, *line);
            if (!sent)
                say("(not sent: " + std::string(sent.error().detail) + ")");
            else if (sent->status == client::MessageStatus::kPending)
                say("(queued: it goes out when the server is reachable)");
        }
    }
}

}  // namespace pp::cli

#pragma once
// How the CLI shows things: one line per message for people, JSON (--json) for scripts.
#include <nlohmann/json.hpp>

#include <string>

#include "client/client.hpp"

namespace pp::cli {

std::string status_name(client::MessageStatus s);
std::string clock_time(std::int64_t ms);  // local HH:MM
std::string iso_time(std::int64_t ms);    // UTC, for JSON

nlohmann::json to_json(const client::Client& c, const client::Message& m);
nlohmann::json to_json(const client::Contact& c);
nlohmann::json to_json(const client::Client& c, const client::Group& g);

// What a peer wrote, made safe for a terminal: control characters (C0, DEL, and C1 in their
// UTF-8 form, which can move the cursor, retitle the window or write the clipboard) become
// '?', and a line break continues indented so no one can fake a line of their own.
std::string printable(std::string_view text);

// The id `history` shows (as #…) and `send --reply-to` takes: 8 hex digits from the random
// part of a message id. The id's first digits are its sender's clock (wire/message_id.hpp),
// the same for every message written within a minute or so.
std::string short_message_id(const client::MessageId& id);

// "[12:03] Bob: text", with the group's name for group messages; printable().
std::string message_line(const client::Client& c, const client::Message& m);

// Exit codes: 0 done, 1 failed, 2 usage, plus sysexits where they say more.
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnavailable = 69;  // EX_UNAVAILABLE: the server could not be reached
inline constexpr int kExitTempFail = 75;     // EX_TEMPFAIL: queued, not yet with the server
inline constexpr int kExitNoPerm = 77;       // EX_NOPERM: wrong passphrase, untrusted identity

// Prints "error: <what>" and, if given, a hint with the next step; returns the exit code that
// suits the error.
int fail(const Error& e, std::string_view hint = {});

}  // namespace pp::cli

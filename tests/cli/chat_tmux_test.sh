#!/usr/bin/env bash
# `paperplane chat` as people use it: two terminals (tmux panes) on one real server. Lines
# typed into one pane (send-keys) must appear in the other (capture-pane), both ways.
#   tests/cli/chat_tmux_test.sh PAPERPLANE_SERVER PAPERPLANE
# Loopback only; every wait is bounded; the tmux server, the paperplane-server and the
# temporary directory are removed on any exit.
set -euo pipefail
server_bin="$1"
cli_bin="$2"

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
sock="pp-chat-$$"
stop_tmux() { tmux -L "$sock" kill-server 2>/dev/null || true; }
cleanup_hooks+=(stop_tmux)

fail() {
    echo "FAIL: $*" >&2
    for pane in 0 1; do
        echo "--- pane $pane:" >&2
        tmux -L "$sock" capture-pane -t "pp:0.$pane" -p 2>/dev/null >&2 || true
    done
    echo "--- server log:" >&2
    cat "$work/server.log" >&2 || true
    exit 1
}

# Waits up to 20 s for `text` to show in pane $1.
wait_for() {
    local pane="$1" text="$2"
    for _ in $(seq 1 200); do
        tmux -L "$sock" capture-pane -t "pp:0.$pane" -p -S -100 | grep -qF -- "$text" && return 0
        sleep 0.1
    done
    fail "pane $pane never showed: $text"
}

start_server

alice=("$cli_bin" --profile-dir "$work/alice")
bob=("$cli_bin" --profile-dir "$work/bob")
"${alice[@]}" init >/dev/null
"${bob[@]}" init >/dev/null
"${alice[@]}" register "$link" --username alice >/dev/null
"${bob[@]}" register "$link" --username bob >/dev/null
alice_link="$("${alice[@]}" invite --no-qr)"
bob_link="$("${bob[@]}" invite --no-qr)"
"${alice[@]}" add "$bob_link" --name bob >/dev/null
"${bob[@]}" add "$alice_link" --name alice >/dev/null

# The panes run the chats; remain-on-exit keeps a crashed pane's last words for the report.
tmux -L "$sock" new-session -d -s pp -x 160 -y 40 "${alice[*]} chat bob"
tmux -L "$sock" set-option -t pp remain-on-exit on
tmux -L "$sock" split-window -t pp -v "${bob[*]} chat alice"
wait_for 0 "chat with bob"
wait_for 1 "chat with alice"

tmux -L "$sock" send-keys -t pp:0.0 "hello from alice" Enter
wait_for 1 "alice: hello from alice"
tmux -L "$sock" send-keys -t pp:0.1 "hi alice, bob here" Enter
wait_for 0 "bob: hi alice, bob here"
# Alice sees her message reach Bob's device and be read there.
wait_for 0 "(read)"

tmux -L "$sock" send-keys -t pp:0.0 "/quit" Enter
tmux -L "$sock" send-keys -t pp:0.1 "/quit" Enter
echo "PASS: typed lines crossed both ways between two paperplane chat sessions"

# Shared by the CLI tests: a temporary directory, a real paperplane-server on 127.0.0.1:0
# with open registration, and cleanup on any exit. Source it after setting `server_bin`.
# Sets: work (the directory), server_pid, link (the server's paperplane://server link).
work="$(mktemp -d "${TMPDIR:-/tmp}/pp-cli.XXXXXX")"
server_pid=""
cleanup_hooks=()
cleanup() {
    for hook in "${cleanup_hooks[@]}"; do "$hook"; done
    [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# Starts the server (extra arguments are passed on) and waits (up to 20 s) for its link.
start_server() {
    "$server_bin" --listen 127.0.0.1:0 --data-dir "$work/data" --registration open "$@" \
        >"$work/server.log" 2>&1 &
    server_pid=$!
    link=""
    for _ in $(seq 1 200); do
        link="$(sed -n 's/^ *server link: *\(paperplane:[^ ]*\)$/\1/p' "$work/server.log")"
        [[ -n "$link" ]] && return 0
        sleep 0.1
    done
    echo "FAIL: server did not start" >&2
    cat "$work/server.log" >&2
    exit 1
}

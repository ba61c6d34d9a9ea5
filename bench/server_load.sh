#!/usr/bin/env bash
# Load test of a real paperplane-server on loopback: for each connection count, start a fresh
# server (temp data dir, raised rate limits and connection cap), run pp_server_load against it,
# stop the server. Then the same against pp_forward_floor, the server's network edge with
# nothing stored or checked, so the two are measured side by side in one run. Last,
# pp_loopback_ceiling: the same frames per message between two bare single-threaded epoll
# loops over TLS 1.3 (one record and one send per frame, then coalesced per round of events),
# a ceiling for a server that writes frame by frame here. Loopback only; every wait below is
# bounded.
#
#   bench/server_load.sh [BUILD_DIR] [-- extra pp_server_load options]
#   COUNTS="1000 5000 10000" MESSAGES=20 RATE=20000 THREADS=1 bench/server_load.sh build/release
#   PEERS="server floor" (any of server, floor, ceiling) runs only those. ACK_BATCH=1 has every push acked on
#   its own, as a client that stores each message as it comes does: then both peers get the
#   same frames per message, whatever their pace.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="${1:-$here/../build/release}"
[[ $# -gt 0 ]] && shift
[[ "${1:-}" == "--" ]] && shift
extra=("$@")

server_bin="${SERVER_BIN:-$build/apps/server/paperplane-server}"
load_bin="${LOAD_BIN:-$build/bench/pp_server_load}"
floor_bin="${FLOOR_BIN:-$build/bench/pp_forward_floor}"
ceiling_bin="${CEILING_BIN:-$build/bench/pp_loopback_ceiling}"
PEERS="${PEERS:-server floor ceiling}"
for peer in $PEERS; do
    [[ "$peer" == server || "$peer" == floor || "$peer" == ceiling ]] ||
        { echo "PEERS: unknown peer \"$peer\" (server, floor, ceiling)" >&2; exit 2; }
done
needed=()
[[ " $PEERS " == *" server "* || " $PEERS " == *" floor "* ]] && needed+=("$load_bin")
[[ " $PEERS " == *" server "* ]] && needed+=("$server_bin")
[[ " $PEERS " == *" floor "* ]] && needed+=("$floor_bin")
[[ " $PEERS " == *" ceiling "* ]] && needed+=("$ceiling_bin")
for b in "${needed[@]}"; do
    [[ -x "$b" ]] || { echo "missing $b: ninja -C $build paperplane-server pp_server_load pp_forward_floor pp_loopback_ceiling" >&2; exit 2; }
done

COUNTS="${COUNTS:-1000 5000 10000}"
MESSAGES="${MESSAGES:-20}"
WINDOW="${WINDOW:-4}"
RATE="${RATE:-20000}"
RATE_SECONDS="${RATE_SECONDS:-5}"
THREADS="${THREADS:-1}"
ACK_BATCH="${ACK_BATCH:-64}"
IO_THREADS="${IO_THREADS:-2}"  # network threads of either peer, so they compare like with like

# Both processes inherit this limit; each needs one descriptor per connection and some spare.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "open-file limit: $(ulimit -n); cores: $(nproc); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "server: $server_bin ($(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo '?'), working tree may differ)"

work="$(mktemp -d "${TMPDIR:-/tmp}/pp-load.XXXXXX")"
server_pid=""
stop_server() {
    [[ -n "$server_pid" ]] || return 0
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 200); do  # up to 20 s for a clean stop
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$server_pid" 2>/dev/null; then
        echo "server $server_pid did not stop in 20 s: SIGKILL" >&2
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}
cleanup() { stop_server; rm -rf "$work"; }
trap cleanup EXIT INT TERM

# Starts peer $1 ("server" or "floor") for $2 connections; sets server_pid, port, pin and log.
start_peer() {
    local peer="$1" n="$2"
    log="$work/$peer-$n.log"
    if [[ "$peer" == floor ]]; then
        "$floor_bin" --listen 127.0.0.1:0 --threads "$IO_THREADS" >"$log" 2>&1 &
        server_pid=$!
    else
        start_server "$n"
    fi
    port="" pin=""
    for _ in $(seq 1 100); do  # up to 10 s to come up
        port="$(sed -n 's/^[a-z_-]* listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$log")"
        pin="$(sed -n 's/^ *certificate pin: *sha256:\([0-9a-f]*\)$/\1/p' "$log")"
        [[ -n "$port" && -n "$pin" ]] && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "$peer did not start:" >&2
    cat "$log" >&2
    exit 1
}

start_server() {
    local n="$1"
    data="$work/data-$n"
    conf="$work/server-$n.toml"
    mkdir -p "$data"
    max_conn=$(( n + 1000 ))
    cat >"$conf" <<EOF
io_threads = $IO_THREADS

[registration]
policy = "open"

[limits]
requests_per_second = 100000.0
request_burst = 100000.0
account_requests_per_second = 100000.0
account_request_burst = 100000.0
address_requests_per_second = 1000000.0
address_request_burst = 1000000.0
registrations_per_address_per_second = 1000000.0
registration_burst = 1000000.0
max_connections = $max_conn
idle_timeout_ms = 600000
handshake_timeout_ms = 60000

[queues]
max_messages = 100000
EOF
    echo "server config: $(tr '\n' ' ' <"$conf")"
    "$server_bin" --listen 127.0.0.1:0 --data-dir "$data" --config "$conf" >"$log" 2>&1 &
    server_pid=$!
}

# The ceiling runs at least this many messages per count (its runs are short, and a second of
# traffic is too little to read), CEILING_RUNS times per mode. It gets the same window, ack
# batch and content size as the generator; unlike the generator it has no ack timer, so the
# pushes left at the end of a run go unacknowledged (fewer frames: still a ceiling).
CEILING_TOTAL="${CEILING_TOTAL:-150000}"
CEILING_RUNS="${CEILING_RUNS:-2}"
content_bytes=()
for (( i = 0; i < ${#extra[@]}; i++ )); do
    [[ "${extra[$i]}" == --content-bytes ]] && content_bytes=(--content-bytes "${extra[$((i + 1))]:-}")
done
run_ceiling() {
    local n="$1" messages=$(( (CEILING_TOTAL + $1 - 1) / $1 )) mode run
    (( messages < MESSAGES )) && messages=$MESSAGES
    for mode in "" --coalesce; do
        for (( run = 1; run <= CEILING_RUNS; run++ )); do
            cmd=("$ceiling_bin" --connections "$n" --messages "$messages" --window "$WINDOW"
                 --ack-batch "$ACK_BATCH" "${content_bytes[@]}" --tls $mode)
            echo "command: ${cmd[*]}"
            rc=0
            row="$(timeout --signal=TERM --kill-after=10 900 "${cmd[@]}")" || rc=$?
            echo "$row"
            if [[ $rc -ne 0 ]]; then
                echo "pp_loopback_ceiling exited with $rc"
                status=1
            fi
            if [[ -n "$row" ]]; then ceiling_rows+=("$row"); fi
        done
    done
}

status=0
summary=()
ceiling_rows=()
for n in $COUNTS; do
  for peer in $PEERS; do
    if [[ "$peer" == ceiling ]]; then
        echo
        echo "=== $n connections: ceiling ==="
        run_ceiling "$n"
        continue
    fi
    echo
    echo "=== $n connections: $peer ==="
    start_peer "$peer" "$n"
    cmd=("$load_bin" --host 127.0.0.1 --port "$port" --pin "$pin" --server-pid "$server_pid"
         --connections "$n" --messages "$MESSAGES" --window "$WINDOW" --threads "$THREADS"
         --rate "$RATE" --rate-seconds "$RATE_SECONDS" --ack-batch "$ACK_BATCH" "${extra[@]}")
    echo "command: ${cmd[*]}"
    rc=0
    out="$work/load-$peer-$n.txt"
    # The tool bounds itself; `timeout` is the backstop if it ever hangs.
    timeout --signal=TERM --kill-after=10 1200 "${cmd[@]}" | tee "$out" || rc=$?
    [[ $rc -eq 0 ]] || { echo "pp_server_load exited with $rc"; status=1; }
    echo "$peer threads: $(ls /proc/"$server_pid"/task 2>/dev/null | wc -l); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
    stop_server
    if grep -qiE "error|warn" "$log"; then
        echo "$peer log (warnings/errors, first 20 lines):"
        grep -iE "error|warn" "$log" | head -20
    fi
    # The tool's table rows, tagged with the peer they measured.
    while IFS= read -r row; do summary+=("| $peer $row"); done < <(grep -E '^\| [0-9]+/[0-9]+ ' "$out")
    rm -rf "$work/data-$n"
  done
done

if (( ${#summary[@]} )); then
    echo
    echo "=== side by side (server = paperplane-server; floor = pp_forward_floor, nothing stored) ==="
    echo "| peer | connections | mode | registered in | RSS idle total | KiB/conn | sends/s | deliveries/s | p50 ms | p99 ms | max ms | peer us/msg | errors |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${summary[@]}"
fi
if (( ${#ceiling_rows[@]} )); then
    echo
    echo "=== ceiling (pp_loopback_ceiling: the generator's frames between two bare single-threaded epoll loops over TLS 1.3; nothing parsed, checked or stored) ==="
    echo "| connections | mode | deliveries/s | generator us/msg | forwarder us/msg | both us/msg |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${ceiling_rows[@]}"
fi
exit $status

#!/usr/bin/env bash
# SOCKS5 servers side by side on loopback, under the same workload (bench/relay_bench.cpp):
# a direct connection (the physical limit), paperplane-relay's SOCKS5 mode, microsocks and
# Dante. Starts each server in turn on a free port, runs pp_relay_bench through it, stops it,
# and prints one table. A server that is not built or not installed gets a row saying so.
#
#   bench/relay_bench.sh            3 s per throughput test, 10k idle connections
#   bench/relay_bench.sh --smoke    a few hundred ms each, 200 idle connections (ctest)
#   SECONDS_EACH=5 IDLE=5000 bench/relay_bench.sh
#   PAPERPLANE_RELAY=path/to/paperplane-relay RELAY_BENCH_TOOL=path/to/pp_relay_bench ...
#
# Leave a minute between full runs: the idle test's connections end in TIME_WAIT on the
# proxies' outgoing ports, and Dante (which binds before it connects) cannot reuse those.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tool="${RELAY_BENCH_TOOL:-$here/../build/release/bench/pp_relay_bench}"
relay="${PAPERPLANE_RELAY:-$here/../build/release/apps/relay/paperplane-relay}"
microsocks_bin="${MICROSOCKS:-$(command -v microsocks || true)}"
danted_bin="${DANTED:-/usr/sbin/danted}"

smoke=0
[[ "${1:-}" == "--smoke" ]] && smoke=1
SECONDS_EACH="${SECONDS_EACH:-3}"
IDLE="${IDLE:-10000}"
[[ -x "$tool" ]] || { echo "missing $tool: ninja -C build/release pp_relay_bench" >&2; exit 2; }

# Every process here inherits this; a proxy holds two descriptors per idle connection.
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fd_limit="$(ulimit -n)"
note=""
if (( smoke == 0 )) && (( IDLE * 2 + 200 > fd_limit )); then
    IDLE=$(( (fd_limit - 200) / 2 / 1000 * 1000 ))
    note="open-file limit $fd_limit (hard): idle test at $IDLE connections instead of 10000"
fi
args=(--seconds "$SECONDS_EACH" --idle "$IDLE")
(( smoke )) && args=(--smoke)

work="$(mktemp -d "${TMPDIR:-/tmp}/pp-relay-bench.XXXXXX")"
proxy_pid=""
stop_proxy() {
    [[ -n "$proxy_pid" ]] || return 0
    kill -TERM "$proxy_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do  # up to 5 s for a clean stop
        kill -0 "$proxy_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$proxy_pid" 2>/dev/null || true
    wait "$proxy_pid" 2>/dev/null || true
    proxy_pid=""
}
cleanup() { stop_proxy; rm -rf "$work"; }
trap cleanup EXIT INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_port() {  # up to 5 s for the proxy to listen
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

rows=()
status=0
# run NAME [PID PORT]: one row from pp_relay_bench's "key value" lines.
run() {
    local name="$1" pid="${2:-}" port="${3:-}" out
    local targs=("${args[@]}")
    [[ -n "$port" ]] && targs+=(--proxy "127.0.0.1:$port" --pid "$pid")
    if ! out="$("$tool" "${targs[@]}" 2>"$work/$name.err")"; then
        status=1
        echo "$name: $(tr '\n' ' ' <"$work/$name.err")" >&2
    fi
    get() { awk -v k="$1" '$1 == k { print $2 }' <<<"$out"; }
    local pss rss
    rss="$(get idle_rss_kib)"
    pss="$(get idle_pss_kib)"
    rows+=("$(printf '| %-16s | %8s | %8s | %9s | %9s | %9s |' "$name" "$(get bulk_1)" \
        "$(get bulk_16)" "$(get cps)" "${rss:--}" "${pss:--}")")
    local failed
    failed="$(awk '$1 ~ /_failed$/ { sub(/_failed$/, "", $1); printf " %s: %s;", $1, $2 }' <<<"$out")"
    [[ -n "$failed" ]] && notes+=("$name, connections failed in$failed see its log in the run")
    return 0
}
notes=()
skip() { rows+=("$(printf '| %-16s | %s |' "$1" "$2")"); }

# (a) direct
run direct

# (b) paperplane-relay, SOCKS5 mode
if [[ -x "$relay" ]]; then
    port="$(free_port)"
    mkdir -p "$work/relay-data"
    "$relay" run --data-dir "$work/relay-data" --socks5 "127.0.0.1:$port" --socks5-no-auth \
        --socks5-allow 127.0.0.0/8 --admin '' >"$work/relay.log" 2>&1 &
    proxy_pid=$!
    if wait_port "$port"; then run paperplane-relay "$proxy_pid" "$port"; else
        skip paperplane-relay "did not start: $(tail -1 "$work/relay.log")"; status=1; fi
    stop_proxy
else
    skip paperplane-relay "not built ($relay)"
fi

# (c) microsocks
if [[ -n "$microsocks_bin" && -x "$microsocks_bin" ]]; then
    port="$(free_port)"
    "$microsocks_bin" -i 127.0.0.1 -p "$port" >"$work/microsocks.log" 2>&1 &
    proxy_pid=$!
    if wait_port "$port"; then run microsocks "$proxy_pid" "$port"; else
        skip microsocks "did not start"; status=1; fi
    stop_proxy
else
    skip microsocks "not installed"
fi

# (d) Dante: no authentication, loopback in and out, logging to a file.
if [[ -x "$danted_bin" ]]; then
    port="$(free_port)"
    cat >"$work/danted.conf" <<EOF
logoutput: $work/danted.log
internal: 127.0.0.1 port = $port
external: 127.0.0.1
clientmethod: none
socksmethod: none
client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 log: error }
socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 log: error }
EOF
    "$danted_bin" -f "$work/danted.conf" -p "$work/danted.pid" >"$work/danted.out" 2>&1 &
    proxy_pid=$!
    if wait_port "$port"; then run dante "$proxy_pid" "$port"; else
        skip dante "did not start: $(tail -1 "$work/danted.log" 2>/dev/null)"; status=1; fi
    stop_proxy
else
    skip dante "not installed ($danted_bin)"
fi

mode="$SECONDS_EACH s per throughput test, $IDLE idle connections"
(( smoke )) && mode="smoke run (tiny durations: figures are not measurements)"
echo "SOCKS5 on loopback: $mode; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
[[ -n "$note" ]] && echo "$note"
echo "| server           | 1 stream | 16 strms |  conn/s   | idle RSS  | idle PSS  |"
echo "|                  |  Gbit/s  |  Gbit/s  |           | KiB/conn  | KiB/conn  |"
echo "|------------------|----------|----------|-----------|-----------|-----------|"
printf '%s\n' "${rows[@]}"
(( ${#notes[@]} )) && printf '%s\n' "${notes[@]}"
exit "$status"

#!/usr/bin/env bash
# The censorship lab: alice behind a censor router, bob and the home server (home.lab) outside,
# two paperplane-relays abroad that the server vouches for in its signed endpoint list. The
# censor blocks, poisons, probes and throttles; each scenario checks that alice's client finds
# a way and that every message sent before and during the censorship arrives exactly once, in
# both directions. Topology and plumbing: tests/lab/lib.sh. Needs root.
#   tests/lab/censorship_lab.sh PAPERPLANE_SERVER PAPERPLANE PAPERPLANE_RELAY PP_LAB_PROBE
# LAB_SCENARIOS="0 1 2 3 4 5" (the default) picks scenarios; 2 needs 1, 4 needs 2.
set -euo pipefail
[[ $# -eq 4 ]] || {
    echo "usage: $0 PAPERPLANE_SERVER PAPERPLANE PAPERPLANE_RELAY PP_LAB_PROBE" >&2
    exit 2
}
server_bin="$1"
cli_bin="$2"
relay_bin="$3"
probe_bin="$4"
scenarios="${LAB_SCENARIOS:-0 1 2 3 4 5}"

if [[ "$(id -u)" -ne 0 ]]; then
    echo "FAIL: the censorship lab needs root: it makes network namespaces, veth pairs," \
        "nftables rules and traffic-control qdiscs (run it as root, as CI does)" >&2
    exit 1
fi
for tool in ip nft tc dnsmasq tcpdump curl getent; do
    command -v "$tool" >/dev/null ||
        { echo "FAIL: the censorship lab needs $tool: run scripts/install-deps" >&2 && exit 1; }
done
for bin in "$server_bin" "$cli_bin" "$relay_bin" "$probe_bin"; do
    [[ -x "$bin" ]] || { echo "FAIL: not built: $bin" >&2 && exit 1; }
done

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
scenario="setup"
reported=""
fail() {
    echo "FAIL: [$scenario] $*" >&2
    lab_print_logs
    reported=1
    exit 1
}
# A command that fails outside a check still names itself and the scenario.
set -E
failed_command=""
trap 'failed_command="line $LINENO: $BASH_COMMAND"' ERR
on_exit() {
    local rc=$?
    if [[ $rc -ne 0 && -z "$reported" ]]; then
        echo "FAIL: [$scenario] exit status $rc after $failed_command" >&2
        lab_print_logs
    fi
    lab_cleanup
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# Our own deadline, well under ctest's 300 s (which kills with SIGKILL, leaving no chance to
# clean up): the trap runs only once the current client command (30 s at most) returns.
# The sleep holds none of our output, and goes with the watchdog when the cleanup stops it.
(
    sleep "${LAB_DEADLINE_SECONDS:-200}" >/dev/null 2>&1 &
    nap=$!
    trap 'kill $nap 2>/dev/null; exit 0' TERM
    wait "$nap"
    echo "FAIL: the lab ran out of time" >&2
    kill -TERM $$
) &
watchdog=$!
lab_pids+=("$watchdog")
step() {
    scenario="$1"
    scenario_started=$SECONDS
    echo "== $scenario"
}
done_step() { echo "   ok ($((SECONDS - scenario_started)) s)"; }
wanted() { [[ " $scenarios " == *" $1 "* ]]; }
ms() { date +%s%3N; }

lab_started=$SECONDS
lab_remove_leftovers
step "setup: namespaces, censor, DNS, relays, server, accounts"
lab_build_topology
censor_dns "$IP_SRV" || fail "the client resolves home.lab to '$dns_got', not $IP_SRV"

# Two relays abroad, relay mode on 443, admin on their own loopback; their share links.
relay_link=()
for r in 1 2; do
    ns_var="NS_R$r"
    ip_var="IP_R$r"
    args=(--data-dir "$work/relay$r" --relay 0.0.0.0:443 --upstream home.lab:8443
        --public-host "${!ip_var}" --admin 127.0.0.1:9180 --threads 1 --no-qr)
    start_in "${!ns_var}" "relay$r" "$relay_bin" run "${args[@]}"
    for _ in $(seq 1 100); do
        grep -q "^Share links" "$work/relay$r.log" && break
        sleep 0.1
    done
    grep -q "relay listening on 0.0.0.0:443" "$work/relay$r.log" || fail "relay$r did not start"
    in_ns "${!ns_var}" "$relay_bin" link "${args[@]}" >"$work/relay$r-links.txt" ||
        fail "relay$r: link failed"
    link="$(grep -o 'paperplane://relay?[^ ]*' "$work/relay$r-links.txt" || true)"
    [[ "$link" == "paperplane://relay?host=${!ip_var}&port=443&pin="*"&secret="* ]] ||
        fail "relay$r printed no relay link: $(cat "$work/relay$r-links.txt")"
    relay_link[r]="$link"
done

# The home server: its own address as an endpoint, the two relays vouched for.
"$server_bin" --help | grep -q -- --vouch-relay ||
    fail "paperplane-server has no --endpoint/--vouch-relay: no signed endpoint list to test"
start_in "$NS_SRV" server "$server_bin" --listen 0.0.0.0:8443 --data-dir "$work/server" \
    --registration open --public-host home.lab --endpoint "$IP_SRV:8443" \
    --vouch-relay "${relay_link[1]}" --vouch-relay "${relay_link[2]}"
server_link=""
for _ in $(seq 1 200); do
    server_link="$(sed -n 's/^ *server link: *\(paperplane:[^ ]*\)$/\1/p' "$work/server.log")"
    [[ -n "$server_link" ]] && break
    sleep 0.1
done
[[ "$server_link" == "paperplane://server?host=home.lab&port=8443&pin="* ]] ||
    fail "the server printed no home.lab link"
pin="${server_link##*pin=}"
[[ ${#pin} -eq 64 ]] || fail "server link without a pin: $server_link"
account_link="paperplane://server?host=home.lab&port=8443&pin=$pin"
# The way is open: the client resolves home.lab through the censor and reaches it.
health="$(in_ns "$NS_CLI" curl -sk --max-time 5 https://home.lab:8443/healthz)" ||
    fail "the client cannot reach https://home.lab:8443/healthz"

alice() { in_ns "$NS_CLI" "$cli_bin" --profile-dir "$work/alice" "$@"; }
bob() { in_ns "$NS_SRV" "$cli_bin" --profile-dir "$work/bob" "$@"; }
alice init >/dev/null || fail "alice: init"
alice register "$account_link" >"$work/alice-register.txt" 2>&1 ||
    fail "alice: register: $(cat "$work/alice-register.txt")"
bob init >/dev/null || fail "bob: init"
bob register "$account_link" >"$work/bob-register.txt" 2>&1 ||
    fail "bob: register: $(cat "$work/bob-register.txt")"
alice_contact="$(alice invite --no-qr)" || fail "alice: invite"
bob_contact="$(bob invite --no-qr)" || fail "bob: invite"
alice add "$bob_contact" --name bob >/dev/null || fail "alice: add bob"
bob add "$alice_contact" --name alice >/dev/null || fail "bob: add alice"
done_step

# Messages: unique texts, every one remembered to be counted at its receiver.
sent_by_alice=()
sent_by_bob=()
msg_n=0
# say WHO: WHO sends the other a new message; the send must be acknowledged by the server now.
say() {
    local who="$1" out text
    msg_n=$((msg_n + 1))
    text="$lab_tag-${scenario%%:*}-$who-$msg_n"
    text="${text// /_}"
    if [[ "$who" == alice ]]; then
        out="$(alice --timeout 30 send bob "$text" 2>&1)" || fail "alice could not send: $out"
        sent_by_alice+=("$text")
    else
        out="$(bob --timeout 30 send alice "$text" 2>&1)" || fail "bob could not send: $out"
        sent_by_bob+=("$text")
    fi
}
# Both fetch what waits for them, then every message ever sent is in its receiver's history
# exactly once.
expect_delivered() {
    local out hist t n
    out="$(alice --timeout 30 sync 2>&1)" || fail "alice could not sync: $out"
    out="$(bob --timeout 30 sync 2>&1)" || fail "bob could not sync: $out"
    hist="$(bob history alice --json --limit 100000)" || fail "bob: history"
    for t in "${sent_by_alice[@]}"; do
        n="$(grep -cF "\"text\": \"$t\"" <<<"$hist" || true)"
        [[ "$n" == 1 ]] || fail "bob has alice's '$t' $n times, not once"
    done
    hist="$(alice history bob --json --limit 100000)" || fail "alice: history"
    for t in "${sent_by_bob[@]}"; do
        n="$(grep -cF "\"text\": \"$t\"" <<<"$hist" || true)"
        [[ "$n" == 1 ]] || fail "alice has bob's '$t' $n times, not once"
    done
}
# expect_route REGEX: the route of the connection alice's client makes now, as `status --json`
# reports it, matches; it is left in $route.
expect_route() {
    local want="$1" out
    out="$(alice --timeout 30 status --json 2>&1)" || fail "alice: status: $out"
    grep -q '"online": true' <<<"$out" || fail "alice is offline: $out"
    route="$(sed -n 's/^ *"route": "\(.*\)",\{0,1\}$/\1/p' <<<"$out")"
    [[ "$route" =~ ^($want)$ ]] || fail "alice's route is '$route', expected '$want': $out"
    echo "   alice's route: $route"
}
# One exchange each way, timed: $round_ms (to compare a throttled link with a free one).
timed_round() {
    local t0
    t0=$(ms)
    say alice
    say bob
    expect_delivered
    round_ms=$(($(ms) - t0))
}
metric() {
    local ns="$1" name="$2"
    in_ns "$ns" curl -s --max-time 5 http://127.0.0.1:9180/metrics |
        sed -n "s/^$name \([0-9]*\)$/\1/p"
}

# Tunnels both relays authenticated so far.
tunnels() {
    echo $(($(metric "$NS_R1" paperplane_relay_relay_authenticated_total) +
        $(metric "$NS_R2" paperplane_relay_relay_authenticated_total)))
}
# expect_tunnels BEFORE: alice's four connections since (two sends, a sync, a status) each went
# through a relay: the relays authenticated at least four more tunnels.
expect_tunnels() {
    local now
    now="$(tunnels)"
    [[ $((now - $1)) -ge 4 ]] || fail "the relays authenticated $((now - $1)) tunnels, not >= 4"
    echo "   relay tunnels: $1 -> $now"
}

baseline_ms=""
if wanted 0; then
    step "0: no censorship"
    say alice
    say bob
    expect_delivered
    expect_route "direct home.lab:8443"
    # The client fetched the server's signed endpoint list with that connection.
    endpoints="$(alice endpoints show --json 2>&1)" || fail "alice: endpoints show: $endpoints"
    for want in "\"$IP_SRV:8443\"" "\"$IP_R1:443\"" "\"$IP_R2:443\""; do
        grep -qF "$want" <<<"$endpoints" || fail "alice's endpoint list lacks $want: $endpoints"
    done
    # Alice added no route of her own: whatever she uses later came from the signed list.
    routes="$(alice route list --json 2>&1)" || fail "alice: route list: $routes"
    grep -q '"source": "user"' <<<"$routes" && fail "alice has routes of her own: $routes"
    for want in "$IP_R1" "$IP_R2"; do
        grep -qF "$want" <<<"$routes" || fail "alice's routes lack relay $want: $routes"
    done
    timed_round
    baseline_ms=$round_ms
    echo "   one exchange each way: $baseline_ms ms"
    done_step
fi

first_relay=""
second_relay=""
if wanted 1; then
    step "1: the server's address is blocked"
    say alice
    say bob
    censor_block "$IP_SRV"
    before="$(tunnels)"
    say alice
    say bob
    say alice
    expect_delivered
    expect_route "relay ($IP_R1|$IP_R2):443"
    expect_tunnels "$before"
    first_relay="${route#relay }"
    first_relay="${first_relay%:443}"
    second_relay="$IP_R1"
    [[ "$first_relay" == "$IP_R1" ]] && second_relay="$IP_R2"
    done_step
fi

if wanted 2; then
    step "2: the first relay is blocked too"
    [[ -n "$first_relay" ]] || fail "needs scenario 1"
    say alice
    say bob
    censor_block "$first_relay"
    # The censor records alice's way to the other relay, for scenario 4 to replay.
    start_in "$NS_CEN" tcpdump tcpdump -i "$IF_CEN_CLI" --immediate-mode -U -s 0 -Z root \
        -w "$work/relay.pcap" "tcp port 443 and host $second_relay"
    tcpdump_pid=$last_pid
    for _ in $(seq 1 50); do
        grep -q "listening on" "$work/tcpdump.log" && break
        sleep 0.1
    done
    grep -q "listening on" "$work/tcpdump.log" || fail "tcpdump did not start"
    before="$(tunnels)"
    say alice
    say bob
    say alice
    expect_delivered
    expect_route "relay $second_relay:443"
    expect_tunnels "$before"
    sleep 0.5
    kill -INT "$tcpdump_pid"
    wait "$tcpdump_pid" 2>/dev/null || true
    done_step
fi

if wanted 3; then
    step "3: DNS poisoned, both relays blocked, the server's address open again"
    say alice
    say bob
    # Every way cut for a moment: a message waits in alice's outbox (exit 75, "queued for
    # later") and must arrive, once, when a way opens again.
    censor_block "$IP_SRV"
    censor_block "$IP_R1"
    censor_block "$IP_R2"
    msg_n=$((msg_n + 1))
    queued="$lab_tag-3-alice-queued-$msg_n"
    set +e
    out="$(alice --timeout 3 send bob "$queued" 2>&1)"
    rc=$?
    set -e
    [[ $rc -eq 75 ]] || fail "with every way cut, send exited $rc, not 75 (queued): $out"
    sent_by_alice+=("$queued")
    echo "   every way cut: alice's message queued"
    censor_unblock "$IP_SRV"
    censor_dns "$IP_SINKHOLE" || fail "poisoned, home.lab resolves to '$dns_got'"
    say alice
    say bob
    say alice
    expect_delivered
    expect_route "direct $IP_SRV:8443"
    done_step
fi

if wanted 4; then
    step "4: the censor probes the relay alice used"
    [[ -s "$work/relay.pcap" ]] || fail "needs scenario 2's capture"
    target="$second_relay"
    target_ns="$NS_R1"
    [[ "$target" == "$IP_R2" ]] && target_ns="$NS_R2"
    # relay_counters: the target relay's tunnels, decoy visits and bytes sent upstream.
    relay_counters() {
        local name v
        counters=()
        for name in authenticated_total decoy_total bytes_up_total; do
            v="$(metric "$target_ns" "paperplane_relay_relay_$name")"
            [[ "$v" =~ ^[0-9]+$ ]] || fail "relay $target's /metrics lacks $name"
            counters+=("$v")
        done
    }
    relay_counters
    auth_before=${counters[0]}
    decoy_before=${counters[1]}
    up_before=${counters[2]}
    # The counter counts: alice's tunnels of scenario 2 went through this relay.
    [[ "$auth_before" -ge 1 ]] || fail "relay $target counted no tunnel of alice's"
    probe() { in_ns "$NS_CEN" "$probe_bin" send "$target" 443 "$@"; }

    # A plain HTTPS visit: nginx's welcome page.
    page="$(in_ns "$NS_CEN" curl -sk --max-time 10 -D "$work/probe-curl-headers.txt" \
        "https://$target/")" || fail "curl -k https://$target/ failed"
    [[ "$page" == *"<title>Welcome to nginx!</title>"* ]] || fail "curl -k got: $page"
    grep -qi '^server: nginx' "$work/probe-curl-headers.txt" ||
        fail "no 'Server: nginx': $(cat "$work/probe-curl-headers.txt")"
    echo "   curl -k https://$target/: nginx's welcome page"

    # Random bytes (whose first byte does not start TLS): nginx's 400 for junk.
    head -c 256 /dev/urandom >"$work/junk.bin"
    first=$((RANDOM % 0x7f))
    [[ $first -eq 22 ]] && first=23
    printf "\\$(printf %03o "$first")" | dd of="$work/junk.bin" bs=1 count=1 conv=notrunc \
        status=none
    got="$(probe "$work/junk.bin" --out "$work/reply-junk.bin")" || fail "probe: junk"
    grep -qa "^HTTP/1.1 400 Bad Request" "$work/reply-junk.bin" &&
        grep -qa "<center>nginx</center>" "$work/reply-junk.bin" ||
        fail "random bytes got ($got): $(head -c 300 "$work/reply-junk.bin")"
    echo "   random bytes: $got, nginx's 400 page"

    # Alice's recorded connection: what she sent the relay, as the censor saw it.
    in_ns "$NS_CEN" "$probe_bin" stream "$work/relay.pcap" "$IP_CLI" "$target" 443 \
        "$work/replay.bin" >"$work/replay.txt" || fail "no client stream in the capture"
    "$probe_bin" records "$work/replay.bin" >"$work/replay-records.txt"
    [[ "$(head -n 1 "$work/replay-records.txt")" == "22 "* ]] ||
        fail "the recorded stream does not start with a TLS handshake: $(head -n 3 "$work/replay-records.txt")"
    # TLS 1.3 records after the handshake: the client's Finished, then the authenticator.
    [[ "$(grep -c '^23 ' "$work/replay-records.txt" || true)" -ge 2 ]] ||
        fail "too few records in the recording: $(cat "$work/replay-records.txt")"
    "$probe_bin" record "$work/replay.bin" 23 2 "$work/replay-auth.bin" ||
        fail "no second application-data record"
    echo "   recorded $(cat "$work/replay.txt"), $(wc -l <"$work/replay-records.txt") TLS records"

    # Replayed raw: a TLS server answers the old ClientHello, then the old keys fail: it closes.
    got="$(probe "$work/replay.bin" --out "$work/reply-raw.bin")" || fail "probe: raw replay"
    [[ "$got" == *"first=16"* && ( "$got" == *"end=eof"* || "$got" == *"end=reset"* ) ]] ||
        fail "raw replay: $got"
    grep -qa "HTTP/" "$work/reply-raw.bin" && fail "raw replay got plain HTTP back"
    echo "   raw replay: $got (TLS answer, then closed)"
    # Replayed inside a fresh TLS session, whole and as the authenticator record alone: the
    # decoy's 400, as for any junk over TLS.
    for what in replay replay-auth; do
        got="$(probe "$work/$what.bin" --tls --out "$work/reply-tls-$what.bin")" ||
            fail "probe: $what over TLS"
        grep -qa "^HTTP/1.1 400 Bad Request" "$work/reply-tls-$what.bin" ||
            fail "$what over fresh TLS got ($got): $(head -c 300 "$work/reply-tls-$what.bin")"
        echo "   $what.bin inside fresh TLS: $got, nginx's 400 page"
    done

    relay_counters
    auth_after=${counters[0]}
    decoy_after=${counters[1]}
    up_after=${counters[2]}
    [[ "$auth_after" == "$auth_before" ]] ||
        fail "a probe authenticated: $auth_before -> $auth_after tunnels"
    [[ "$up_after" == "$up_before" ]] || fail "bytes went upstream: $up_before -> $up_after"
    [[ "$((decoy_after - decoy_before))" -eq 3 ]] ||
        fail "decoy visits $decoy_before -> $decoy_after, expected 3 more (curl, two TLS replays)"
    echo "   /metrics: tunnels $auth_before -> $auth_after, decoy visits $decoy_before -> $decoy_after"
    done_step
fi

if wanted 5; then
    step "5: the censor throttles"
    # Everything open again: the throttle alone is the censorship.
    censor_dns "$IP_SRV" || fail "mended, home.lab resolves to '$dns_got'"
    in_ns "$NS_CEN" nft flush set inet pplab blocked
    if [[ -z "$baseline_ms" ]]; then
        timed_round
        baseline_ms=$round_ms
    fi
    say alice
    say bob
    censor_ifs=("$IF_CEN_CLI" "${if_tag}kr1" "${if_tag}kr2" "${if_tag}ks")
    if in_ns "$NS_CEN" tc qdisc add dev "$IF_CEN_CLI" root netem delay 200ms loss 10% \
        2>/dev/null; then
        throttle="netem delay 200ms loss 10%"
        for dev in "${censor_ifs[@]:1}"; do
            in_ns "$NS_CEN" tc qdisc add dev "$dev" root netem delay 200ms loss 10%
        done
    else
        # No sch_netem in this kernel: a token bucket for the rate, nftables for the loss.
        throttle="tbf 16kbit + nft random loss 10% (no netem in this kernel)"
        for dev in "${censor_ifs[@]}"; do
            in_ns "$NS_CEN" tc qdisc add dev "$dev" root tbf rate 16kbit burst 1600 latency 2s
        done
        in_ns "$NS_CEN" nft add rule inet pplab forward iifname "$IF_CEN_CLI" \
            numgen random mod 100 '<' 10 counter drop comment '"throttle"'
    fi
    echo "   throttle: $throttle"
    timed_round
    throttled_ms=$round_ms
    say alice
    say bob
    expect_delivered
    echo "   one exchange each way: $baseline_ms ms free, $throttled_ms ms throttled"
    # The throttle was on the way: it held packets back and dropped some.
    qdisc="$(in_ns "$NS_CEN" tc -s qdisc show dev "$IF_CEN_CLI")"
    sent="$(sed -n 's/^ *Sent \([0-9]*\) bytes.*/\1/p' <<<"$qdisc" | head -n 1)"
    [[ "${sent:-0}" -gt 0 ]] || fail "no traffic passed the throttle: $qdisc"
    if [[ "$throttle" == tbf* ]]; then
        drops="$(in_ns "$NS_CEN" nft list chain inet pplab forward |
            sed -n 's/.*counter packets \([0-9]*\) .*comment "throttle".*/\1/p')"
        held="$(sed -n 's/.*overlimits \([0-9]*\) .*/\1/p' <<<"$qdisc" | head -n 1)"
        [[ "${held:-0}" -gt 0 ]] || fail "the rate limit never held a packet back: $qdisc"
    else
        drops=0
        for dev in "${censor_ifs[@]}"; do
            n="$(in_ns "$NS_CEN" tc -s qdisc show dev "$dev" |
                sed -n 's/.*(dropped \([0-9]*\),.*/\1/p' | head -n 1)"
            drops=$((drops + ${n:-0}))
        done
    fi
    [[ "${drops:-0}" -gt 0 ]] || fail "the throttle dropped nothing"
    echo "   $sent bytes through the throttle to alice, $drops packets dropped"
    [[ "$throttled_ms" -gt "$baseline_ms" ]] ||
        fail "the throttled exchange ($throttled_ms ms) was no slower than the free one ($baseline_ms ms)"
    for dev in "${censor_ifs[@]}"; do in_ns "$NS_CEN" tc qdisc del dev "$dev" root; done
    done_step
fi

# Nothing arrived twice later on either.
scenario="end"
[[ ${#sent_by_alice[@]} -gt 0 ]] || fail "no scenario ran (LAB_SCENARIOS=$scenarios)"
expect_delivered
echo "PASS: censorship lab, scenarios $scenarios, ${#sent_by_alice[@]} + ${#sent_by_bob[@]}" \
    "messages each delivered once, $((SECONDS - lab_started)) s"

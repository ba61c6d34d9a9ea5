#!/usr/bin/env bash
# paperplane-relay as an operator runs it: one command starts both modes and the admin
# listener; `link` prints the share links (and PNG QR codes); a real curl goes through the
# SOCKS5 mode with the generated user to the relay mode's decoy website; `user add` + SIGHUP
# admits a new user; /metrics counts what happened; SIGTERM stops it cleanly.
# Usage: relay_daemon_test.sh PATH/TO/paperplane-relay
set -euo pipefail
relay_bin="$1"
work="$(mktemp -d "${TMPDIR:-/tmp}/pp-relay.XXXXXX")"
pid=""
cleanup() {
    [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    [[ -f "$work/relay.log" ]] && sed 's/^/  relay: /' "$work/relay.log" >&2
    exit 1
}

# Only loopback is used; the SOCKS5 policy must be told to allow it (it denies it by default).
"$relay_bin" run --data-dir "$work/data" --socks5 127.0.0.1:0 --socks5-allow 127.0.0.0/8 \
    --relay 127.0.0.1:0 --upstream 127.0.0.1:9 --admin 127.0.0.1:0 --no-qr \
    >"$work/relay.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
    grep -q "^Share links" "$work/relay.log" && break
    sleep 0.1
done
port_of() { sed -n "s/^  $1 listening on 127.0.0.1:\([0-9]*\).*/\1/p" "$work/relay.log"; }
socks_port="$(port_of SOCKS5)"
relay_port="$(port_of relay)"
admin_port="$(port_of admin)"
[[ -n "$socks_port" && -n "$relay_port" && -n "$admin_port" ]] || fail "daemon did not start"
pin="$(sed -n 's/.*pin sha256:\([0-9a-f]*\)).*/\1/p' "$work/relay.log")"
[[ ${#pin} -eq 64 ]] || fail "no certificate pin in the banner"
# Its output is not a terminal, so it must not print the secrets.
password="$(sed -n 's/^friend:\(.*\)$/\1/p' "$work/data/socks5-users")"
[[ ${#password} -ge 20 ]] || fail "no generated password for friend"
grep -q -e "secret=" -e "$password" "$work/relay.log" && fail "secrets printed to a non-terminal"
[[ "$(stat -c %a "$work/data/socks5-users")" == 600 ]] || fail "users file is not 0600"

# The share links, for the ports actually bound, with PNG QR codes.
"$relay_bin" link --data-dir "$work/data" --socks5 "127.0.0.1:$socks_port" \
    --relay "127.0.0.1:$relay_port" --upstream 127.0.0.1:9 --no-qr --png-dir "$work/png" \
    >"$work/links.txt" || fail "link command failed"
relay_link="$(grep -o 'paperplane://relay?[^ ]*' "$work/links.txt")"
socks_link="$(grep -o 'socks5://[^ ]*' "$work/links.txt")"
tg_link="$(grep -o 'tg://socks?[^ ]*' "$work/links.txt")"
[[ "$relay_link" == *"port=$relay_port&pin=$pin&secret="* ]] || fail "relay link: $relay_link"
[[ "$tg_link" == "tg://socks?server=127.0.0.1&port=$socks_port&user=friend&pass="* ]] ||
    fail "telegram link: $tg_link"
for png in relay socks5-friend telegram-friend; do
    [[ "$(head -c 8 "$work/png/$png.png" | od -An -tx1 | tr -d ' \n')" == 89504e470d0a1a0a ]] ||
        fail "$png.png is not a PNG"
done

# A real SOCKS5 client with the generated user reaches the relay's decoy website over TLS.
proxy="${socks_link/socks5:/socks5h:}"
page="$(curl -sS --max-time 10 -k --proxy "$proxy" "https://127.0.0.1:$relay_port/")" ||
    fail "curl through SOCKS5 failed"
[[ "$page" == *"<html"* ]] || fail "no web page through the proxy: $page"

# A wrong password is refused (curl: 97, proxy handshake failed).
set +e
curl -sS --max-time 10 -k --proxy "socks5h://friend:wrong@127.0.0.1:$socks_port" \
    "https://127.0.0.1:$relay_port/" >/dev/null 2>&1
code=$?
set -e
[[ $code -eq 97 ]] || fail "wrong password: curl exit $code, expected 97"

# A new user works only after SIGHUP reloads the users file.
"$relay_bin" user add bob --password 'b0b:secret' --data-dir "$work/data" \
    --socks5 "127.0.0.1:$socks_port" --no-qr >"$work/add.txt" || fail "user add failed"
grep -q "socks5://bob:b0b%3Asecret@127.0.0.1:$socks_port" "$work/add.txt" ||
    fail "user add printed no link: $(cat "$work/add.txt")"
bob="socks5h://bob:b0b%3Asecret@127.0.0.1:$socks_port"
if curl -sS --max-time 10 -k --proxy "$bob" "https://127.0.0.1:$relay_port/" >/dev/null 2>&1; then
    fail "bob got in before the reload"
fi
kill -HUP "$pid"
for _ in $(seq 1 50); do
    grep -q "users file reloaded" "$work/relay.log" && break
    sleep 0.1
done
curl -sS --max-time 10 -k --proxy "$bob" "https://127.0.0.1:$relay_port/" >/dev/null ||
    fail "bob refused after the reload"

# The admin listener counts it all.
metrics="$(curl -sS --max-time 5 "http://127.0.0.1:$admin_port/metrics")" || fail "no /metrics"
value() { sed -n "s/^$1 \([0-9]*\)$/\1/p" <<<"$metrics"; }
[[ "$(value paperplane_relay_socks5_connects_total)" -ge 2 ]] || fail "connects not counted"
[[ "$(value paperplane_relay_socks5_auth_failures_total)" -ge 2 ]] || fail "auth failures not counted"
[[ "$(value paperplane_relay_relay_decoy_total)" -ge 2 ]] || fail "decoy visits not counted"
grep -q 'paperplane_relay_user_bytes_total{user="friend",direction="down"} [1-9]' <<<"$metrics" ||
    fail "per-user bytes not counted"

# A misspelt setting is an error, not a silently ignored line.
printf '[socks5]\nalow_no_auth = true\n' >"$work/typo.toml"
if "$relay_bin" link --config "$work/typo.toml" --data-dir "$work/typo" --no-qr \
    >"$work/typo.txt" 2>&1; then
    fail "a misspelt setting was accepted"
fi
grep -q 'unknown setting "alow_no_auth" in \[socks5\]' "$work/typo.txt" ||
    fail "no clear error for a misspelt setting: $(cat "$work/typo.txt")"

# `user add` on a file whose last line lacks its newline still adds a line of its own.
printf 'carol:c4rol' >>"$work/data/socks5-users"
"$relay_bin" user add dave --password d4ve --data-dir "$work/data" --no-qr >/dev/null ||
    fail "user add after an unterminated line failed"
grep -qx 'carol:c4rol' "$work/data/socks5-users" && grep -qx 'dave:d4ve' "$work/data/socks5-users" ||
    fail "user add glued onto the last line: $(cat "$work/data/socks5-users")"

# The example configuration parses and describes the relay it promises.
example="$(dirname "$0")/../../packaging/relay.toml"
"$relay_bin" link --config "$example" --data-dir "$work/example" --no-qr >"$work/example.txt" ||
    fail "link --config packaging/relay.toml failed"
grep -q "paperplane://relay?host=relay.example.org&port=443&pin=" "$work/example.txt" ||
    fail "example config: no relay link"
grep -q "socks5://friend:[A-Za-z0-9_-]*@relay.example.org:1080" "$work/example.txt" ||
    fail "example config: no SOCKS5 link"
grep -q "tg://socks?server=relay.example.org&port=1080" "$work/example.txt" ||
    fail "example config: no Telegram link: $(cat "$work/example.txt")"

# SIGTERM: a clean stop, promptly.
kill -TERM "$pid"
for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$pid" 2>/dev/null && fail "still running 5 s after SIGTERM"
wait "$pid" || fail "exit status $? after SIGTERM"
pid=""
echo "PASS"

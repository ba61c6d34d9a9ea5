#!/usr/bin/env bash
# The `paperplane` commands end to end against a real server, the way scripts use them:
# --json output, exit codes, errors that say what to do, a group, safety numbers.
#   tests/cli/cli_commands_test.sh PAPERPLANE_SERVER PAPERPLANE
set -euo pipefail
server_bin="$1"
cli_bin="$2"

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
# expect CODE CMD...: runs CMD, checks its exit code, keeps its output in $out.
expect() {
    local want="$1"
    shift
    set +e
    out="$("$@" 2>&1)"
    local got=$?
    set -e
    [[ "$got" == "$want" ]] || fail "expected exit $want, got $got from: $* -> $out"
}
has() { grep -qF -- "$1" <<<"$out" || fail "output lacks '$1': $out"; }

# It publishes one more address (refused: nobody listens on the discard port) in its list.
start_server --endpoint 127.0.0.1:9

pp() { local who="$1"; shift; "$cli_bin" --profile-dir "$work/$who" "$@"; }

# Usage errors are exit 2; --help works everywhere.
expect 2 "$cli_bin"
expect 2 "$cli_bin" frobnicate
expect 0 "$cli_bin" --help
has "register"
expect 0 "$cli_bin" group --help
has "remove"
# A missing profile says how to make one.
expect 1 pp nobody contacts
has "init"

for u in ann ben cat; do
    expect 0 pp "$u" init
    expect 0 pp "$u" register "$link" --username "$u"
done
expect 1 pp ann init  # exists already
has "exists"
expect 1 pp ann register "$link"  # registered already

ann_link="$(pp ann invite --no-qr)"
ben_link="$(pp ben invite --no-qr)"
cat_link="$(pp cat invite --no-qr)"
expect 0 pp ann invite  # with a QR code drawn in block characters
has "█"
expect 1 pp ann add "paperplane://contact?garbage"
expect 0 pp ann add "$ben_link" --name ben
expect 0 pp ann add "$cat_link" --name cat
expect 0 pp ben add "$ann_link" --name ann
expect 0 pp cat add "$ann_link" --name ann
expect 0 pp ann contacts --json
has '"name": "ben"'
has '"verified": false'

expect 0 pp ann send ben hello ben
has "sent"
expect 1 pp ann send nobody hi
has "no contact or group"
expect 0 pp ben inbox --json
has '"text": "hello ben"'
has '"sender": "ann"'
expect 0 pp ben inbox
has "no unread messages"
# A peer's control characters never reach the terminal raw, and a line break cannot fake a
# line of its own.
expect 0 pp ann send ben $'evil\e]0;pwned\a\n[00:00] cat: fake'
expect 0 pp ben inbox
has "evil?]0;pwned?"
has "    [00:00] cat: fake"
grep -q $'\e' <<<"$out" && fail "an escape character reached the terminal"
# Replies name the message they answer by the short id `history` shows: 8 digits from the
# random part of the id (its first digits are the sender's clock, shared by every message of
# the last minute), or by the full id.
expect 0 pp ben history ann
hello_id="$(grep -o '^#[0-9a-f]*' <<<"$out" | head -1 | tr -d '#')"
[[ ${#hello_id} -eq 8 ]] || fail "history shows no message ids: $out"
expect 0 pp ben history ann --json
hello_full="$(grep -o '"id": "[0-9a-f]*"' <<<"$out" | head -1 | cut -d'"' -f4)"
[[ ${#hello_full} -eq 32 && "${hello_full:12:8}" == "$hello_id" ]] ||
    fail "the short id $hello_id is not the random part of $hello_full"
expect 0 pp ben send ann --reply-to "$hello_id" hi ann
expect 0 pp ann inbox
has "ben: hi ann  (reply to #$hello_id)"
expect 0 pp ann history ben --json
has "\"reply_to\": \"$hello_full\""
expect 0 pp ben send ann --reply-to "$hello_full" and again
expect 0 pp ann inbox
has "ben: and again  (reply to #$hello_id)"
expect 1 pp ben send ann --reply-to ffffffff nope
has "history"
expect 0 pp ann sync  # brings Ben's read receipt
expect 0 pp ann history ben --json
has '"status": "read"'

expect 0 pp ann group create trio ben cat
expect 0 pp ann group list --json
has '"name": "trio"'
expect 0 pp ann send trio hi both
expect 0 pp cat inbox
has "trio / ann: hi both"
expect 0 pp ben inbox
has "trio / ann: hi both"
expect 0 pp ann group rename trio club
expect 0 pp ann group remove club cat
expect 0 pp cat sync
expect 0 pp cat group list
has "(you were removed)"

expect 0 pp ann safety ben --json
ann_digits="$(grep -o '"safety_number": "[0-9 ]*"' <<<"$out")"
expect 0 pp ben safety ann --json
grep -qF -- "$ann_digits" <<<"$out" || fail "safety numbers differ"
expect 0 pp ann verify ben
expect 0 pp ann contacts
has "verified"

expect 0 pp ann status --json
has '"online": true'
has '"route": "direct 127.0.0.1:'

# Routes: added from links, listed in the order they are tried, removed by id; bad links
# are refused with a reason and change nothing.
expect 0 pp ann route add "socks5://ann:s3cret@127.0.0.1:9"
has "added route 1: socks5 127.0.0.1:9"
expect 0 pp ann route add "tg://socks?server=127.0.0.1&port=10"
expect 0 pp ann route add "http://127.0.0.1:11"
expect 1 pp ann route add "ftp://127.0.0.1:12"
has "not a route link"
expect 1 pp ann route add "socks5://ann:s3cret@127.0.0.1:9"
expect 0 pp ann route list --json
has '"kind": "socks5"'
has '"kind": "http"'
has '"source": "server"'
grep -q "s3cret" <<<"$out" && fail "route list shows a proxy password"
expect 0 pp ann route remove 2
expect 1 pp ann route remove 2
expect 0 pp ann route list
grep -q ":10 " <<<"$out" && fail "route 2 still listed: $out"
# Dead proxies race the live address and lose.
expect 0 pp ann status --json
has '"route": "direct 127.0.0.1:'

# The server's signed endpoint list: fetched when connecting, exported, imported by another
# profile on the same server; a tampered copy is refused.
expect 0 pp ann endpoints show --json
has '"issued_at"'
expect 0 pp ann endpoints export --out "$work/endpoints.link"
[[ "$(stat -c %a "$work/endpoints.link")" == "600" ]] || fail "exported list not 0600"
expect 0 pp ann endpoints export --no-qr
grep -q "^paperplane://endpoints?list=" <<<"$out" || fail "export printed no link: $out"
expect 0 pp ben endpoints import "$work/endpoints.link"
has "signature verified"
sed 's/list=./list=A/' "$work/endpoints.link" >"$work/tampered.link"
cmp -s "$work/endpoints.link" "$work/tampered.link" && sed -i 's/list=A/list=B/' "$work/tampered.link"
expect 1 pp ben endpoints import "$work/tampered.link"
expect 0 pp ben endpoints refresh

# The server goes away: sending queues (75), syncing reports unavailable (69).
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""
expect 75 pp ann --timeout 2 send ben are you there
expect 69 pp ben --timeout 2 sync

# Passphrase profiles: wrong passphrase is 77 and leaves the profile as it was.
PAPERPLANE_PASSPHRASE="correct horse battery" expect 0 pp dee init --passphrase
before="$(sha256sum "$work/dee/profile.db")"
PAPERPLANE_PASSPHRASE="wrong" expect 77 pp dee contacts
has "passphrase"
[[ "$(sha256sum "$work/dee/profile.db")" == "$before" ]] || fail "a wrong passphrase changed the profile"
PAPERPLANE_PASSPHRASE="correct horse battery" expect 0 pp dee contacts
echo "PASS: paperplane commands, --json, exit codes"

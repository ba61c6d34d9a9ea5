# The censorship lab's plumbing: network namespaces joined by veth pairs through a censor
# router, DNS from dnsmasq in the censor, daemons started inside the namespaces, and cleanup of
# all of it on any exit. Source it from the lab script; it touches only namespaces, /etc/netns
# directories and temporary directories named with this run's prefix (the owner's pid), and
# leftovers of earlier runs whose owner is gone.
#
#   client 10.10.0.2 ──┐                 ┌── relay1 198.51.100.11   (.1 on the censor)
#                      ├─ censor router ─┼── relay2 198.51.100.140  (.129 on the censor)
#   (.1 on the censor) ┘  nft, dnsmasq   └── server 203.0.113.10    (.1 on the censor; bob too)
#
# The censor forwards between all of them; its nftables rules only ever match traffic that
# arrives from the client's interface, so the censor's own probes and the relays' way home are
# never filtered.

lab_tag="pplab-$$"  # namespaces and /etc/netns dirs: pplab-<pid>-<role>
if_tag="pl$$"       # interfaces (15 bytes at most): pl<pid><role>
NS_CLI="$lab_tag-cli"
NS_CEN="$lab_tag-cen"
NS_R1="$lab_tag-r1"
NS_R2="$lab_tag-r2"
NS_SRV="$lab_tag-srv"
LAB_NAMESPACES=("$NS_CLI" "$NS_CEN" "$NS_R1" "$NS_R2" "$NS_SRV")

IP_CLI=10.10.0.2
IP_CEN_CLI=10.10.0.1
IP_R1=198.51.100.11
IP_CEN_R1=198.51.100.1
IP_R2=198.51.100.140
IP_CEN_R2=198.51.100.129
IP_SRV=203.0.113.10
IP_CEN_SRV=203.0.113.1
IP_SINKHOLE=192.0.2.66 # what poisoned DNS answers for home.lab: nothing is there
IF_CEN_CLI="${if_tag}kc"  # the censor's side of the client's link: every rule matches it

work="$(mktemp -d "${TMPDIR:-/tmp}/pp-lab-$$.XXXXXX")"
lab_pids=()

# Everything of ours, whatever state it is in. A daemon that ignores SIGTERM for 5 s is killed.
lab_cleanup() {
    local pid ns
    for pid in "${lab_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for _ in $(seq 1 50); do
        local alive=0
        for pid in "${lab_pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [[ $alive -eq 0 ]] && break
        sleep 0.1
    done
    for pid in "${lab_pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    for pid in "${lab_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    for ns in "${LAB_NAMESPACES[@]}"; do lab_remove_namespace "$ns"; done
    rm -rf "$work"
}

# Removes one namespace of the lab: what still runs in it, the namespace, its /etc/netns dir.
lab_remove_namespace() {
    local ns="$1" pid
    if ip netns list | awk '{print $1}' | grep -qxF -- "$ns"; then
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    fi
    [[ -n "$ns" && -d "/etc/netns/$ns" ]] && rm -rf "/etc/netns/$ns"
    return 0
}

# Leftovers of earlier runs killed before their trap ran: those whose owner is gone, and any
# with our own pid (nothing of ours exists yet; a killed run's pid can come round again).
lab_remove_leftovers() {
    local name owner dir
    for name in $({
        ip netns list | awk '{print $1}'
        ls /etc/netns 2>/dev/null
    } | grep -E '^pplab-[0-9]+-' | sort -u); do
        owner="${name#pplab-}"
        owner="${owner%%-*}"
        if [[ "$owner" == "$$" ]] || ! kill -0 "$owner" 2>/dev/null; then
            echo "removing $name, left over by process $owner"
            lab_remove_namespace "$name"
        fi
    done
    for dir in "${TMPDIR:-/tmp}"/pp-lab-*.*; do
        [[ -d "$dir" ]] || continue
        owner="${dir##*/pp-lab-}"
        owner="${owner%%.*}"
        [[ "$owner" =~ ^[0-9]+$ && "$owner" != "$$" ]] || continue
        kill -0 "$owner" 2>/dev/null || rm -rf "$dir"
    done
}

# Every daemon's log, for a failure's report.
lab_print_logs() {
    local log
    for log in "$work"/*.log; do
        [[ -f "$log" ]] || continue
        echo "---- ${log##*/}" >&2
        tail -n 60 "$log" >&2
    done
}

in_ns() {
    local ns="$1"
    shift
    ip netns exec "$ns" "$@"
}

# Starts CMD in namespace NS in the background with its output in $work/NAME.log; its pid is
# kept for the cleanup and left in $last_pid.
start_in() {
    local ns="$1" name="$2"
    shift 2
    ip netns exec "$ns" "$@" >"$work/$name.log" 2>&1 &
    last_pid=$!
    lab_pids+=("$last_pid")
}

stop_pid() {
    local pid="$1"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# veth_link LEAF_NS LEAF_IF LEAF_IP CENSOR_IF CENSOR_IP PREFIXLEN: a veth pair made inside the two
# namespaces (never in the host's), addresses, and the leaf's default route via the censor.
veth_link() {
    local ns="$1" leaf_if="$2" leaf_ip="$3" cen_if="$4" cen_ip="$5" len="$6"
    ip -n "$NS_CEN" link add "$cen_if" type veth peer name "$leaf_if" netns "$ns"
    ip -n "$NS_CEN" addr add "$cen_ip/$len" dev "$cen_if"
    ip -n "$ns" addr add "$leaf_ip/$len" dev "$leaf_if"
    ip -n "$NS_CEN" link set "$cen_if" up
    ip -n "$ns" link set "$leaf_if" up
    ip -n "$ns" route add default via "$cen_ip"
}

# name resolution inside a namespace: `ip netns exec` bind-mounts /etc/netns/<ns>/* over /etc.
netns_etc() {
    local ns="$1" file="$2" content="$3"
    mkdir -p "/etc/netns/$ns"
    printf '%s\n' "$content" >"/etc/netns/$ns/$file"
}

lab_build_topology() {
    local ns
    for ns in "${LAB_NAMESPACES[@]}"; do
        ip netns add "$ns"
        ip -n "$ns" link set lo up
    done
    veth_link "$NS_CLI" "${if_tag}c" "$IP_CLI" "$IF_CEN_CLI" "$IP_CEN_CLI" 24
    veth_link "$NS_R1" "${if_tag}r1" "$IP_R1" "${if_tag}kr1" "$IP_CEN_R1" 25
    veth_link "$NS_R2" "${if_tag}r2" "$IP_R2" "${if_tag}kr2" "$IP_CEN_R2" 25
    veth_link "$NS_SRV" "${if_tag}s" "$IP_SRV" "${if_tag}ks" "$IP_CEN_SRV" 24
    in_ns "$NS_CEN" sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'

    local localhost=$'127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback'
    # Only files and DNS, whatever the host uses (nss-resolve, nscd would ask the host's own
    # resolver from inside the lab).
    for ns in "${LAB_NAMESPACES[@]}"; do netns_etc "$ns" nsswitch.conf "hosts: files dns"; done
    # The client asks the censor's resolver, as a client in a censored country asks its ISP's.
    netns_etc "$NS_CLI" resolv.conf "nameserver $IP_CEN_CLI"
    netns_etc "$NS_CLI" hosts "$localhost"
    # Relays and the server know home.lab from their own hosts files; no DNS leaves the lab.
    for ns in "$NS_R1" "$NS_R2" "$NS_SRV"; do
        netns_etc "$ns" resolv.conf "nameserver 127.0.0.1"
        netns_etc "$ns" hosts "$localhost"$'\n'"$IP_SRV"$'\thome.lab'
    done

    # The censor's firewall: a set of blocked addresses and the sinkhole, for the client only.
    in_ns "$NS_CEN" nft -f - <<EOF
table inet pplab {
    set blocked {
        type ipv4_addr
    }
    chain forward {
        type filter hook forward priority 0; policy accept;
        iifname "$IF_CEN_CLI" ip daddr @blocked counter drop
        iifname "$IF_CEN_CLI" ip daddr $IP_SINKHOLE counter drop
    }
}
EOF
}

censor_block() { in_ns "$NS_CEN" nft add element inet pplab blocked "{ $1 }"; }
censor_unblock() { in_ns "$NS_CEN" nft delete element inet pplab blocked "{ $1 }"; }

# The censor's resolver for the client: home.lab is ADDRESS, the rest of .lab does not exist,
# nothing is forwarded. Restarting it is how DNS is poisoned (and mended). Waits until the
# client resolves the name to ADDRESS; fails with what it resolved in $dns_got.
dns_pid=""
dns_got=""
censor_dns() {
    local address="$1"
    [[ -n "$dns_pid" ]] && stop_pid "$dns_pid"
    start_in "$NS_CEN" "dnsmasq-$address" dnsmasq --keep-in-foreground --conf-file=/dev/null \
        --no-resolv --no-hosts --bind-interfaces --listen-address="$IP_CEN_CLI" \
        --user=root --group=root --pid-file="$work/dnsmasq.pid" --log-queries \
        --log-facility=- --local=/lab/ --host-record="home.lab,$address"
    dns_pid=$last_pid
    for _ in $(seq 1 50); do
        dns_got="$(in_ns "$NS_CLI" getent ahostsv4 home.lab 2>/dev/null |
            awk 'NR == 1 {print $1}' || true)"
        [[ "$dns_got" == "$address" ]] && return 0
        sleep 0.1
    done
    return 1
}

# shellcheck shell=bash
#
# Part of bench/run.sh, which sources it: wireguard-go built from the module cache.

# --- scenario: wireguard-go --------------------------------------------------

WG_PIDS=()
WG_DEV=wg0

# wg_in PID CMD...: run CMD in the network and mount namespaces of the
# wireguard-go with that pid. Its UAPI socket is in /run/wireguard of its
# private /run, which only its own mount namespace can see.
wg_in() {
	local pid=$1
	shift
	nsenter -t "$pid" -m -n "$@"
}

# start_wireguard_go NS: wireguard-go in the foreground (so its pid is ours
# to stop) with a private tmpfs on /run, because both instances would
# otherwise share /run/wireguard/wg0.sock.
start_wireguard_go() {
	local ns_short=$1 dir=$2
	# shellcheck disable=SC2016 # $1 is expanded by the inner sh
	bg_start "$ns_short" "$dir/wireguard-go-$ns_short.log" \
		env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error \
		unshare -m --propagation private \
		sh -c 'mount -t tmpfs -o mode=0755 tmpfs /run && exec "$1" "$2"' sh "$WIREGUARD_GO" "$WG_DEV"
	WG_PIDS+=("$BG_PID")
	wait_until 10 "wireguard-go's UAPI socket in $ns_short" wg_in "$BG_PID" wg show "$WG_DEV"
}

# configure_wireguard NS PID PRIVATE_KEY PEER_PUBLIC_KEY PEER_OUTER LOCAL_INNER PEER_NET
configure_wireguard() {
	local ns_short=$1 pid=$2 private_key=$3 peer_public=$4 peer_outer=$5 local_inner=$6 peer_net=$7
	wg_in "$pid" wg setconf "$WG_DEV" /dev/stdin <<-EOF || return 1
		[Interface]
		PrivateKey = $private_key
		ListenPort = $WG_PORT

		[Peer]
		PublicKey = $peer_public
		AllowedIPs = $peer_net
		Endpoint = $peer_outer:$WG_PORT
	EOF
	ip -n "$(ns "$ns_short")" link set "$WG_DEV" mtu "$TUN_MTU" || return 1
	addr_add "$ns_short" "$WG_DEV" "$local_inner/32" || return 1
	ip -n "$(ns "$ns_short")" route add "$peer_net" dev "$WG_DEV" src "$local_inner"
}

up_wireguard() {
	local dir=$1 left_key right_key
	WG_PIDS=()
	mkdir -p "$dir"
	left_key=$(wg genkey)
	right_key=$(wg genkey)
	start_wireguard_go left "$dir" || { FAIL_REASON="wireguard-go did not start in left"; return 1; }
	start_wireguard_go right "$dir" || { FAIL_REASON="wireguard-go did not start in right"; return 1; }
	configure_wireguard left "${WG_PIDS[0]}" "$left_key" "$(wg pubkey <<<"$right_key")" \
		"$RIGHT_OUTER" "$LEFT_INNER" "$RIGHT_NET" || { FAIL_REASON="could not configure wg0 in left"; return 1; }
	configure_wireguard right "${WG_PIDS[1]}" "$right_key" "$(wg pubkey <<<"$left_key")" \
		"$LEFT_OUTER" "$RIGHT_INNER" "$LEFT_NET" || { FAIL_REASON="could not configure wg0 in right"; return 1; }
	wait_for_ping left "$RIGHT_INNER" 10 || { FAIL_REASON="no ping through wireguard-go"; return 1; }
}

down_wireguard() {
	local pid
	for pid in "${WG_PIDS[@]}"; do
		bg_stop "$pid" 5 || true
	done
	WG_PIDS=()
}

run_wireguard() {
	local id=$1 round=$2
	route_is_via left "$RIGHT_INNER" "$WG_DEV" || { FAIL_REASON="traffic would not go through wireguard-go"; return 1; }
	measure "$id" "$RIGHT_INNER" "$LEFT_INNER" "$round" "${WG_PIDS[@]}"
}

# shellcheck shell=bash
#
# Part of bench/run.sh, which sources it: espd with manual SAs, ESP-in-UDP and raw ESP.

# --- scenario: espd ----------------------------------------------------------

ESPD_PIDS=()

# up_espd DIR PROPOSAL ENCAP: two espd with mirrored manual SAs.
up_espd() {
	local dir=$1 proposal=$2 encap=$3
	ESPD_PIDS=()
	write_manual_pair "$dir" name=bench proposal="$proposal" encap="$encap" mtu="$TUN_MTU" \
		left_ts="$LEFT_NET" right_ts="$RIGHT_NET" \
		left_tun="$LEFT_INNER/32" right_tun="$RIGHT_INNER/32"
	local side
	for side in left right; do
		ESPD_PID=""
		if ! espd_start "$side" "$dir/$side.conf" "$dir"; then
			FAIL_REASON="espd did not start in $side"
			[[ -z $ESPD_PID ]] || ESPD_PIDS+=("$ESPD_PID")
			return 1
		fi
		ESPD_PIDS+=("$ESPD_PID")
	done
	espd_wait_route left "$RIGHT_INNER" || { FAIL_REASON="no route into $ESPD_TUN in left"; return 1; }
	espd_wait_route right "$LEFT_INNER" || { FAIL_REASON="no route into $ESPD_TUN in right"; return 1; }
	wait_for_ping left "$RIGHT_INNER" 10 || { FAIL_REASON="no ping through espd"; return 1; }
}

down_espd() {
	local dir=$1 side i=0
	for side in left right; do
		if ((i < ${#ESPD_PIDS[@]})); then
			# The drop counters tell whether TCP's retransmissions came from
			# espd (replay, ICV) rather than from the load.
			"$ESPD" status --socket "$NETNS_WORKDIR/espd-$side.sock" --json >"$dir/status-$side.json" 2>/dev/null || true
			espd_stop "$side" "${ESPD_PIDS[i]}" || log "espd in $side did not stop cleanly (see $dir)"
		fi
		i=$((i + 1))
	done
	ESPD_PIDS=()
}

run_espd() {
	local id=$1 round=$2
	route_is_via left "$RIGHT_INNER" "$ESPD_TUN" || { FAIL_REASON="traffic would not go through espd"; return 1; }
	measure "$id" "$RIGHT_INNER" "$LEFT_INNER" "$round" "${ESPD_PIDS[@]}"
}

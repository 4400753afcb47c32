# shellcheck shell=bash
#
# Part of bench/run.sh, which sources it: iperf3 runs and CPU accounting.

# --- measurement -------------------------------------------------------------

# cpu_ticks PID...: user+system clock ticks the processes have used so far.
# The comm field of /proc/PID/stat may contain blanks, so fields are counted
# from after its closing parenthesis (utime and stime are fields 14 and 15).
cpu_ticks() {
	local pid stat total=0 fields
	for pid in "$@"; do
		stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
		read -ra fields <<<"${stat##*) }"
		total=$((total + fields[11] + fields[12]))
	done
	echo "$total"
}

# measure ID SERVER CLIENT ROUND DAEMON_PID...: one iperf3 TCP run from left
# (bound to CLIENT) to right (SERVER). Appends a line to RESULTS_TSV:
#   id round gbit/s retransmits iperf3-sender-cpu% iperf3-receiver-cpu% daemons-cpu% load1
# load1, the machine's 1-minute load average as the run starts, shows in
# the JSON whether other work was competing for the two cores.
# The daemons' CPU is their user+system time during the run, in percent of
# one core, both ends summed (this VM has 2 cores, so at most 200).
measure() {
	local id=$1 server=$2 client=$3 round=$4
	shift 4
	local dir=$NETNS_WORKDIR/$id/round$round
	mkdir -p "$dir"
	local server_pid ticks_before ticks_after t0 t1 daemon_cpu=- hz load1
	hz=$(getconf CLK_TCK)

	# -1: the server serves one test and exits, so no daemonised iperf3 is
	# left behind.
	bg_start right "$dir/iperf3-server.log" iperf3 -s -B "$server" -1
	server_pid=$BG_PID
	if ! wait_until 5 "iperf3 server on $server" _listening right 5201; then
		FAIL_REASON="iperf3 server did not start"
		bg_stop "$server_pid" 2 || true
		return 1
	fi

	load1=$(cut -d' ' -f1 /proc/loadavg)
	ticks_before=$(cpu_ticks "$@")
	t0=$(date +%s.%N)
	# timeout: a tunnel that stalls must not hang the whole benchmark.
	if ! timeout $((DURATION + 30)) ip netns exec "$(ns left)" \
		iperf3 -c "$server" -B "$client" -t "$DURATION" -P "$STREAMS" -J --connect-timeout 5000 \
		>"$dir/iperf3.json" 2>"$dir/iperf3-client.err"; then
		FAIL_REASON="iperf3 failed: $(jq -r '.error // empty' "$dir/iperf3.json" 2>/dev/null || true)"
		bg_stop "$server_pid" 2 || true
		return 1
	fi
	t1=$(date +%s.%N)
	ticks_after=$(cpu_ticks "$@")
	bg_stop "$server_pid" 5 || true
	if (($#)); then
		daemon_cpu=$(awk -v d=$((ticks_after - ticks_before)) -v hz="$hz" -v t0="$t0" -v t1="$t1" \
			'BEGIN { printf "%.0f", 100 * d / hz / (t1 - t0) }')
	fi

	# The receiver's count is what crossed the tunnel; the sender's may
	# include bytes still queued when the test ended.
	local line
	line=$(jq -r --arg id "$id" --arg round "$round" --arg dcpu "$daemon_cpu" --arg load1 "$load1" '[
			$id, $round,
			(.end.sum_received.bits_per_second / 1e9 | . * 1000 | round / 1000 | tostring),
			(.end.sum_sent.retransmits // "-" | tostring),
			(.end.cpu_utilization_percent.host_total | round | tostring),
			(.end.cpu_utilization_percent.remote_total | round | tostring),
			$dcpu, $load1
		] | join("\t")' "$dir/iperf3.json") || {
		FAIL_REASON="could not read iperf3's JSON"
		return 1
	}
	printf '%s\n' "$line" >>"$RESULTS_TSV"
	log "$id round $round: $(cut -f3 <<<"$line") Gbit/s"
}

_listening() {
	nsexec "$1" ss -Hltn "sport = :$2" | grep -q .
}

# route_is_via NS DST DEV [SRC]: the kernel would send DST out of DEV. This
# is the check that the traffic measured really goes through the tunnel.
route_is_via() {
	ip -n "$(ns "$1")" route get "$2" ${4:+from "$4"} 2>/dev/null | grep -q "dev $3 "
}

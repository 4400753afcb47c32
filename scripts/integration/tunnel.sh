#!/usr/bin/env bash
#
# tunnel.sh: two espd instances carry traffic between two network
# namespaces, for every combination of
#   encapsulation  udp (ESP-in-UDP, port 4500) | raw (IP protocol 50)
#   inner family   ipv4 | ipv6
#   mode           tunnel | transport
#
#   left ns  wan0 192.0.2.1/24, 2001:db8::1/64  <--veth-->  right ns  wan0 192.0.2.2/24, 2001:db8::2/64
#
# Tunnel mode runs over outer IPv4 between the TUN addresses 198.18.1.1 and
# 198.18.2.1 (2001:db8:ffff:1::1 and 2001:db8:ffff:2::1), selectors
# 198.18.1.0/24 <-> 198.18.2.0/24 (2001:db8:ffff:1::/64 <-> 2001:db8:ffff:2::/64).
# Transport mode protects the outer addresses themselves: 192.0.2.1 <->
# 192.0.2.2 for IPv4, 2001:db8::1 <-> 2001:db8::2 for IPv6.
# The two "default" cases are tunnel mode where left sends everything into
# the tunnel (remote selector 0.0.0.0/0), which covers the peer's own outer
# address: espd's own ESP must still reach the peer (the fwmark rule), and
# even a ping to the peer's outer address must travel inside ESP.
#
# Each case: start both daemons, ping both ways (every ping must come back),
# check on the wire (tcpdump on the veth) that the pings travelled as ESP of
# the expected encapsulation and SPIs and that no ICMP echo went in the
# clear, run iperf3 TCP for 5 s, stop both daemons with SIGTERM (each must
# exit 0 and leave its namespace's rules and routes as it found them).
#
# Usage: tunnel.sh [--case NAME]... [--espd PATH] [--proposal P] [--list]
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/netns.sh
source "$HERE/../lib/netns.sh"
# shellcheck source=../lib/deps.sh
source "$HERE/../lib/deps.sh"
# shellcheck source=../lib/espd.sh
source "$HERE/../lib/espd.sh"

ALL_CASES=(
	udp-ipv4-tunnel udp-ipv6-tunnel udp-ipv4-transport udp-ipv6-transport
	raw-ipv4-tunnel raw-ipv6-tunnel raw-ipv4-transport raw-ipv6-transport
	udp-ipv4-default raw-ipv4-default
)
PING_COUNT=5
IPERF_SECONDS=5

usage() {
	cat <<-EOF
		usage: $0 [--case NAME]... [--espd PATH] [--proposal PROPOSAL] [--list]
		  --case NAME      run only this case (repeatable); default: all
		  --espd PATH      espd binary to test; default: build ./cmd/espd into a temp dir
		  --proposal P     esp_proposals keyword (default aes128gcm16)
		  --list           print the case names and exit
		cases: ${ALL_CASES[*]}
		ESPD_KEEP_WORKDIR=1 keeps configs, logs and captures; ESPD_LOG_LEVEL=debug for espd.
	EOF
}

PROPOSAL=aes128gcm16
script_option() {
	if [[ $1 == --proposal ]]; then
		PROPOSAL=${2:?--proposal needs a keyword}
		OPTION_WORDS=2
	fi
}
select_cases "$@"

need_root
need_tools ip ping iperf3 tcpdump tshark ss od awk
espd_binary
log "testing $("$ESPD" version 2>&1 || echo "espd (version unknown)") at $ESPD"

two_host_testbed dual-stack

# ping_all pings COUNT times and fails unless every echo is answered.
ping_all() {
	local ns_short=$1 dst=$2 out received
	out=$(nsexec "$ns_short" ping -c "$PING_COUNT" -i 0.2 -W 2 "$dst" 2>&1) || true
	received=$(sed -n 's/.* \([0-9]\+\) received.*/\1/p' <<<"$out")
	if [[ ${received:-0} != "$PING_COUNT" ]]; then
		log "ping $dst from $ns_short: ${received:-0}/$PING_COUNT answered"
		# shellcheck disable=SC2001 # indent every line, not just the first
		sed 's/^/    /' <<<"$out" >&2
		return 1
	fi
}

# check_wire reads a capture of the pings and sets WIRE_SUMMARY. It fails
# unless both SPIs carried at least 2*PING_COUNT ESP packets (requests one
# way, replies the other, for each of the two ping runs), all ESP used the
# expected encapsulation, and no ICMP echo crossed the wire unencrypted.
check_wire() {
	local pcap=$1 encap=$2 l2r_spi=$3 r2l_spi=$4 ok=0 want=$((2 * PING_COUNT))
	local esp_udp esp_raw clear_echo l2r r2l
	# One pass over the capture: for each frame the ESP SPI (empty if not
	# ESP), the UDP destination port (empty for raw ESP) and the ICMP types.
	read -r esp_udp esp_raw clear_echo l2r r2l < <(
		tshark -n -r "$pcap" -T fields -E separator='|' -E occurrence=f \
			-e esp.spi -e udp.dstport -e icmp.type -e icmpv6.type 2>/dev/null |
			awk -F'|' -v a="${l2r_spi,,}" -v b="${r2l_spi,,}" '
				$1 != "" && $2 != "" { udp++ }
				$1 != "" && $2 == "" { raw++ }
				$3 == "0" || $3 == "8" || $4 == "128" || $4 == "129" { echo++ }
				tolower($1) == a { l2r++ }
				tolower($1) == b { r2l++ }
				END { print udp + 0, raw + 0, echo + 0, l2r + 0, r2l + 0 }'
	)
	WIRE_SUMMARY="esp-in-udp $esp_udp, raw esp $esp_raw, spi $l2r_spi:$l2r $r2l_spi:$r2l, clear echo $clear_echo"
	if [[ $encap == yes ]]; then
		((esp_raw == 0)) || { log "raw ESP on the wire, but this SA is ESP-in-UDP"; ok=1; }
	else
		((esp_udp == 0)) || { log "ESP-in-UDP on the wire, but this SA is raw ESP"; ok=1; }
	fi
	((l2r >= want)) || { log "only $l2r ESP packets with SPI $l2r_spi (left to right), want >= $want"; ok=1; }
	((r2l >= want)) || { log "only $r2l ESP packets with SPI $r2l_spi (right to left), want >= $want"; ok=1; }
	((clear_echo == 0)) || { log "$clear_echo ICMP echo packets crossed the wire unencrypted"; ok=1; }
	return "$ok"
}

# run_iperf runs a TCP test from left to right and sets IPERF_GBITS.
run_iperf() {
	local server=$1 client=$2 dir=$3 bps
	ns_kill_named right iperf3
	nsexec right iperf3 -s -B "$server" -D -1 -I "$dir/iperf3.pid" --logfile "$dir/iperf3-server.log" ||
		return 1
	wait_until 5 "iperf3 server on $server" nsexec right ss -Hltn "sport = :5201" || return 1
	if ! nsexec left iperf3 -c "$server" -B "$client" -t "$IPERF_SECONDS" -J >"$dir/iperf3.json" 2>&1; then
		log "iperf3 failed:"
		grep -F '"error"' "$dir/iperf3.json" >&2 || tail -n 5 "$dir/iperf3.json" >&2
		ns_kill_named right iperf3
		return 1
	fi
	# iperf3 -J prints one key per line; the receiver's total is the
	# bits_per_second that follows "sum_received".
	bps=$(awk -F: '/"sum_received"/ { f = 1 } f && /"bits_per_second"/ { v = $2; gsub(/[ \t,]/, "", v); print v; exit }' "$dir/iperf3.json")
	IPERF_GBITS=$(awk -v b="${bps:-0}" 'BEGIN { printf "%.2f", b / 1e9 }')
	ns_kill_named right iperf3
	awk -v b="${bps:-0}" 'BEGIN { exit !(b > 0) }'
}

# run_case runs one case; it returns non-zero on the first failed check and
# leaves its explanation in the log. RESULT_DETAIL collects the numbers.
run_case() {
	local name=$1 encap family mode dir
	IFS=- read -r encap family mode <<<"$name"
	dir=$NETNS_WORKDIR/$name
	mkdir -p "$dir"
	RESULT_DETAIL=""

	local left_in right_in pair=()
	case $family-$mode in
	ipv4-tunnel)
		left_in=198.18.1.1 right_in=198.18.2.1
		pair=(left_ts=198.18.1.0/24 right_ts=198.18.2.0/24 left_tun=198.18.1.1/32 right_tun=198.18.2.1/32)
		;;
	ipv6-tunnel)
		left_in=2001:db8:ffff:1::1 right_in=2001:db8:ffff:2::1
		pair=(left_ts=2001:db8:ffff:1::/64 right_ts=2001:db8:ffff:2::/64
			left_tun=2001:db8:ffff:1::1/128 right_tun=2001:db8:ffff:2::1/128)
		;;
	ipv4-default)
		left_in=198.18.1.1 right_in=198.18.2.1
		pair=(left_ts=198.18.1.0/24 right_ts=0.0.0.0/0 left_tun=198.18.1.1/32 right_tun=198.18.2.1/32)
		mode=tunnel
		;;
	ipv4-transport) left_in=192.0.2.1 right_in=192.0.2.2 ;;
	ipv6-transport)
		left_in=2001:db8::1 right_in=2001:db8::2
		pair=(left=2001:db8::1 right=2001:db8::2)
		;;
	esac
	[[ $encap == udp ]] && encap=yes || encap=no

	write_manual_pair "$dir" name=site proposal="$PROPOSAL" encap="$encap" mode="$mode" "${pair[@]}"
	# shellcheck disable=SC1091
	source "$dir/sa.env"

	local before_left before_right left_pid right_pid
	before_left=$(routing_snapshot left)
	before_right=$(routing_snapshot right)

	log_step "$name: starting espd in left and right"
	espd_start left "$dir/left.conf" "$dir" || return 1
	left_pid=$ESPD_PID
	espd_start right "$dir/right.conf" "$dir" || return 1
	right_pid=$ESPD_PID
	# Routes first: in transport mode a ping would also be answered in the
	# clear, before espd's routes exist.
	espd_wait_route left "$right_in" || return 1
	espd_wait_route right "$left_in" || return 1
	# The first answered ping shows that both ends are ready.
	if ! wait_for_ping left "$right_in" 10; then
		log "no ping from left to $right_in through the tunnel within 10 s"
		return 1
	fi

	log_step "$name: ping both ways, $PING_COUNT each, capturing on the veth"
	capture_start left wan0 "$dir/ping.pcap" || return 1
	local ping_ok=0
	ping_all left "$right_in" || ping_ok=1
	ping_all right "$left_in" || ping_ok=1
	if [[ $name == *-default ]]; then
		# 0.0.0.0/0 covers the peer's outer address too: this ping goes
		# into the tunnel (check_wire finds no echo in the clear) while
		# espd's own ESP to that same address bypasses it.
		ping_all left 192.0.2.2 || ping_ok=1
	fi
	capture_stop "$CAPTURE_PID"
	((ping_ok == 0)) || return 1
	RESULT_DETAIL="ping ${PING_COUNT}+${PING_COUNT}/${PING_COUNT}+${PING_COUNT}"
	check_wire "$dir/ping.pcap" "$encap" "$SA_L2R_SPI" "$SA_R2L_SPI" || {
		RESULT_DETAIL+=", $WIRE_SUMMARY"
		return 1
	}
	RESULT_DETAIL+=", $WIRE_SUMMARY"

	log_step "$name: iperf3 TCP for ${IPERF_SECONDS}s, left to right"
	run_iperf "$right_in" "$left_in" "$dir" || return 1
	RESULT_DETAIL+=", iperf3 $IPERF_GBITS Gbit/s"

	# A clean link loses nothing: every packet either way was accepted,
	# so any drop counter (replay, ICV, no-policy, ...) is a bug.
	local side drops
	for side in left right; do
		drops=$("$ESPD" status --socket "$NETNS_WORKDIR/espd-$side.sock" | sed -n 's/^data plane drops: //p')
		if [[ $drops != none ]]; then
			log "espd in $side dropped packets: ${drops:-no answer from espd status}"
			RESULT_DETAIL+=", $side drops: $drops"
			return 1
		fi
	done

	log_step "$name: stopping both daemons with SIGTERM"
	local stop_ok=0
	espd_stop left "$left_pid" || stop_ok=1
	espd_stop right "$right_pid" || stop_ok=1
	((stop_ok == 0)) || return 1
	if [[ $(routing_snapshot left) != "$before_left" ]]; then
		log "espd left rules or routes behind in left:"
		diff <(echo "$before_left") <(routing_snapshot left) >&2 || true
		return 1
	fi
	if [[ $(routing_snapshot right) != "$before_right" ]]; then
		log "espd left rules or routes behind in right:"
		diff <(echo "$before_right") <(routing_snapshot right) >&2 || true
		return 1
	fi
}

# stop_leftovers kills what a failed case left running, so the next case
# starts from a clean test bed.
stop_leftovers() {
	stop_started
	ns_kill_named left iperf3
	ns_kill_named right iperf3
}

run_cases 20 RESULT_DETAIL stop_leftovers "${CASES[@]}"

echo
echo "tunnel.sh results (proposal $PROPOSAL):"
printf '  %s\n' "${CASE_RESULTS[@]}"
echo "$CASES_PASSED passed, $CASES_FAILED failed"
((CASES_FAILED == 0))

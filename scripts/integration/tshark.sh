#!/usr/bin/env bash
#
# tshark.sh: an independent check of espd's wire format. Two espd instances
# (namespaces left 192.0.2.1 / 2001:db8::1 and right 192.0.2.2 / 2001:db8::2,
# one veth) exchange pings; tcpdump captures the veth; then tshark, given
# only the SA keys from the configuration, must decrypt every ESP packet,
# find the inner ICMP echo requests and replies between the expected inner
# addresses, and find every ICV good (esp.icv_good) and none bad.
#
# The esp_sa syntax tshark needs is described (and was verified) in
# scripts/lib/espd.sh, above tshark_algorithms.
#
# Usage: tshark.sh [--case NAME]... [--espd PATH] [--list]
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/netns.sh
source "$HERE/../lib/netns.sh"
# shellcheck source=../lib/deps.sh
source "$HERE/../lib/deps.sh"
# shellcheck source=../lib/espd.sh
source "$HERE/../lib/espd.sh"

# Case names: ENCAP-FAMILY-MODE-PROPOSAL, FAMILY being the inner one. Tunnel
# mode runs over outer IPv4; transport mode over the family of its name. Wireshark 4.0 cannot
# decrypt ChaCha20-Poly1305 or ESN SAs, so those are not in the list.
ALL_CASES=(
	udp-ipv4-tunnel-aes128gcm16
	raw-ipv4-tunnel-aes128gcm16
	udp-ipv4-tunnel-aes256gcm16
	udp-ipv6-tunnel-aes128gcm16
	raw-ipv4-tunnel-aes128-sha256
	udp-ipv4-tunnel-aes256-sha384
	raw-ipv6-transport-aes256gcm16
	udp-ipv6-transport-aes128-sha512
)
PING_COUNT=3

usage() {
	cat <<-EOF
		usage: $0 [--case NAME]... [--espd PATH] [--list]
		  --case NAME   run only this case (repeatable); default: all
		  --espd PATH   espd binary to test; default: build ./cmd/espd into a temp dir
		  --list        print the case names and exit
		cases: ${ALL_CASES[*]}
	EOF
}

select_cases "$@"

need_root
need_tools ip ping tcpdump tshark od awk
espd_binary
log "testing $("$ESPD" version 2>&1 || echo "espd (version unknown)") at $ESPD with $(tshark --version 2>/dev/null | head -n 1)"

two_host_testbed dual-stack

# check_decrypted lets tshark decrypt the capture with the SAs of sa.env and
# sets DECRYPT_SUMMARY. Every ESP frame must decrypt to an ICMP echo between
# the inner addresses with a good ICV: at least 2*PING_COUNT requests and as
# many replies (two ping runs), no bad ICV.
check_decrypted() {
	local pcap=$1 env=$2 left_in=$3 right_in=$4 ok=0 want=$((2 * PING_COUNT))
	local esp good bad requests replies
	tshark_esp_sa_options "$env" || { log "tshark cannot decrypt $SA_PROPOSAL"; return 1; }
	# One pass: per ESP frame, the ICV verdict, the ICMP type and the
	# addresses of the last IPv4 and IPv6 headers (occurrence=l: in tunnel
	# mode the inner header comes last; with mixed families one of the two
	# is the outer header, whose addresses never equal the inner ones).
	# Both sides ping, so requests and replies count in either direction.
	read -r esp good bad requests replies < <(
		tshark -n -r "$pcap" "${TSHARK_ESP_OPTS[@]}" -Y esp -T fields -E separator='|' -E occurrence=l \
			-e esp.icv_good -e esp.icv_bad -e icmp.type -e icmpv6.type \
			-e ip.src -e ip.dst -e ipv6.src -e ipv6.dst 2>/dev/null |
			awk -F'|' -v l="$left_in" -v r="$right_in" '
				{ n++ }
				$1 == "1" { g++ }
				$2 == "1" { b++ }
				(($5 == l || $7 == l) && ($6 == r || $8 == r)) || (($5 == r || $7 == r) && ($6 == l || $8 == l)) {
					if ($3 == "8" || $4 == "128") req++
					if ($3 == "0" || $4 == "129") rep++
				}
				END { print n + 0, g + 0, b + 0, req + 0, rep + 0 }'
	)
	DECRYPT_SUMMARY="esp $esp, icv good $good bad $bad, decrypted echo requests $requests replies $replies"
	((esp > 0)) || { log "no ESP in the capture"; ok=1; }
	((bad == 0)) || { log "$bad ESP packets failed tshark's ICV check"; ok=1; }
	((good == esp)) || { log "only $good of $esp ESP packets passed tshark's ICV check"; ok=1; }
	((requests >= want)) || { log "tshark decrypted $requests echo requests between $left_in and $right_in, want >= $want"; ok=1; }
	((replies >= want)) || { log "tshark decrypted $replies echo replies between $left_in and $right_in, want >= $want"; ok=1; }
	if ((ok)); then
		log "tshark's view of the capture, decrypted:"
		tshark -n -r "$pcap" "${TSHARK_ESP_OPTS[@]}" 2>/dev/null | head -n 20 | sed 's/^/    /' >&2
	fi
	return "$ok"
}

run_case() {
	local name=$1 encap family mode proposal dir left_in right_in pair=()
	IFS=- read -r encap family mode proposal <<<"$name"
	proposal=${name#"$encap-$family-$mode-"} # aes128-sha256 contains a dash
	dir=$NETNS_WORKDIR/$name
	mkdir -p "$dir"
	# shellcheck disable=SC2034 # run_cases reads it by name
	DECRYPT_SUMMARY=""
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
	ipv4-transport) left_in=192.0.2.1 right_in=192.0.2.2 ;;
	ipv6-transport)
		left_in=2001:db8::1 right_in=2001:db8::2
		pair=(left=2001:db8::1 right=2001:db8::2)
		;;
	*) die "no addresses for $family-$mode" ;;
	esac
	[[ $encap == udp ]] && encap=yes || encap=no
	write_manual_pair "$dir" name=site proposal="$proposal" encap="$encap" mode="$mode" "${pair[@]}"

	log_step "$name: starting espd in left and right"
	local left_pid right_pid
	espd_start left "$dir/left.conf" "$dir" || return 1
	left_pid=$ESPD_PID
	espd_start right "$dir/right.conf" "$dir" || return 1
	right_pid=$ESPD_PID
	espd_wait_route left "$right_in" || return 1
	espd_wait_route right "$left_in" || return 1
	wait_for_ping left "$right_in" 10 || { log "no ping through the tunnel within 10 s"; return 1; }

	log_step "$name: $PING_COUNT pings each way, captured on the veth"
	capture_start left wan0 "$dir/ping.pcap" || return 1
	local ping_ok=0
	nsexec left ping -c "$PING_COUNT" -i 0.2 -W 2 -q "$right_in" >/dev/null || ping_ok=1
	nsexec right ping -c "$PING_COUNT" -i 0.2 -W 2 -q "$left_in" >/dev/null || ping_ok=1
	capture_stop "$CAPTURE_PID"
	((ping_ok == 0)) || { log "pings through the tunnel failed"; return 1; }

	log_step "$name: decrypting the capture with tshark"
	check_decrypted "$dir/ping.pcap" "$dir/sa.env" "$left_in" "$right_in" || return 1

	local stop_ok=0
	espd_stop left "$left_pid" || stop_ok=1
	espd_stop right "$right_pid" || stop_ok=1
	return "$stop_ok"
}

run_cases 34 DECRYPT_SUMMARY stop_started "${CASES[@]}"

echo
echo "tshark.sh results (tshark decrypts what espd sent):"
printf '  %s\n' "${CASE_RESULTS[@]}"
echo "$CASES_PASSED passed, $CASES_FAILED failed"
((CASES_FAILED == 0))

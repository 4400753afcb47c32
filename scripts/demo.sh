#!/usr/bin/env bash
#
# demo.sh: espd in one minute. Builds espd, makes two network namespaces
# ("left" and "right", two pretend hosts joined by a virtual cable), runs one
# espd in each, brings an IPsec tunnel up between them with IKEv2 (`espd up`,
# a pre-shared key; ESP in UDP port 4500, tunnel mode, AES-128-GCM), then
# pings and measures through it. Everything is removed at the end. Needs root (namespaces, TUN).
#
# Usage: sudo scripts/demo.sh [--espd PATH]
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/netns.sh
source "$HERE/lib/netns.sh"
# shellcheck source=lib/deps.sh
source "$HERE/lib/deps.sh"
# shellcheck source=lib/espd.sh
source "$HERE/lib/espd.sh"

while (($#)); do
	case $1 in
	--espd) ESPD=${2:?--espd needs a path}; shift 2 ;;
	*) echo "usage: $0 [--espd PATH]" >&2; exit 2 ;;
	esac
done

say() {
	printf '\n\033[1m%s\033[0m\n' "$*"
}
# Plain text when the output is not a terminal (CI logs, pipes).
if [[ ! -t 1 ]]; then
	say() { printf '\n== %s\n' "$*"; }
fi

NETNS_LOG_COMMANDS=0

if [[ $(id -u) -ne 0 ]]; then
	echo "demo.sh needs root: it creates network namespaces and TUN devices." >&2
	echo "Run it as: sudo $0" >&2
	exit 1
fi

say "Checking the tools the demo uses (ip, ping, iperf3, tcpdump)."
install_packages "${ESPD_DEMO_PACKAGES[@]}" || die "could not install the packages the demo needs"

if [[ -z $ESPD ]]; then
	say "Building espd from this checkout (go build ./cmd/espd)."
	ESPD=$NETNS_WORKDIR/espd
	build_espd "$ESPD" || die "espd did not build"
fi
ESPD=$(realpath "$ESPD")
"$ESPD" version

netns_remove_stale
say "Making two hosts, left (192.0.2.1) and right (192.0.2.2), joined by a virtual cable."
ns_add left
ns_add right
veth_link left wan0 right wan0
addr_add left wan0 192.0.2.1/24
addr_add right wan0 192.0.2.2/24
wait_for_ping left 192.0.2.2 5 || die "the virtual cable does not work"
echo "Behind each host is a private network: 198.18.1.0/24 on the left, 198.18.2.0/24 on the right."
echo "Traffic between those two networks will go through the IPsec tunnel."

say "Writing the two espd configurations (swanctl.conf syntax, an IKEv2 connection with a pre-shared key)."
mkdir -p "$NETNS_WORKDIR/demo"
psk=$(random_hex 16)
write_ike_conf "$NETNS_WORKDIR/demo/left.conf" local=192.0.2.1 remote=192.0.2.2 local_id=left.espd.test \
	remote_id=right.espd.test tun=198.18.1.1 ts_local=198.18.1.0/24 ts_remote=198.18.2.0/24 \
	ike=aes128gcm16-prfsha256-x25519 esp=aes128gcm16 encap=yes psk="$psk"
write_ike_conf "$NETNS_WORKDIR/demo/right.conf" local=192.0.2.2 remote=192.0.2.1 local_id=right.espd.test \
	remote_id=left.espd.test tun=198.18.2.1 ts_local=198.18.2.0/24 ts_remote=198.18.1.0/24 \
	ike=aes128gcm16-prfsha256-x25519 esp=aes128gcm16 encap=yes psk="$psk"
echo "This is left's (the secret shortened here):"
sed -E 's/(secret = "[0-9a-f]{6})[0-9a-f]+/\1.../' "$NETNS_WORKDIR/demo/left.conf" | sed 's/^/    /'

say "Starting espd on both hosts."
espd_start left "$NETNS_WORKDIR/demo/left.conf" || die "espd did not start on left"
left_pid=$ESPD_PID
espd_start right "$NETNS_WORKDIR/demo/right.conf" || die "espd did not start on right"
right_pid=$ESPD_PID
echo "Each espd made a TUN device, $ESPD_TUN; left has 198.18.1.1 on it, right has 198.18.2.1."

say "Bringing the tunnel up from left: espd up net (IKE_SA_INIT and IKE_AUTH with right)."
"$ESPD" up --socket "$NETNS_WORKDIR/espd-left.sock" net || die "espd up failed; see $NETNS_WORKDIR"
espd_wait_route left 198.18.2.1 || die "espd on left did not set up its routes"
espd_wait_route right 198.18.1.1 || die "espd on right did not set up its routes"
wait_for_ping left 198.18.2.1 10 || die "no ping through the tunnel; see $NETNS_WORKDIR"

say "Pinging right's private address 198.18.2.1 from left's 198.18.1.1, through the tunnel:"
capture_start left wan0 "$NETNS_WORKDIR/demo.pcap" || die "tcpdump did not start"
nsexec left ping -c 3 -i 0.3 198.18.2.1
capture_stop "$CAPTURE_PID"

say "Meanwhile on the cable, the same pings looked like this (no ICMP, only ESP in UDP 4500):"
tcpdump -n -r "$NETNS_WORKDIR/demo.pcap" 2>/dev/null >"$NETNS_WORKDIR/demo.txt" || true
grep -v -e ICMP6 -e ' IP6 ' "$NETNS_WORKDIR/demo.txt" | head -n 6 | sed 's/^/    /' || true

say "Measuring throughput through the tunnel for 5 seconds (iperf3, TCP, left to right):"
nsexec right iperf3 -s -B 198.18.2.1 -D -1
wait_until 5 "the iperf3 server" nsexec right ss -Hltn "sport = :5201" || true
if ! nsexec left iperf3 -c 198.18.2.1 -B 198.18.1.1 -t 5 -f g >"$NETNS_WORKDIR/iperf3.txt" 2>&1; then
	sed 's/^/    /' "$NETNS_WORKDIR/iperf3.txt"
	die "iperf3 through the tunnel failed"
fi
grep -E 'sender|receiver|Interval' "$NETNS_WORKDIR/iperf3.txt" | sed 's/^/    /' || true

if nsexec left "$ESPD" status --socket "$NETNS_WORKDIR/espd-left.sock" >"$NETNS_WORKDIR/status" 2>&1; then
	say "What espd on left reports (espd status):"
	sed 's/^/    /' "$NETNS_WORKDIR/status"
fi

say "Stopping espd (SIGTERM: it removes its routes and exits) and removing both hosts."
espd_stop left "$left_pid" || true
espd_stop right "$right_pid" || true
echo "Done. To run the full test suite: sudo scripts/test.sh"

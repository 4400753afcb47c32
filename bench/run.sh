#!/usr/bin/env bash
#
# run.sh: side-by-side TCP throughput of espd, wireguard-go and (optionally)
# strongSwan's kernel-libipsec over one and the same veth, in one run.
#
#   left ns  wan0 192.0.2.1/24  <--veth-->  right ns  wan0 192.0.2.2/24
#            tunnel 198.18.1.1                        tunnel 198.18.2.1
#
# Scenarios, one after the other (each brings its tunnel up, runs iperf3
# from left to right, and takes the tunnel down again):
#   veth          iperf3 between the outer addresses, no tunnel: the ceiling
#   espd-udp      espd, manual SAs, ESP-in-UDP (port 4500), per --proposals
#   espd-raw      espd, manual SAs, raw ESP (IP protocol 50), per --proposals
#   wireguard-go  wireguard-go built from the module cache, configured by wg
#   strongswan    two charon daemons with kernel-libipsec, IKEv2 PSK,
#                 aes128gcm16 (only with --strongswan; best effort)
#
# Absolute numbers on a shared 2-core VM drift with the machine's load;
# the ratios between scenarios measured in the same run are the figure to
# quote. --rounds N repeats the whole sequence N times, interleaved, so that
# a burst of outside load hits every scenario alike, and reports medians.
#
# Usage: see usage() or bench/README.md.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

# shell_quote prints its arguments as one command line a shell reads back
# unchanged, quoting only the words that need it (printf %q would also
# escape the commas of --proposals a,b).
shell_quote() {
	local word quoted=()
	for word in "$@"; do
		if [[ $word =~ ^[A-Za-z0-9_./,:=+@%-]+$ ]]; then
			quoted+=("$word")
		else
			quoted+=("$(printf '%q' "$word")")
		fi
	done
	printf "%s\n" "${quoted[*]}"
}

# Recorded before the arguments are consumed, so the report can print the
# exact command that reproduces it.
BENCH_COMMAND=$(shell_quote "$0" "$@")

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../scripts/lib/netns.sh
source "$HERE/../scripts/lib/netns.sh"
# shellcheck source=../scripts/lib/deps.sh
source "$HERE/../scripts/lib/deps.sh"
# shellcheck source=../scripts/lib/espd.sh
source "$HERE/../scripts/lib/espd.sh"

LEFT_OUTER=192.0.2.1
RIGHT_OUTER=192.0.2.2
LEFT_INNER=198.18.1.1
RIGHT_INNER=198.18.2.1
LEFT_NET=198.18.1.0/24
RIGHT_NET=198.18.2.0/24
WG_PORT=51820
# Strongswan must come up within this many seconds or it is skipped.
STRONGSWAN_DEADLINE=30

usage() {
	cat <<-EOF
		usage: $0 [options]
		  -t SECONDS          iperf3 duration per scenario (default 10)
		  -P STREAMS          parallel iperf3 TCP streams (default 1)
		  --proposals LIST    comma-separated espd proposals (default aes128gcm16),
		                      e.g. aes128gcm16,chacha20poly1305,aes256gcm16
		  --mtu BYTES         MTU of the espd and wireguard-go tunnel devices (default 1420,
		                      wireguard-go's own default, so both carry the same TCP segments)
		  --rounds N          repeat the whole scenario sequence N times (default 1); medians reported
		  --only LIST         run only these scenarios: veth,espd-udp,espd-raw,wireguard-go,strongswan
		  --strongswan        add the strongSwan kernel-libipsec scenario (best effort)
		  --json FILE         also write the results as JSON
		  --espd PATH         espd binary (default: build ./cmd/espd)
		  --wireguard-go PATH wireguard-go binary (default: build golang.zx2c4.com/wireguard)
		  --verbose           log every command that changes the test bed
		Needs root. ESPD_KEEP_WORKDIR=1 keeps configs, logs and iperf3 JSON.
	EOF
}

# --- options -----------------------------------------------------------------

DURATION=10
STREAMS=1
PROPOSALS=aes128gcm16
TUN_MTU=1420
ROUNDS=1
ONLY=""
WITH_STRONGSWAN=0
JSON_OUT=""
WIREGUARD_GO=""
NETNS_LOG_COMMANDS=0

parse_args() {
	while (($#)); do
		case $1 in
		-t) DURATION=${2:?-t needs seconds}; shift 2 ;;
		-P) STREAMS=${2:?-P needs a stream count}; shift 2 ;;
		--proposals) PROPOSALS=${2:?--proposals needs a list}; shift 2 ;;
		--mtu) TUN_MTU=${2:?--mtu needs a number}; shift 2 ;;
		--rounds) ROUNDS=${2:?--rounds needs a number}; shift 2 ;;
		--only) ONLY=${2:?--only needs a list}; shift 2 ;;
		--strongswan) WITH_STRONGSWAN=1; shift ;;
		--json) JSON_OUT=${2:?--json needs a file}; shift 2 ;;
		--espd) ESPD=${2:?--espd needs a path}; shift 2 ;;
		--wireguard-go) WIREGUARD_GO=${2:?--wireguard-go needs a path}; shift 2 ;;
		--verbose) NETNS_LOG_COMMANDS=1; shift ;;
		-h | --help) usage; exit 0 ;;
		*) usage >&2; exit 2 ;;
		esac
	done
	[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "-t wants a positive number of seconds"
	[[ $STREAMS =~ ^[1-9][0-9]*$ ]] || die "-P wants a positive stream count"
	[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "--rounds wants a positive number"
	if ! [[ $TUN_MTU =~ ^[0-9]+$ ]] || ((TUN_MTU < 576 || TUN_MTU > 1440)); then
		die "--mtu wants 576..1440 (the veth is 1500 and must carry the encapsulation)"
	fi
	local p
	for p in ${PROPOSALS//,/ }; do
		proposal_key_lengths "$p" || die "unknown proposal '$p'"
	done
	# A JSON path relative to where the user stands, not to the workdir.
	if [[ -n $JSON_OUT ]]; then
		JSON_OUT=$(realpath -m "$JSON_OUT")
	fi
}

# wanted SCENARIO: is the scenario selected by --only (and --strongswan)?
wanted() {
	if [[ $1 == strongswan ]] && ((!WITH_STRONGSWAN)); then
		return 1
	fi
	[[ -z $ONLY || ",$ONLY," == *",$1,"* ]]
}

# --- preparation -------------------------------------------------------------

prepare_tools() {
	local pkgs=(iproute2 iputils-ping iperf3 jq wireguard-tools util-linux)
	if ((WITH_STRONGSWAN)); then
		pkgs+=(strongswan-swanctl charon-systemd libcharon-extra-plugins libstrongswan-extra-plugins)
	fi
	install_packages "${pkgs[@]}" || die "could not install the packages the benchmark needs"
	need_tools ip ping iperf3 jq wg unshare nsenter awk timeout
	find_go || die "Go is needed to build espd and wireguard-go"

	espd_binary

	if wanted wireguard-go && [[ -z $WIREGUARD_GO ]]; then
		mkdir -p "$NETNS_WORKDIR/bin"
		WIREGUARD_GO=$NETNS_WORKDIR/bin/wireguard-go
		build_wireguard_go "$WIREGUARD_GO" || die "could not build wireguard-go"
	fi
	[[ -z $WIREGUARD_GO ]] || WIREGUARD_GO=$(realpath "$WIREGUARD_GO")

	CHARON=""
	if wanted strongswan; then
		# Debian's strongswan-charon has the classic daemon; charon-systemd is
		# the same daemon without the pid file and is what the test packages
		# install. Either reads STRONGSWAN_CONF.
		local c
		for c in /usr/lib/ipsec/charon /usr/sbin/charon-systemd; do
			if [[ -x $c ]]; then
				CHARON=$c
				break
			fi
		done
	fi
}

# build_wireguard_go builds the reference from the module cache, with the
# same toolchain and flags as espd (build_espd), so that neither side gets a
# compiler advantage. The version is the one go.mod pins.
build_wireguard_go() {
	local out=$1
	log "building wireguard-go: go build -o $out golang.zx2c4.com/wireguard"
	(cd "$ESPD_REPO" && CGO_ENABLED=0 go build -trimpath -o "$out" golang.zx2c4.com/wireguard)
}


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

# --- scenario: plain veth ----------------------------------------------------

up_veth() { :; }
down_veth() { :; }
run_veth() {
	measure "$1" "$RIGHT_OUTER" "$LEFT_OUTER" "$2"
}

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

# --- scenario: strongSwan kernel-libipsec ------------------------------------

CHARON_PIDS=()
STRONGSWAN_PROPOSAL=aes128gcm16

# write_strongswan_conf DIR: charon's settings for one daemon. openssl is
# listed before aes and gcm, or the slow software AES is picked. The block
# is written for both names the daemon may read: charon, and
# charon-systemd (the charon-systemd binary's own section).
write_strongswan_conf() {
	local dir=$1 section
	for section in charon charon-systemd; do
		cat <<-EOF
			$section {
			    load = random nonce openssl aesni aes sha1 sha2 hmac gcm chapoly pem pkcs1 x509 pubkey curve25519 gmp kdf kernel-libipsec kernel-netlink socket-default vici updown attr
			    filelog {
			        charon {
			            path = $dir/charon.log
			            time_format = %T
			            default = 1
			        }
			    }
			    plugins {
			        vici {
			            socket = unix://$dir/charon.vici
			        }
			    }
			}
		EOF
	done >"$dir/strongswan.conf"
}

# write_swanctl_conf DIR LOCAL REMOTE LOCAL_TS REMOTE_TS LOCAL_ID REMOTE_ID PSK
write_swanctl_conf() {
	local dir=$1 local_addr=$2 remote_addr=$3 local_ts=$4 remote_ts=$5 local_id=$6 remote_id=$7 psk=$8
	cat >"$dir/swanctl.conf" <<-EOF
		connections {
		    bench {
		        version = 2
		        local_addrs = $local_addr
		        remote_addrs = $remote_addr
		        proposals = aes128-sha256-x25519
		        local {
		            auth = psk
		            id = $local_id
		        }
		        remote {
		            auth = psk
		            id = $remote_id
		        }
		        children {
		            bench {
		                mode = tunnel
		                local_ts = $local_ts
		                remote_ts = $remote_ts
		                esp_proposals = $STRONGSWAN_PROPOSAL
		            }
		        }
		    }
		}
		secrets {
		    ike-bench {
		        id-local = $local_id
		        id-remote = $remote_id
		        secret = 0x$psk
		    }
		}
	EOF
}

# start_charon NS DIR: charon insists on /run/charon.pid (or its socket
# there), so each daemon gets a private /run, as wireguard-go does.
start_charon() {
	local ns_short=$1 dir=$2
	# shellcheck disable=SC2016 # $1 and $2 are expanded by the inner sh
	bg_start "$ns_short" "$dir/charon.stdout" \
		env STRONGSWAN_CONF="$dir/strongswan.conf" \
		unshare -m --propagation private \
		sh -c 'mount -t tmpfs -o mode=0755 tmpfs /run && exec "$1"' sh "$CHARON"
	CHARON_PIDS+=("$BG_PID")
}

_vici_answers() {
	swanctl --stats --uri "unix://$1/charon.vici" >/dev/null 2>&1
}

remaining() {
	local left=$((STRONGSWAN_UNTIL - SECONDS))
	((left > 0)) && echo "$left" || echo 1
}

up_strongswan() {
	local dir=$1 side psk
	CHARON_PIDS=()
	STRONGSWAN_UNTIL=$((SECONDS + STRONGSWAN_DEADLINE))
	[[ -n $CHARON ]] || { FAIL_REASON="no charon binary (install strongswan-charon or charon-systemd)"; return 1; }
	command -v swanctl >/dev/null || { FAIL_REASON="no swanctl"; return 1; }
	mkdir -p "$dir/left" "$dir/right"
	psk=$(random_hex 32)
	# kernel-libipsec protects traffic from and to addresses of the hosts
	# themselves; the inner addresses live on lo.
	addr_add left lo "$LEFT_INNER/32" || return 1
	addr_add right lo "$RIGHT_INNER/32" || return 1
	write_strongswan_conf "$dir/left"
	write_strongswan_conf "$dir/right"
	write_swanctl_conf "$dir/left" "$LEFT_OUTER" "$RIGHT_OUTER" "$LEFT_INNER/32" "$RIGHT_INNER/32" \
		left.bench.example right.bench.example "$psk"
	write_swanctl_conf "$dir/right" "$RIGHT_OUTER" "$LEFT_OUTER" "$RIGHT_INNER/32" "$LEFT_INNER/32" \
		right.bench.example left.bench.example "$psk"
	for side in left right; do
		start_charon "$side" "$dir/$side"
	done
	for side in left right; do
		wait_until "$(remaining)" "charon's vici socket in $side" _vici_answers "$dir/$side" ||
			{ FAIL_REASON="charon did not answer on vici in $side"; return 1; }
		# vici is a unix socket in our workdir, reachable from any network
		# namespace, so swanctl needs no `ip netns exec`.
		swanctl --load-all --file "$dir/$side/swanctl.conf" --uri "unix://$dir/$side/charon.vici" \
			>"$dir/$side/load.log" 2>&1 || { FAIL_REASON="swanctl --load-all failed in $side"; return 1; }
	done
	timeout "$(remaining)" swanctl --initiate --child bench --uri "unix://$dir/left/charon.vici" \
		>"$dir/initiate.log" 2>&1 || { FAIL_REASON="IKE_SA/CHILD_SA not established (see initiate.log)"; return 1; }
	wait_until "$(remaining)" "a route to $RIGHT_INNER via ipsec0" \
		route_is_via left "$RIGHT_INNER" ipsec0 "$LEFT_INNER" || { FAIL_REASON="no route via ipsec0 in left"; return 1; }
	wait_until "$(remaining)" "ping through strongSwan" \
		nsexec left ping -c 1 -W 1 -I "$LEFT_INNER" "$RIGHT_INNER" || { FAIL_REASON="no ping through strongSwan"; return 1; }
}

down_strongswan() {
	local pid
	for pid in "${CHARON_PIDS[@]}"; do
		bg_stop "$pid" 10 || true
	done
	CHARON_PIDS=()
	ip -n "$(ns left)" addr del "$LEFT_INNER/32" dev lo 2>/dev/null || true
	ip -n "$(ns right)" addr del "$RIGHT_INNER/32" dev lo 2>/dev/null || true
}

run_strongswan() {
	local id=$1 round=$2
	measure "$id" "$RIGHT_INNER" "$LEFT_INNER" "$round" "${CHARON_PIDS[@]}"
}

# --- the sequence ------------------------------------------------------------

# SCENARIOS holds "id kind proposal encap" lines in the order they run.
plan_scenarios() {
	SCENARIOS=()
	local p
	wanted veth && SCENARIOS+=("veth veth - -")
	if wanted espd-udp; then
		for p in ${PROPOSALS//,/ }; do SCENARIOS+=("espd-udp/$p espd $p yes"); done
	fi
	if wanted espd-raw; then
		for p in ${PROPOSALS//,/ }; do SCENARIOS+=("espd-raw/$p espd $p no"); done
	fi
	wanted wireguard-go && SCENARIOS+=("wireguard-go wireguard chacha20poly1305 -")
	wanted strongswan && SCENARIOS+=("strongswan strongswan $STRONGSWAN_PROPOSAL -")
	((${#SCENARIOS[@]})) || die "--only selected no scenario"
}

# run_scenario ID KIND PROPOSAL ENCAP ROUND: bring the tunnel up, measure,
# take it down. A failure is recorded in FAILURES and the run goes on, so
# one broken scenario still leaves the others' figures.
run_scenario() {
	local id=$1 kind=$2 proposal=$3 encap=$4 round=$5 ok=1
	local dir=$NETNS_WORKDIR/$id/round$round
	mkdir -p "$dir"
	FAIL_REASON=""
	log_step "$id (round $round/$ROUNDS)"
	case $kind in
	veth) run_veth "$id" "$round" || ok=0 ;;
	espd)
		if up_espd "$dir" "$proposal" "$encap"; then run_espd "$id" "$round" || ok=0; else ok=0; fi
		down_espd "$dir"
		;;
	wireguard)
		if up_wireguard "$dir"; then run_wireguard "$id" "$round" || ok=0; else ok=0; fi
		down_wireguard
		;;
	strongswan)
		if up_strongswan "$dir"; then run_strongswan "$id" "$round" || ok=0; else ok=0; fi
		down_strongswan
		;;
	esac
	if ((!ok)); then
		FAILURES[$id]=${FAIL_REASON:-failed}
		log "$id: ${FAILURES[$id]}"
	fi
	# Whatever a failed scenario left running must not load the next one.
	stop_stragglers
	ns_kill_named left iperf3
	ns_kill_named right iperf3
}

# stop_stragglers stops the background processes this run started that are
# still its unreaped children, then forgets all of them. Forgetting matters:
# netns_cleanup signals every pid in NETNS_PIDS at exit, and a pid that was
# reaped long ago may by then belong to somebody else's process. A child
# that has not been reaped keeps its pid, so checking the parent is exact.
stop_stragglers() {
	local pid stat fields
	for pid in "${NETNS_PIDS[@]}"; do
		stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
		read -ra fields <<<"${stat##*) }"
		if [[ ${fields[1]} == "$BASHPID" ]]; then
			bg_stop "$pid" 5 || true
		fi
	done
	NETNS_PIDS=()
}

# --- the report --------------------------------------------------------------

# summarize: one line per scenario from RESULTS_TSV: the median of each
# column over the rounds (medians resist one disturbed round), all rounds'
# Gbit/s, and the ratios to wireguard-go and veth.
summarize() {
	local s id
	: >"$SUMMARY_TSV"
	for s in "${SCENARIOS[@]}"; do
		read -r id _ <<<"$s"
		awk -F'\t' -v id="$id" '
			function median(a, n,   i, j, t) {
				for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
				return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
			}
			$1 == id {
				n++; g[n] = $3; all = all (all == "" ? "" : " ") sprintf("%.2f", $3)
				if ($4 != "-") { r[++nr] = $4 } ; s[n] = $5; c[n] = $6
				if ($7 != "-") { d[++nd] = $7 }
			}
			END {
				if (n == 0) exit
				printf "%s\t%.3f\t%s\t%s\t%.0f\t%.0f\t%s\n", id, median(g, n), all,
					nr ? sprintf("%.0f", median(r, nr)) : "-", median(s, n), median(c, n), nd ? sprintf("%.0f", median(d, nd)) : "-"
			}' "$RESULTS_TSV" >>"$SUMMARY_TSV"
	done
}

# gbits_of ID: the median Gbit/s of a scenario, empty if it has none.
gbits_of() {
	awk -F'\t' -v id="$1" '$1 == id { print $2 }' "$SUMMARY_TSV"
}

ratio() {
	if [[ -n $1 && -n $2 ]]; then
		awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
	else
		echo "-"
	fi
}

print_report() {
	local wg veth s id kind proposal encap g runs retr scpu rcpu dcpu
	wg=$(gbits_of wireguard-go)
	veth=$(gbits_of veth)
	echo
	echo "command: $BENCH_COMMAND"
	echo "machine: $(nproc) CPUs ($(_cpu_model)), kernel $(uname -r), load average at start $LOAD_START, at end $(_loadavg)"
	echo "iperf3 TCP left->right, -t $DURATION -P $STREAMS, $ROUNDS round(s); tunnel MTU $TUN_MTU (veth 1500)"
	echo "binaries: $ESPD_VERSION; wireguard-go $WG_VERSION"
	echo
	local fmt='%-28s %9s %8s %8s %10s %12s %8s'
	# shellcheck disable=SC2059 # the format is ours
	printf "$fmt" scenario Gbit/s "x wg-go" "x veth" daemons-cpu iperf3-cpu retr
	((ROUNDS > 1)) && printf '  %s' "rounds (Gbit/s)"
	echo
	for s in "${SCENARIOS[@]}"; do
		read -r id kind proposal encap <<<"$s"
		if IFS=$'\t' read -r _ g runs retr scpu rcpu dcpu < <(awk -F'\t' -v id="$id" '$1 == id' "$SUMMARY_TSV"); then
			# shellcheck disable=SC2059
			printf "$fmt" "$id" "$(printf '%.2f' "$g")" "$(ratio "$g" "$wg")" "$(ratio "$g" "$veth")" \
				"$dcpu$([[ $dcpu == - ]] || echo %)" "$scpu%/$rcpu%" "$retr"
			((ROUNDS > 1)) && printf '  %s' "$runs"
			[[ -n ${FAILURES[$id]:-} ]] && printf '  (a round failed: %s)' "${FAILURES[$id]}"
			echo
		elif [[ $kind == strongswan ]]; then
			printf '%-28s skipped: %s\n' "$id" "${FAILURES[$id]:-no result}"
		else
			printf '%-28s FAILED: %s\n' "$id" "${FAILURES[$id]:-no result}"
		fi
	done
	echo
	echo "x wg-go, x veth: this scenario's median Gbit/s divided by wireguard-go's and by the plain veth's, same run."
	echo "daemons-cpu: user+system time of both tunnel daemons during the test, % of one core (2 cores = 200%)."
	echo "iperf3-cpu: sender%/receiver% as iperf3 reports them. retr: TCP retransmissions (sender)."
}

_cpu_model() {
	awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo
}

_loadavg() {
	cut -d' ' -f1-3 /proc/loadavg
}

write_json() {
	local failures_json="{}" id
	for id in "${!FAILURES[@]}"; do
		failures_json=$(jq -c --arg k "$id" --arg v "${FAILURES[$id]}" '. + {($k): $v}' <<<"$failures_json")
	done
	jq -n \
		--arg command "$BENCH_COMMAND" \
		--arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
		--arg kernel "$(uname -r)" --arg cpu "$(_cpu_model)" --argjson cpus "$(nproc)" \
		--arg load_start "$LOAD_START" --arg load_end "$(_loadavg)" \
		--arg espd "$ESPD_VERSION" --arg wireguard_go "$WG_VERSION" \
		--argjson duration "$DURATION" --argjson streams "$STREAMS" --argjson rounds "$ROUNDS" \
		--argjson mtu "$TUN_MTU" \
		--argjson failures "$failures_json" \
		--rawfile rounds_tsv "$RESULTS_TSV" --rawfile summary_tsv "$SUMMARY_TSV" \
		--arg scenarios "$(printf '%s\n' "${SCENARIOS[@]}")" '
		def num: if . == "-" then null else tonumber end;
		def lines: split("\n") | map(select(length > 0) | split("\t"));
		($rounds_tsv | lines) as $r |
		($summary_tsv | lines | map({key: .[0], value: .}) | from_entries) as $s |
		($s["wireguard-go"][1] // null | if . then tonumber else null end) as $wg |
		($s["veth"][1] // null | if . then tonumber else null end) as $veth |
		{
			command: $command, date: $date,
			machine: {cpus: $cpus, cpu: $cpu, kernel: $kernel, load_start: $load_start, load_end: $load_end},
			versions: {espd: $espd, wireguard_go: $wireguard_go},
			settings: {duration_s: $duration, streams: $streams, rounds: $rounds, tunnel_mtu: $mtu, direction: "left->right"},
			results: [
				$scenarios | split("\n")[] | select(length > 0) | split(" ") as [$id, $kind, $proposal, $encap] |
				($s[$id]) as $row |
				{
					scenario: $id, kind: $kind,
					proposal: (if $proposal == "-" then null else $proposal end),
					encap: (if $encap == "-" then null else $encap == "yes" end),
					gbps: ($row[1] // null | if . then tonumber else null end),
					ratio_wireguard_go: (if $row and $wg then ($row[1] | tonumber) / $wg else null end),
					ratio_veth: (if $row and $veth then ($row[1] | tonumber) / $veth else null end),
					rounds: [$r[] | select(.[0] == $id) | {
						round: (.[1] | tonumber), gbps: (.[2] | tonumber), retransmits: (.[3] | num),
						iperf3_sender_cpu_pct: (.[4] | num), iperf3_receiver_cpu_pct: (.[5] | num),
						daemons_cpu_pct: (.[6] | num), load1: (.[7] | num)
					}],
					error: ($failures[$id] // null)
				}
			]
		}' >"$JSON_OUT"
	log "wrote $JSON_OUT"
}

main() {
	parse_args "$@"
	need_root
	prepare_tools
	ESPD_VERSION=$("$ESPD" version 2>/dev/null | head -n 1 || echo unknown)
	local rev
	if rev=$(git -C "$ESPD_REPO" rev-parse --short HEAD 2>/dev/null); then
		git -C "$ESPD_REPO" diff --quiet HEAD 2>/dev/null || rev+="+dirty"
		ESPD_VERSION+=" ($rev)"
	fi
	WG_VERSION=-
	if [[ -n $WIREGUARD_GO ]]; then
		WG_VERSION=$("$WIREGUARD_GO" --version 2>/dev/null | head -n 1 | awk '{ print $2 }')
	fi
	LOAD_START=$(_loadavg)
	log "command: $BENCH_COMMAND"

	two_host_testbed ipv4-only
	plan_scenarios
	RESULTS_TSV=$NETNS_WORKDIR/rounds.tsv
	SUMMARY_TSV=$NETNS_WORKDIR/summary.tsv
	: >"$RESULTS_TSV"
	declare -gA FAILURES=()

	local round s
	for ((round = 1; round <= ROUNDS; round++)); do
		for s in "${SCENARIOS[@]}"; do
			# shellcheck disable=SC2086 # the line is four words
			run_scenario $s "$round"
		done
	done

	summarize
	print_report
	[[ -z $JSON_OUT ]] || write_json

	# A missing espd, veth or wireguard-go figure makes the comparison
	# void; strongSwan is best effort.
	local id kind
	for s in "${SCENARIOS[@]}"; do
		read -r id kind _ <<<"$s"
		if [[ $kind != strongswan && -z $(gbits_of "$id") ]]; then
			return 1
		fi
	done
}

main "$@"

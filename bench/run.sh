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

# shellcheck source=lib/quote.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/quote.sh"

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


# The measurement, the scenarios (one file each: up_X, down_X, run_X) and the
# report live beside this file.
# shellcheck source=lib/measure.sh
source "$HERE/lib/measure.sh"
# shellcheck source=scenarios/veth.sh
source "$HERE/scenarios/veth.sh"
# shellcheck source=scenarios/espd.sh
source "$HERE/scenarios/espd.sh"
# shellcheck source=scenarios/wireguard-go.sh
source "$HERE/scenarios/wireguard-go.sh"
# shellcheck source=scenarios/strongswan.sh
source "$HERE/scenarios/strongswan.sh"
# shellcheck source=lib/report.sh
source "$HERE/lib/report.sh"

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

# shellcheck shell=bash disable=SC2034 # variables set here are read by the sourcing script
#
# Test-bed helpers for scripts that build network namespaces. Source this
# file; it installs `trap netns_cleanup EXIT`, so everything a script builds
# is taken down again whether it passes, fails or is interrupted.
#
# What it provides:
#   log, log_step, log_cmd, die, run  logging (to stderr, with timestamps)
#   need_root, need_tools TOOL...     preconditions
#   is_test_address ADDR              whether ADDR is in a range the tests may use
#   ns_add SHORT                      create namespace "$NETNS_PREFIX$SHORT", lo up
#   ns SHORT                          print the full namespace name
#   nsexec SHORT CMD...               run CMD inside the namespace
#   veth_link NS_A IF_A NS_B IF_B     a veth pair with one end in each namespace
#   addr_add NS IF ADDR/LEN           address (documentation ranges only), link up
#   bg_start NS LOG CMD...            background process; its pid in BG_PID
#   bg_stop PID [TIMEOUT]             SIGTERM, wait, SIGKILL after TIMEOUT; returns its exit status
#   ns_kill_named NS COMM             kill processes called COMM inside a namespace
#   wait_until TIMEOUT WHAT CMD...    poll CMD every 0.1 s until it succeeds
#   wait_for_link NS IF [TIMEOUT]     until the interface exists and is up
#   wait_for_ping NS ADDR [TIMEOUT]   until one ping gets an answer
#   capture_start NS IF FILE [FILTER] tcpdump in the background; pid in CAPTURE_PID
#   capture_stop PID                  stop it so the pcap is complete
#   routing_snapshot NS               rules and routes of all tables, for before/after comparison
#   netns_remove_stale                delete namespaces left by runs that were SIGKILLed
#
# Namespaces are named "espd-sh<pid>-<short>" so two runs never collide and a
# stale one (its shell is gone) can be recognised and removed.

# Refuse to be sourced twice: the arrays below would be reset.
if [[ -n ${NETNS_SH_LOADED:-} ]]; then
	return 0
fi
NETNS_SH_LOADED=1

NETNS_PREFIX="espd-sh$$-"
# A background child is a copy of this shell until it execs, and inherits the
# EXIT trap: a signal in that window must not make it tear down the test bed.
NETNS_OWNER=$BASHPID
# The EXIT trap can fire inside a function whose output is redirected to a
# file (a signal while `nsexec ... >file` runs); cleanup writes to these
# copies of the original stdout and stderr instead. Commands started in the
# namespaces do not inherit the copies (see nsexec), so a daemon cannot keep
# a pipe that a caller reads to its end open.
exec {NETNS_STDOUT}>&1 {NETNS_STDERR}>&2
NETNS_CREATED=()
NETNS_PIDS=()
NETNS_WORKDIR=$(mktemp -d "${TMPDIR:-/tmp}/espd-test.XXXXXX")
# Set to 1 to keep $NETNS_WORKDIR (configs, logs, captures) after the run.
NETNS_KEEP_WORKDIR=${ESPD_KEEP_WORKDIR:-0}
# Set to 0 to stop logging every command that changes the test bed (the demo
# does, to speak in plain words); failures are logged regardless.
NETNS_LOG_COMMANDS=1

log() {
	printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

log_step() {
	printf '%s ==> %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

die() {
	printf '%s FATAL: %s\n' "$(date +%H:%M:%S)" "$*" >&2
	exit 1
}

log_cmd() {
	if [[ $NETNS_LOG_COMMANDS == 1 ]]; then
		log "+ $*"
	fi
}

# run logs a command line and runs it, so the log shows every change made to
# the test bed.
run() {
	log_cmd "$@"
	"$@"
}

need_root() {
	if [[ $(id -u) -ne 0 ]]; then
		die "this script needs root (network namespaces, TUN devices)"
	fi
}

need_tools() {
	local tool missing=()
	for tool in "$@"; do
		command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
	done
	if ((${#missing[@]})); then
		die "missing tools: ${missing[*]} (scripts/test.sh installs them as root)"
	fi
}

# --- addresses ---------------------------------------------------------------

# is_test_address accepts only the documentation and benchmark ranges the
# test bed may use (see TESTBED.md), so a typo cannot touch a real network:
# outer 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32;
# inner 198.18.0.0/15, 2001:db8:ffff::/48 (inside 2001:db8::/32).
is_test_address() {
	local addr=${1%/*}
	addr=${addr,,}
	case $addr in
	192.0.2.* | 198.51.100.* | 203.0.113.* | 198.18.* | 198.19.*) return 0 ;;
	2001:db8:*) return 0 ;;
	2001:0db8:*) return 0 ;;
	esac
	return 1
}

# --- namespaces and links ----------------------------------------------------

ns() {
	printf '%s%s' "$NETNS_PREFIX" "$1"
}

ns_add() {
	local name
	name=$(ns "$1")
	run ip netns add "$name" || return 1
	NETNS_CREATED+=("$name")
	ip -n "$name" link set lo up
}

nsexec() {
	local name
	name=$(ns "$1")
	shift
	ip netns exec "$name" "$@" {NETNS_STDOUT}>&- {NETNS_STDERR}>&-
}

# veth_link creates both ends directly inside their namespaces, so nothing
# ever appears in the host's namespace, not even for a moment.
veth_link() {
	run ip link add "$2" netns "$(ns "$1")" type veth peer name "$4" netns "$(ns "$3")" || return 1
	ip -n "$(ns "$1")" link set "$2" up && ip -n "$(ns "$3")" link set "$4" up
}

# addr_add refuses addresses outside the test ranges. IPv6 addresses skip
# duplicate address detection, which would otherwise keep them unusable
# ("tentative") for a second or two.
addr_add() {
	local ns_short=$1 ifname=$2 cidr=$3 extra=()
	is_test_address "$cidr" || die "address $cidr is outside the test ranges"
	[[ $cidr == *:* ]] && extra=(nodad)
	run ip -n "$(ns "$ns_short")" addr add "$cidr" dev "$ifname" "${extra[@]}" || return 1
	ip -n "$(ns "$ns_short")" link set "$ifname" up
}

# --- processes ---------------------------------------------------------------

# bg_start runs CMD inside a namespace in the background, output to LOG, and
# remembers it for cleanup. `ip netns exec` execs CMD, so BG_PID is CMD's own
# pid and signals reach it directly.
bg_start() {
	local ns_short=$1 logfile=$2
	shift 2
	log_cmd "[$ns_short] $* > $logfile"
	ip netns exec "$(ns "$ns_short")" "$@" >"$logfile" 2>&1 </dev/null {NETNS_STDOUT}>&- {NETNS_STDERR}>&- &
	BG_PID=$!
	NETNS_PIDS+=("$BG_PID")
}

# bg_stop sends SIGTERM, waits up to TIMEOUT seconds (default 10), then
# SIGKILL. It returns the process's exit status (137 after SIGKILL).
bg_stop() {
	local pid=$1 timeout=${2:-10} rc=0 i
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < timeout * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "pid $pid did not exit ${timeout}s after SIGTERM; killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	{ wait "$pid"; } 2>/dev/null || rc=$?
	return "$rc"
}

# ns_kill_named kills the processes named COMM in a namespace, for daemons
# that detach themselves (iperf3 -D) and so are not our children.
ns_kill_named() {
	local name pid
	name=$(ns "$1")
	for pid in $(ip netns pids "$name" 2>/dev/null); do
		if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$2" ]]; then
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
}

# --- waiting -----------------------------------------------------------------

wait_until() {
	local timeout=$1 what=$2 i
	shift 2
	for ((i = 0; i < timeout * 10; i++)); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	log "timed out after ${timeout}s waiting for $what"
	return 1
}

link_is_up() {
	ip -n "$(ns "$1")" link show "$2" up 2>/dev/null | grep -q .
}

wait_for_link() {
	wait_until "${3:-10}" "interface $2 in $1" link_is_up "$1" "$2"
}

wait_for_ping() {
	local ns_short=$1 addr=$2 timeout=${3:-10}
	wait_until "$timeout" "ping $addr from $ns_short" nsexec "$ns_short" ping -c 1 -W 1 "$addr"
}

# --- packet capture ----------------------------------------------------------

# capture_start waits until tcpdump reports it is listening, so no packet of
# the traffic that follows is missed. --immediate-mode hands each packet to
# tcpdump at once (otherwise packets still in the kernel's ring buffer are
# lost when tcpdump stops), -U writes each packet at once, and -Z root keeps
# tcpdump from switching to a user that cannot write into our workdir.
capture_start() {
	local ns_short=$1 ifname=$2 file=$3 filter=${4:-}
	bg_start "$ns_short" "$file.log" tcpdump -n --immediate-mode -U -Z root -i "$ifname" -w "$file" ${filter:+"$filter"}
	CAPTURE_PID=$BG_PID
	if ! wait_until 10 "tcpdump on $ifname" grep -q "listening on" "$file.log"; then
		cat "$file.log" >&2
		return 1
	fi
}

# capture_stop ends tcpdump with SIGINT, which makes it flush and close the
# file. The short pause first lets the last packets of the traffic arrive.
capture_stop() {
	local pid=$1 i
	sleep 0.3
	kill -INT "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	{ wait "$pid"; } 2>/dev/null || true
}

# routing_snapshot prints a namespace's policy rules and the routes of all
# tables. Comparing it before a daemon starts and after it exits shows
# whether the daemon left anything behind. Routes the kernel makes itself
# (proto kernel: link-local and local addresses, which come and go with
# links and DAD) are left out.
routing_snapshot() {
	local name
	name=$(ns "$1")
	ip -n "$name" -4 rule show
	ip -n "$name" -6 rule show
	ip -n "$name" -4 route show table all | grep -v 'proto kernel' || true
	ip -n "$name" -6 route show table all | grep -v 'proto kernel' || true
}

# --- cleanup -----------------------------------------------------------------

netns_cleanup() {
	local rc=$? pid name
	if [[ $BASHPID != "$NETNS_OWNER" ]]; then
		return "$rc"
	fi
	set +e
	exec 1>&"$NETNS_STDOUT" 2>&"$NETNS_STDERR"
	for pid in "${NETNS_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${NETNS_PIDS[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		{ wait "$pid"; } 2>/dev/null
	done
	for name in "${NETNS_CREATED[@]}"; do
		# Anything still inside (daemons that detached) dies with SIGKILL.
		for pid in $(ip netns pids "$name" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
		log_cmd ip netns del "$name"
		ip netns del "$name" 2>/dev/null
	done
	NETNS_CREATED=()
	NETNS_PIDS=()
	if [[ $NETNS_KEEP_WORKDIR == 1 ]]; then
		log "kept logs, configs and captures in $NETNS_WORKDIR"
	else
		rm -rf "$NETNS_WORKDIR"
	fi
	return "$rc"
}

# netns_remove_stale deletes namespaces that an earlier run of these scripts
# left behind because it was killed with SIGKILL. Only names of our pattern
# whose shell no longer exists are touched.
netns_remove_stale() {
	local name pid
	for name in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		[[ $name =~ ^espd-sh([0-9]+)- ]] || continue
		pid=${BASH_REMATCH[1]}
		if ! kill -0 "$pid" 2>/dev/null; then
			log "removing stale namespace $name (its run, pid $pid, is gone)"
			for pid in $(ip netns pids "$name" 2>/dev/null); do
				kill -KILL "$pid" 2>/dev/null
			done
			ip netns del "$name" 2>/dev/null
		fi
	done
}

trap netns_cleanup EXIT
# Without these, SIGINT/SIGTERM would end bash without running the EXIT trap.
trap 'exit 130' INT
trap 'exit 143' TERM

# stop_started stops every background process bg_start started that is still
# running, so the next case of a script starts from a clean test bed.
stop_started() {
	local pid
	for pid in "${NETNS_PIDS[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			bg_stop "$pid" 5 || true
		fi
	done
	NETNS_PIDS=()
}

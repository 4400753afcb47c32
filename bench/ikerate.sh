#!/usr/bin/env bash
#
# ikerate.sh: the IKE_SA establishments per second that espd sustains as a
# responder, beside strongSwan's charon as a responder, on the same machine
# and in one run.
#
#   left ns  wan0 192.0.2.1/24  <--veth-->  right ns  wan0 192.0.2.2/24
#            bench/ikerate (initiators)               espd, then charon
#
# bench/ikerate keeps -c initiators in flight against the responder in the
# right namespace, each doing IKE_SA_INIT and IKE_AUTH (PSK) with its first
# CHILD_SA, as a distinct client: its own identity c<N>.ikerate.test and its
# own inner address from 198.18.128.0/17. Each responder starts fresh, so
# both begin with an empty SA table and end holding -n SAs. The responder's
# user+system CPU time is read from /proc/PID/stat before and after, which
# gives IKE_SAs per CPU-second beside the wall-clock rate.
#
# Usage: see usage() or bench/README.md.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

# shellcheck source=lib/quote.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/quote.sh"
BENCH_COMMAND=$(shell_quote "$0" "$@")

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../scripts/lib/netns.sh
source "$HERE/../scripts/lib/netns.sh"
# shellcheck source=../scripts/lib/deps.sh
source "$HERE/../scripts/lib/deps.sh"
# shellcheck source=../scripts/lib/espd.sh
source "$HERE/../scripts/lib/espd.sh"
# shellcheck source=../scripts/lib/charon.sh
source "$HERE/../scripts/lib/charon.sh"

GEN_ADDR=192.0.2.1
RESP_ADDR=192.0.2.2
RESP_ID=responder.ikerate.test
# The responder's side of every CHILD_SA, and the pool each client takes
# its own /32 from (the generator's -local-ts).
RESP_NET=198.18.2.0/24
RESP_INNER=198.18.2.1
CLIENT_POOL=198.18.128.0/17

usage() {
	cat <<-EOF
		usage: $0 [options]
		  -n COUNT            IKE_SAs per responder and round (default 2000)
		  -c COUNT            SAs in flight (default 20)
		  --proposal P        IKE proposal (default aes128gcm16-prfsha256-x25519)
		  --esp P             ESP proposal of the CHILD_SA (default aes128gcm16)
		  --rounds N          repeat espd then charon N times (default 3); medians reported
		  --only LIST         espd,charon (default both)
		  --pin               generator on CPU 0, responder on CPU 1 (default: no pinning)
		  --charon-threads N  charon.threads (default 16, charon's own default)
		  --charon-conf TEXT  extra strongswan.conf lines inside charon { }, after ours
		  --timeout DURATION  ikerate gives an SA up after this long (default 20s)
		  --json FILE         also write every run as JSON
		  --espd PATH         espd binary (default: build ./cmd/espd)
		  --verbose           log every command that changes the test bed
		Needs root. ESPD_KEEP_WORKDIR=1 keeps configs, logs and ikerate's JSON.
	EOF
}

TOTAL=2000
CONCURRENCY=20
PROPOSAL=aes128gcm16-prfsha256-x25519
ESP=aes128gcm16
ROUNDS=3
ONLY=espd,charon
PIN=0
CHARON_THREADS=16
CHARON_CONF_EXTRA=""
TIMEOUT=20s
JSON_OUT=""
NETNS_LOG_COMMANDS=0

parse_args() {
	while (($#)); do
		case $1 in
		-n) TOTAL=${2:?-n needs a count}; shift 2 ;;
		-c) CONCURRENCY=${2:?-c needs a count}; shift 2 ;;
		--proposal) PROPOSAL=${2:?--proposal needs a proposal}; shift 2 ;;
		--esp) ESP=${2:?--esp needs a proposal}; shift 2 ;;
		--rounds) ROUNDS=${2:?--rounds needs a number}; shift 2 ;;
		--only) ONLY=${2:?--only needs a list}; shift 2 ;;
		--pin) PIN=1; shift ;;
		--charon-threads) CHARON_THREADS=${2:?--charon-threads needs a number}; shift 2 ;;
		--charon-conf) CHARON_CONF_EXTRA=${2?--charon-conf needs text}; shift 2 ;;
		--timeout) TIMEOUT=${2:?--timeout needs a duration}; shift 2 ;;
		--json) JSON_OUT=$(realpath -m "${2:?--json needs a file}"); shift 2 ;;
		--espd) ESPD=${2:?--espd needs a path}; shift 2 ;;
		--verbose) NETNS_LOG_COMMANDS=1; shift ;;
		-h | --help) usage; exit 0 ;;
		*) usage >&2; exit 2 ;;
		esac
	done
	local v
	for v in TOTAL CONCURRENCY ROUNDS CHARON_THREADS; do
		[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "${v,,} wants a positive number, not '${!v}'"
	done
	local r
	for r in ${ONLY//,/ }; do
		[[ $r == espd || $r == charon ]] || die "--only knows espd and charon, not '$r'"
	done
	if ((PIN)) && (($(nproc) < 2)); then
		die "--pin needs two CPUs"
	fi
}

wanted() { [[ ",$ONLY," == *",$1,"* ]]; }

prepare_tools() {
	local pkgs=(iproute2 iputils-ping jq util-linux)
	wanted charon && pkgs+=(strongswan-swanctl charon-systemd libcharon-extra-plugins libstrongswan-extra-plugins)
	install_packages "${pkgs[@]}" || die "could not install the packages the benchmark needs"
	need_tools ip jq ss taskset unshare awk getconf
	find_go || die "Go is needed to build espd and ikerate"
	espd_binary
	IKERATE=$NETNS_WORKDIR/bin/ikerate
	log "building ikerate: go build -o $IKERATE ./bench/ikerate"
	(cd "$ESPD_REPO" && CGO_ENABLED=0 go build -trimpath -o "$IKERATE" ./bench/ikerate) ||
		die "could not build bench/ikerate"
	if wanted charon; then
		charon_find
		command -v swanctl >/dev/null || die "no swanctl"
	fi
	CLK_TCK=$(getconf CLK_TCK)
	# Printable, so that it passes as an argument and a quoted string.
	PSK=ikerate-$(random_hex 16)
}

# --- measuring a responder ---------------------------------------------------

# cpu_seconds PID: user+system time of the whole process (all threads), from
# fields 14 and 15 of /proc/PID/stat, which count clock ticks.
cpu_seconds() {
	local stat fields
	stat=$(cat "/proc/$1/stat") || return 1
	read -ra fields <<<"${stat##*) }"
	awk -v u="${fields[11]}" -v s="${fields[12]}" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", (u + s) / hz }'
}

_udp_listening() { # NS PORT
	nsexec "$1" ss -Hlun "sport = :$2" | grep -q .
}

# measure NAME PID DIR: run the generator against the responder PID, and
# record its figures and the responder's CPU time in RESULTS_TSV.
measure() {
	local name=$1 pid=$2 dir=$3 round=$4 before after gen=() established
	if ((PIN)); then
		# -a: every thread the responder has; threads it makes later
		# inherit the mask.
		taskset -a -p -c 1 "$pid" >/dev/null
		gen=(taskset -c 0)
	fi
	wait_until 10 "$name listening on UDP 500" _udp_listening right 500 || return 1
	sleep 0.5 # let the daemon finish starting before its CPU time is read
	before=$(cpu_seconds "$pid")
	log "$name: ikerate -n $TOTAL -c $CONCURRENCY"
	if ! nsexec left "${gen[@]}" "$IKERATE" -target "$RESP_ADDR" -local "$GEN_ADDR" \
		-n "$TOTAL" -c "$CONCURRENCY" -proposal "$PROPOSAL" -esp "$ESP" -psk "$PSK" \
		-remote-id "$RESP_ID" -local-ts "$CLIENT_POOL" -remote-ts "$RESP_NET" \
		-timeout "$TIMEOUT" -json >"$dir/ikerate.json" 2>"$dir/ikerate.err"; then
		log "$name: ikerate established no SA; its stderr:"
		sed 's/^/    /' "$dir/ikerate.err" >&2
		[[ -s $dir/ikerate.json ]] || return 1
	fi
	after=$(cpu_seconds "$pid")
	kill -0 "$pid" 2>/dev/null || { log "$name died during the run"; return 1; }
	established=$(responder_sas_"$name" "$dir")
	jq -r --arg name "$name" --arg round "$round" --arg cpu "$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.2f", a - b }')" \
		--arg held "$established" \
		'[$name, $round, .established, .attempted, .failed, .seconds, .rate_per_s, .latency_ms.p50, .latency_ms.p99,
		  .cookie_replies, .ike_sa_init_requests, ($cpu | tonumber), .generator_cpu_s, $held,
		  ((.quarter_rates_per_s // []) | map(round | tostring) | join("/"))] | @tsv' \
		"$dir/ikerate.json" >>"$RESULTS_TSV"
	if [[ -n $JSON_OUT ]]; then
		jq -c --arg name "$name" --argjson round "$round" --argjson cpu "$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.2f", a - b }')" \
			--arg held "$established" \
			'{responder: $name, round: $round, responder_cpu_s: $cpu, responder_sas_after: ($held | tonumber? // null)} + .' \
			"$dir/ikerate.json" >>"$NETNS_WORKDIR/runs.jsonl"
	fi
	jq -r 'if .failed > 0 then .failures | to_entries[] | "    failed \(.value): \(.key)" else empty end' \
		"$dir/ikerate.json" >&2
}

# --- espd --------------------------------------------------------------------

# rw_connection prints the responder's connection and secret, the same
# for espd and charon: anyone who proves the PSK gets a CHILD_SA between
# $RESP_NET and its own address in $CLIENT_POOL.
rw_connection() {
	cat <<-EOF
		connections {
		    rw {
		        version = 2
		        local_addrs = $RESP_ADDR
		        remote_addrs = %any
		        proposals = $PROPOSAL
		        local {
		            auth = psk
		            id = $RESP_ID
		        }
		        remote {
		            auth = psk
		            id = %any
		        }
		        children {
		            rw {
		                local_ts = $RESP_NET
		                remote_ts = $CLIENT_POOL
		                esp_proposals = $ESP
		            }
		        }
		    }
		}
		secrets {
		    ike-rw {
		        secret = "$PSK"
		    }
		}
	EOF
}

write_espd_responder_conf() {
	{
		cat <<-EOF
			espd {
			    tun {
			        name = $ESPD_TUN
			        addrs = $RESP_INNER/32
			    }
			}
		EOF
		rw_connection
	} >"$1"
}

responder_sas_espd() {
	"$ESPD" status --json --socket "$NETNS_WORKDIR/espd-right.sock" 2>/dev/null |
		jq '[.ike_sas[] | select(.state == "ESTABLISHED")] | length' 2>/dev/null || echo "?"
}

run_espd() {
	local dir=$1 round=$2 rc=0
	write_espd_responder_conf "$dir/espd.conf"
	espd_start right "$dir/espd.conf" "$dir" || return 1
	measure espd "$ESPD_PID" "$dir" "$round" || rc=1
	espd_stop right "$ESPD_PID" || log "espd did not stop cleanly (see $dir/espd-right.log)"
	return "$rc"
}

# --- charon ------------------------------------------------------------------

# charon_settings: what we change from charon's defaults, inside charon { }.
# - ikesa_table_size/segments: strongSwan's "Tuning IKE SA Lookup" for
#   gateways with thousands of SAs (5 to 20 SAs a bucket); the default is
#   one list searched linearly.
# - cookie_threshold_ip = 0 (off; Debian's 5.9.8 default is 3) and
#   block_threshold = 1000000 (default 5): per-address limits on half-open
#   SAs. Every client here shares one address, so they would turn away
#   nearly every IKE_SA_INIT: COOKIEs from the 4th SA in flight, drops (and
#   4 s retransmissions) from the 5th. espd has no per-address limit. The
#   block threshold cannot be 0: charon raises it above the per-IP cookie
#   threshold. The global cookie_threshold stays at its default, 30, which
#   is espd's too.
# - logging: the "established" lines only (filelog level 0), no journal:
#   espd logs about as much at its default level.
charon_settings() {
	local table=16
	while ((table * 10 < TOTAL)); do table=$((table * 2)); done
	cat <<-EOF
		threads = $CHARON_THREADS
		ikesa_table_size = $table
		ikesa_table_segments = 4
		cookie_threshold_ip = 0
		block_threshold = 1000000
		filelog {
		    log {
		        default = 0
		        cfg = 0
		        ike = 0
		        flush_line = no
		    }
		}
		journal {
		    default = -1
		}
		$CHARON_CONF_EXTRA
	EOF
}

write_charon_responder_conf() {
	rw_connection >"$1"
}

responder_sas_charon() {
	swanctl_in right "$1" --stats 2>/dev/null | awk '/^IKE_SAs:/ { print $2; found = 1 } END { if (!found) print "?" }'
}

run_charon() {
	local dir=$1 round=$2 rc=0 pid
	# charon's routes need a local address inside the local selector.
	addr_add right lo "$RESP_INNER/32" || return 1
	write_charon_responder_conf "$dir/swanctl.conf"
	if charon_start right "$dir" "$(charon_settings)" &&
		swanctl_in right "$dir" --load-all --noprompt --file "$dir/swanctl.conf" >"$dir/load.out" 2>&1; then
		pid=${CHARON_PIDS[right]}
		measure charon "$pid" "$dir" "$round" || rc=1
	else
		log "charon did not come up; see $dir"
		[[ -s $dir/load.out ]] && sed 's/^/    /' "$dir/load.out" >&2
		rc=1
	fi
	charon_stop right
	ip -n "$(ns right)" addr del "$RESP_INNER/32" dev lo 2>/dev/null || true
	return "$rc"
}

# --- report ------------------------------------------------------------------

# median_of NAME COLUMN: the median of a RESULTS_TSV column over the rounds.
median_of() {
	awk -F'\t' -v n="$1" -v c="$2" '
		$1 == n { v[++k] = $c }
		END {
			if (!k) { print ""; exit }
			for (i = 2; i <= k; i++) for (j = i; j > 1 && v[j-1] > v[j]; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
			print (k % 2 ? v[(k+1)/2] : (v[k/2] + v[k/2+1]) / 2)
		}' "$RESULTS_TSV"
}

print_report() {
	local fmt='%-7s %5s %11s %6s %8s %9s %7s %7s %7s %9s %9s %8s %6s  %s\n'
	echo
	echo "command: $BENCH_COMMAND"
	echo "machine: $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), kernel $(uname -r)"
	echo "espd: $ESPD_VERSION; charon: ${CHARON:--} ($(dpkg-query -W -f='${Version}' libstrongswan 2>/dev/null || echo '?'))"
	echo "IKE $PROPOSAL, ESP $ESP, PSK; $TOTAL SAs, $CONCURRENCY in flight, $ROUNDS round(s)$( ((PIN)) && echo '; generator pinned to CPU 0, responder to CPU 1')"
	echo
	# shellcheck disable=SC2059 # the format is ours
	printf "$fmt" responder round established failed seconds "IKE_SA/s" "p50 ms" "p99 ms" cookies "resp CPU" "SA/CPU-s" "gen CPU" held "IKE_SA/s by quarter"
	local name round est att failed secs rate p50 p99 cookies cpu gcpu held quarters per_cpu
	while IFS=$'\t' read -r name round est att failed secs rate p50 p99 cookies _ cpu gcpu held quarters; do
		per_cpu=$(awk -v e="$est" -v c="$cpu" 'BEGIN { if (c > 0) printf "%.0f", e / c; else print "-" }')
		# shellcheck disable=SC2059
		printf "$fmt" "$name" "$round" "$est/$att" "$failed" "$(printf '%.2f' "$secs")" "$(printf '%.0f' "$rate")" \
			"$(printf '%.1f' "$p50")" "$(printf '%.1f' "$p99")" "$cookies" "${cpu}s" "$per_cpu" \
			"$(printf '%.2fs' "$gcpu")" "$held" "$quarters"
	done <"$RESULTS_TSV"
	echo
	local er cr ecpu ccpu eest cest
	er=$(median_of espd 7)
	cr=$(median_of charon 7)
	if [[ -n $er && -n $cr ]]; then
		eest=$(median_of espd 3)
		cest=$(median_of charon 3)
		ecpu=$(median_of espd 12)
		ccpu=$(median_of charon 12)
		awk -v er="$er" -v cr="$cr" -v ee="$eest" -v ce="$cest" -v ec="$ecpu" -v cc="$ccpu" 'BEGIN {
			printf "espd/charon: IKE_SA/s x%.2f (%.0f vs %.0f)", er / cr, er, cr
			if (ec > 0 && cc > 0) printf "; IKE_SAs per responder CPU-second x%.2f (%.0f vs %.0f)", (ee / ec) / (ce / cc), ee / ec, ce / cc
			printf "\n"
		}'
	fi
	echo "IKE_SA/s: established SAs / seconds from the first IKE_SA_INIT to the last SA's end (IKE_SA_INIT + IKE_AUTH + first CHILD_SA)."
	echo "resp CPU: the responder's user+system time during the run (/proc/PID/stat, all threads); SA/CPU-s = established / resp CPU."
	echo "gen CPU: ikerate's own CPU time. cookies: IKE_SA_INIT replies that demanded a COOKIE. held: IKE_SAs the responder holds after the run."
	echo "by quarter: the rate of each quarter of the SAs, in the order they were established (a filling SA table slows some responders)."
}

write_json() {
	jq -s --arg command "$BENCH_COMMAND" --arg espd "$ESPD_VERSION" \
		'{command: $command, espd: $espd, runs: .}' "$NETNS_WORKDIR/runs.jsonl" >"$JSON_OUT"
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
	log "command: $BENCH_COMMAND"
	two_host_testbed ipv4-only
	RESULTS_TSV=$NETNS_WORKDIR/results.tsv
	: >"$RESULTS_TSV"
	: >"$NETNS_WORKDIR/runs.jsonl"

	local round name failed=0 dir
	for ((round = 1; round <= ROUNDS; round++)); do
		for name in espd charon; do
			wanted "$name" || continue
			dir=$NETNS_WORKDIR/$name/round$round
			mkdir -p "$dir"
			log_step "$name as responder (round $round/$ROUNDS)"
			"run_$name" "$dir" "$round" || failed=1
		done
	done
	print_report
	[[ -z $JSON_OUT ]] || write_json
	return "$failed"
}

main "$@"

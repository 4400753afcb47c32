# shellcheck shell=bash
#
# Part of bench/run.sh, which sources it: the table and the JSON file.

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

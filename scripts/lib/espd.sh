# shellcheck shell=bash disable=SC2034 # variables set here are read by the sourcing script
#
# espd in a test bed: manual-SA configuration pairs with fresh keys, starting
# and stopping the daemon in a namespace, and the matching tshark decryption
# settings. Source it after netns.sh.
#
#   random_hex BYTES                    BYTES random bytes as hex (coreutils only)
#   proposal_key_lengths PROPOSAL       sets KEY_ENC_LEN, KEY_INTEG_LEN (bytes)
#   write_manual_pair DIR key=value...  DIR/left.conf, DIR/right.conf, DIR/sa.env
#   write_ike_conf FILE key=value...    an espd configuration with one IKEv2 PSK connection
#   espd_start NS CONF [LOGDIR]         run espd in NS; pid in ESPD_PID; waits for its TUN
#   espd_wait_route NS DST              until DST is routed into espd's TUN
#   espd_stop NS PID                    SIGTERM; fails unless it exits 0
#   tshark_esp_sa_options ENV           sets TSHARK_ESP_OPTS (decrypts both SAs of a pair)
#   select_cases ARGS...                the integration scripts' options: CASES from ALL_CASES

if [[ -n ${ESPD_SH_LOADED:-} ]]; then
	return 0
fi
ESPD_SH_LOADED=1

# ESPD is the binary under test; the scripts set it from --espd or build it.
ESPD=${ESPD:-}
ESPD_TUN=espd0
# The log file and the pid of the espd running in each namespace.
declare -A ESPD_LOGS=()
declare -A ESPD_PIDS_BY_NS=()

random_hex() {
	od -An -v -tx1 -N "$1" /dev/urandom | tr -d ' \n'
}

# random_spi avoids 0..255, which RFC 4303 section 2.1 reserves.
random_spi() {
	local spi
	while :; do
		spi=$(random_hex 4)
		if ((16#$spi > 255)); then
			printf '0x%s' "$spi"
			return
		fi
	done
}

# proposal_key_lengths knows the strongSwan ESP keywords the scripts use.
# AEAD keys carry their 4-byte salt (RFC 4106 section 8.1, RFC 7634 section 2).
# For CBC suites the integrity key is as long as the HMAC output
# (RFC 4868 section 2.1.1).
proposal_key_lengths() {
	local p=${1%-esn}
	KEY_ENC_LEN=0
	KEY_INTEG_LEN=0
	case $p in
	aes128gcm8 | aes128gcm12 | aes128gcm16) KEY_ENC_LEN=20 ;;
	aes192gcm8 | aes192gcm12 | aes192gcm16) KEY_ENC_LEN=28 ;;
	aes256gcm8 | aes256gcm12 | aes256gcm16) KEY_ENC_LEN=36 ;;
	chacha20poly1305) KEY_ENC_LEN=36 ;;
	aes*-sha* | aes*-md5)
		local enc=${p%%-*} integ=${p#*-}
		case $enc in
		aes128) KEY_ENC_LEN=16 ;;
		aes192) KEY_ENC_LEN=24 ;;
		aes256) KEY_ENC_LEN=32 ;;
		*) return 1 ;;
		esac
		case $integ in
		sha1) KEY_INTEG_LEN=20 ;;
		sha256) KEY_INTEG_LEN=32 ;;
		sha384) KEY_INTEG_LEN=48 ;;
		sha512) KEY_INTEG_LEN=64 ;;
		md5) KEY_INTEG_LEN=16 ;;
		*) return 1 ;;
		esac
		;;
	*) return 1 ;;
	esac
}

# write_manual_pair writes two mirrored espd configurations and an sa.env
# that records the keys (for tshark). Keys and SPIs are fresh every call.
#
# Settings (key=value): name proposal encap(yes|no) mode(tunnel|transport)
# left right (outer addresses) left_ts right_ts left_tun right_tun (tunnel
# mode; comma-separated lists allowed) mtu replay_window tun.
write_manual_pair() {
	local dir=$1
	shift
	local -A s=(
		[name]=site [proposal]=aes128gcm16 [encap]=yes [mode]=tunnel
		[left]=192.0.2.1 [right]=192.0.2.2 [left_ts]="" [right_ts]="" [left_tun]="" [right_tun]=""
		[mtu]=1400 [replay_window]=128 [tun]=$ESPD_TUN
	)
	local kv
	for kv in "$@"; do
		[[ $kv == *=* ]] || die "write_manual_pair: '$kv' is not key=value"
		[[ -v "s[${kv%%=*}]" ]] || die "write_manual_pair: unknown setting '${kv%%=*}'"
		s[${kv%%=*}]=${kv#*=}
	done
	local a
	for a in "${s[left]}" "${s[right]}" ${s[left_ts]//,/ } ${s[right_ts]//,/ } ${s[left_tun]//,/ } ${s[right_tun]//,/ }; do
		# A catch-all selector is no address: the traffic it admits still
		# only flows between the test's own namespaces.
		[[ $a == 0.0.0.0/0 || $a == ::/0 ]] && continue
		is_test_address "$a" || die "write_manual_pair: $a is outside the test ranges"
	done
	proposal_key_lengths "${s[proposal]}" || die "write_manual_pair: no key lengths known for '${s[proposal]}'"

	# l2r: left sends, right receives. r2l: the other way.
	local l2r_spi r2l_spi l2r_enc r2l_enc l2r_integ="" r2l_integ=""
	l2r_spi=$(random_spi)
	r2l_spi=$(random_spi)
	while [[ $r2l_spi == "$l2r_spi" ]]; do r2l_spi=$(random_spi); done
	l2r_enc=0x$(random_hex "$KEY_ENC_LEN")
	r2l_enc=0x$(random_hex "$KEY_ENC_LEN")
	if ((KEY_INTEG_LEN)); then
		l2r_integ=0x$(random_hex "$KEY_INTEG_LEN")
		r2l_integ=0x$(random_hex "$KEY_INTEG_LEN")
	fi

	mkdir -p "$dir"
	_write_manual_conf "$dir/left.conf" "${s[left]}" "${s[right]}" "${s[left_ts]}" "${s[right_ts]}" "${s[left_tun]}" \
		"$r2l_spi" "$r2l_enc" "$r2l_integ" "$l2r_spi" "$l2r_enc" "$l2r_integ"
	_write_manual_conf "$dir/right.conf" "${s[right]}" "${s[left]}" "${s[right_ts]}" "${s[left_ts]}" "${s[right_tun]}" \
		"$l2r_spi" "$l2r_enc" "$l2r_integ" "$r2l_spi" "$r2l_enc" "$r2l_integ"

	cat >"$dir/sa.env" <<-EOF
		SA_PROPOSAL=${s[proposal]}
		SA_ENCAP=${s[encap]}
		SA_MODE=${s[mode]}
		SA_LEFT=${s[left]}
		SA_RIGHT=${s[right]}
		SA_L2R_SPI=$l2r_spi
		SA_L2R_ENC_KEY=$l2r_enc
		SA_L2R_INTEG_KEY=$l2r_integ
		SA_R2L_SPI=$r2l_spi
		SA_R2L_ENC_KEY=$r2l_enc
		SA_R2L_INTEG_KEY=$r2l_integ
	EOF
}

# _write_manual_conf writes one side. Uses write_manual_pair's settings
# array `s` (bash's dynamic scoping).
_write_manual_conf() {
	local file=$1 local_addr=$2 remote_addr=$3 local_ts=$4 remote_ts=$5 tun_addrs=$6
	local in_spi=$7 in_enc=$8 in_integ=$9 out_spi=${10} out_enc=${11} out_integ=${12}
	{
		echo "# Written by scripts/lib/espd.sh for a test; the keys are random and used once."
		echo "espd {"
		echo "    port_nat_t = 4500"
		echo "    tun {"
		echo "        name = ${s[tun]}"
		echo "        mtu = ${s[mtu]}"
		[[ -n $tun_addrs ]] && echo "        addrs = $tun_addrs"
		echo "    }"
		echo "    manual {"
		echo "        ${s[name]} {"
		echo "            local_addrs = $local_addr"
		echo "            remote_addrs = $remote_addr"
		echo "            encap = ${s[encap]}"
		[[ ${s[encap]} == yes ]] && echo "            remote_port = 4500"
		echo "            mode = ${s[mode]}"
		[[ -n $local_ts ]] && echo "            local_ts = $local_ts"
		[[ -n $remote_ts ]] && echo "            remote_ts = $remote_ts"
		echo "            esp_proposals = ${s[proposal]}"
		echo "            replay_window = ${s[replay_window]}"
		echo "            inbound {"
		echo "                spi = $in_spi"
		echo "                enc_key = $in_enc"
		[[ -n $in_integ ]] && echo "                integ_key = $in_integ"
		echo "            }"
		echo "            outbound {"
		echo "                spi = $out_spi"
		echo "                enc_key = $out_enc"
		[[ -n $out_integ ]] && echo "                integ_key = $out_integ"
		echo "            }"
		echo "        }"
		echo "    }"
		echo "}"
	} >"$file"
}

# write_ike_conf FILE key=value... writes an espd configuration with one
# IKEv2 connection "gw" and its child "net". Keys: local remote local_id
# remote_id tun (the TUN address; none in transport mode) ts_local ts_remote
# ike esp encap (yes|no, default no) mode (default tunnel) start_action
# (default none), dpd_delay (default 0s) dpd_action (default clear),
# retransmit="TIMEOUT TRIES" (espd.ike, default strongSwan's), and either
# psk=SECRET or cert=FILE (auth = pubkey both ways, certs = FILE in the
# x509 directory beside FILE; the key and the CA in private and x509ca
# there); local_auth overrides our auth value, e.g. rsa/pss; or
# local_pubkey=FILE remote_pubkey=FILE for raw public keys (pubkey
# directory beside FILE).
write_ike_conf() {
	local file=$1
	shift
	local -A s=([encap]=no [start_action]=none [mode]=tunnel [tun]="" [dpd_delay]=0s [dpd_action]=clear [retransmit]="4s 5")
	local kv auth=psk certs="" secrets="" addrs=""
	for kv in "$@"; do s[${kv%%=*}]=${kv#*=}; done
	[[ -z ${s[tun]} ]] || addrs="addrs = ${s[tun]}/32"
	local retransmit_timeout=${s[retransmit]% *} retransmit_tries=${s[retransmit]#* }
	local remote_keys=""
	if [[ -n ${s[cert]:-} ]]; then
		auth=pubkey
		certs="certs = ${s[cert]}"
	elif [[ -n ${s[local_pubkey]:-} ]]; then
		auth=pubkey
		certs="pubkeys = ${s[local_pubkey]}"
		remote_keys="pubkeys = ${s[remote_pubkey]}"
	else
		printf -v secrets '%s\n        %s\n        %s\n        %s\n    }' "ike-gw {" "id-a = ${s[local_id]}" \
			"id-b = ${s[remote_id]}" "secret = \"${s[psk]}\""
	fi
	cat >"$file" <<-EOF
		espd {
		    tun {
		        name = $ESPD_TUN
		        $addrs
		    }
		    ike {
		        retransmit_timeout = $retransmit_timeout
		        retransmit_tries = $retransmit_tries
		    }
		}
		connections {
		    gw {
		        local_addrs = ${s[local]}
		        remote_addrs = ${s[remote]}
		        proposals = ${s[ike]}
		        encap = ${s[encap]}
		        dpd_delay = ${s[dpd_delay]}
		        local {
		            auth = ${s[local_auth]:-$auth}
		            id = ${s[local_id]}
		            $certs
		        }
		        remote {
		            auth = $auth
		            id = ${s[remote_id]}
		            $remote_keys
		        }
		        children {
		            net {
		                local_ts = ${s[ts_local]}
		                remote_ts = ${s[ts_remote]}
		                esp_proposals = ${s[esp]}
		                mode = ${s[mode]}
		                start_action = ${s[start_action]}
		                dpd_action = ${s[dpd_action]}
		            }
		        }
		    }
		}
		secrets {
		    $secrets
		}
	EOF
	# The optional lines above leave blank ones behind.
	sed -i '/^[[:space:]]*$/d' "$file"
}

# espd_start runs the daemon in a namespace and waits until its TUN is up.
# Each instance gets its own control socket: the namespaces share one
# filesystem, so the default /run/espd/espd.sock would collide.
espd_start() {
	local ns_short=$1 conf=$2 logdir=${3:-$NETNS_WORKDIR}
	local logfile=$logdir/espd-$ns_short.log
	[[ -x $ESPD ]] || die "espd binary '$ESPD' is not executable"
	bg_start "$ns_short" "$logfile" "$ESPD" run -c "$conf" \
		--log-level "${ESPD_LOG_LEVEL:-info}" --socket "$NETNS_WORKDIR/espd-$ns_short.sock"
	ESPD_PID=$BG_PID
	ESPD_PIDS_BY_NS[$ns_short]=$BG_PID
	ESPD_LOGS[$ns_short]=$logfile
	if ! wait_until 10 "espd's TUN $ESPD_TUN in $ns_short" _espd_tun_or_exit "$ns_short" "$ESPD_PID"; then
		log "espd in $ns_short did not come up; its log:"
		sed 's/^/    /' "$logfile" >&2
		return 1
	fi
	if ! kill -0 "$ESPD_PID" 2>/dev/null; then
		log "espd in $ns_short exited at start; its log:"
		sed 's/^/    /' "$logfile" >&2
		return 1
	fi
}

# _espd_tun_or_exit succeeds once the TUN is up, or once espd has died
# (espd_start then reports the death instead of waiting out the timeout).
_espd_tun_or_exit() {
	! kill -0 "$2" 2>/dev/null || link_is_up "$1" "$ESPD_TUN"
}

_espd_routes_into_tun() {
	ip -n "$(ns "$1")" route get "$2" 2>/dev/null | grep -q "dev $ESPD_TUN"
}

# espd_wait_route waits until the kernel would send DST into espd's TUN
# (`ip route get` follows espd's policy rules), i.e. espd's routes are in.
espd_wait_route() {
	wait_until 10 "a route to $2 into $ESPD_TUN in $1" _espd_routes_into_tun "$1" "$2"
}

# espd_stop checks the shutdown contract: SIGTERM ends espd with status 0.
espd_stop() {
	local ns_short=$1 pid=$2 rc=0
	bg_stop "$pid" 10 || rc=$?
	if ((rc != 0)); then
		log "espd in $ns_short exited with status $rc after SIGTERM (want 0); the end of its log:"
		tail -n 20 "${ESPD_LOGS[$ns_short]}" | sed 's/^/    /' >&2
		return 1
	fi
}

# --- tshark ------------------------------------------------------------------
#
# Wireshark's ESP SA table (UAT "esp_sa", Wireshark 3.x/4.0) has eight
# fields, each a quoted string, in this order:
#   protocol ("IPv4" or "IPv6", the outer family), source IP, destination IP
#   ("*" is a wildcard), SPI ("0x0000abcd"), encryption algorithm, encryption
#   key (hex, "0x..."; for AES-GCM the key followed by the 4-byte salt),
#   authentication algorithm, authentication key ("" for NULL).
# Together with -o esp.enable_encryption_decode:TRUE (and
# esp.enable_authentication_check:TRUE for the ICV check, which fills
# esp.icv_good / esp.icv_bad), this was verified with tshark 4.0.17 (Debian 12)
# on hand-made packets: raw ESP and ESP-in-UDP over IPv4, raw ESP over IPv6,
# with AES-GCM-128/256 and AES-CBC + HMAC-SHA-256-128; a corrupted ICV shows
# as esp.icv_bad. UDP port 4500 is dissected as UDP-encapsulated ESP without
# any -d option. Example:
#   tshark -r x.pcap -o esp.enable_encryption_decode:TRUE \
#     -o esp.enable_authentication_check:TRUE \
#     -o 'uat:esp_sa:"IPv4","192.0.2.1","192.0.2.2","0x00001001","AES-GCM with 16 octet ICV [RFC4106]","0x<key><salt>","NULL",""'
# Wireshark 4.0 has no ChaCha20-Poly1305 for ESP and no extended sequence
# numbers (the GCM AAD would be wrong), so such SAs cannot be checked.

# tshark_algorithms sets TSHARK_ENC_ALG and TSHARK_AUTH_ALG for a proposal,
# or returns 1 when tshark 4.0 cannot decrypt it.
tshark_algorithms() {
	local p=$1
	[[ $p == *-esn ]] && return 1
	case $p in
	aes*gcm8) TSHARK_ENC_ALG="AES-GCM with 8 octet ICV [RFC4106]" TSHARK_AUTH_ALG=NULL ;;
	aes*gcm12) TSHARK_ENC_ALG="AES-GCM with 12 octet ICV [RFC4106]" TSHARK_AUTH_ALG=NULL ;;
	aes*gcm16) TSHARK_ENC_ALG="AES-GCM with 16 octet ICV [RFC4106]" TSHARK_AUTH_ALG=NULL ;;
	aes*-*)
		TSHARK_ENC_ALG="AES-CBC [RFC3602]"
		case ${p#*-} in
		sha1) TSHARK_AUTH_ALG="HMAC-SHA-1-96 [RFC2404]" ;;
		sha256) TSHARK_AUTH_ALG="HMAC-SHA-256-128 [RFC4868]" ;;
		sha384) TSHARK_AUTH_ALG="HMAC-SHA-384-192 [RFC4868]" ;;
		sha512) TSHARK_AUTH_ALG="HMAC-SHA-512-256 [RFC4868]" ;;
		*) return 1 ;;
		esac
		;;
	*) return 1 ;;
	esac
}

# tshark_esp_sa_options reads an sa.env and sets the array TSHARK_ESP_OPTS
# with the -o options that let tshark decrypt and verify both SAs.
tshark_esp_sa_options() {
	local env=$1 family=IPv4
	# shellcheck disable=SC1090
	source "$env"
	tshark_algorithms "$SA_PROPOSAL" || return 1
	[[ $SA_LEFT == *:* ]] && family=IPv6
	TSHARK_ESP_OPTS=(
		-o esp.enable_encryption_decode:TRUE
		-o esp.enable_authentication_check:TRUE
		-o "uat:esp_sa:$(_tshark_sa "$family" "$SA_LEFT" "$SA_RIGHT" "$SA_L2R_SPI" "$SA_L2R_ENC_KEY" "$SA_L2R_INTEG_KEY")"
		-o "uat:esp_sa:$(_tshark_sa "$family" "$SA_RIGHT" "$SA_LEFT" "$SA_R2L_SPI" "$SA_R2L_ENC_KEY" "$SA_R2L_INTEG_KEY")"
	)
}

_tshark_sa() {
	printf '"%s","%s","%s","%s","%s","%s","%s","%s"' "$1" "$2" "$3" "$4" "$TSHARK_ENC_ALG" "$5" "$TSHARK_AUTH_ALG" "$6"
}

# select_cases ARGS... reads the options every integration script takes:
# --case NAME (repeatable, checked against ALL_CASES; all when none),
# --espd PATH, --list and -h/--help (the script's usage function). An
# option of the script's own is handed to its script_option function,
# which sets OPTION_WORDS to how many words it took (0: unknown option).
select_cases() {
	CASES=()
	while (($#)); do
		case $1 in
		--case) CASES+=("${2:?--case needs a name}"); shift 2 ;;
		--espd) ESPD=${2:?--espd needs a path}; shift 2 ;;
		--list) printf '%s\n' "${ALL_CASES[@]}"; exit 0 ;;
		-h | --help) usage; exit 0 ;;
		*)
			OPTION_WORDS=0
			if declare -F script_option >/dev/null; then
				script_option "$@"
			fi
			((OPTION_WORDS > 0)) || { usage >&2; exit 2; }
			shift "$OPTION_WORDS"
			;;
		esac
	done
	((${#CASES[@]})) || CASES=("${ALL_CASES[@]}")
	local c
	for c in "${CASES[@]}"; do
		[[ " ${ALL_CASES[*]} " == *" $c "* ]] || die "unknown case '$c' (try --list)"
	done
}

# espd_binary makes ESPD the binary under test: the one --espd named, or one
# built from this checkout into the work directory.
espd_binary() {
	if [[ -z $ESPD ]]; then
		mkdir -p "$NETNS_WORKDIR/bin"
		ESPD=$NETNS_WORKDIR/bin/espd
		build_espd "$ESPD" || die "could not build espd"
	fi
	ESPD=$(realpath "$ESPD")
}

# two_host_testbed dual-stack|ipv4-only builds the namespaces left and right
# joined by one veth, wan0 on both sides: 192.0.2.1/24 and 192.0.2.2/24, and
# with dual-stack also 2001:db8::1/64 and 2001:db8::2/64.
two_host_testbed() {
	netns_remove_stale
	log_step "building the test bed: namespaces left and right joined by one veth"
	ns_add left
	ns_add right
	veth_link left wan0 right wan0
	addr_add left wan0 192.0.2.1/24
	addr_add right wan0 192.0.2.2/24
	wait_for_ping left 192.0.2.2 5 || die "the bare veth does not carry IPv4"
	if [[ $1 == dual-stack ]]; then
		addr_add left wan0 2001:db8::1/64
		addr_add right wan0 2001:db8::2/64
		wait_for_ping left 2001:db8::2 5 || die "the bare veth does not carry IPv6"
	fi
}

# run_cases WIDTH DETAIL_VAR CLEANUP CASE... runs run_case for each case,
# prints one PASS/FAIL line per case with the text the case left in the
# variable DETAIL_VAR (and, on failure, the tail of each espd's log), calls
# CLEANUP after each case, and leaves the lines in CASE_RESULTS and the
# counts in CASES_PASSED and CASES_FAILED.
run_cases() {
	local width=$1 detail_var=$2 cleanup=$3 c start side verdict
	shift 3
	CASE_RESULTS=()
	CASES_PASSED=0
	CASES_FAILED=0
	for c in "$@"; do
		start=$SECONDS
		if run_case "$c"; then
			verdict=PASS
			CASES_PASSED=$((CASES_PASSED + 1))
		else
			verdict=FAIL
			CASES_FAILED=$((CASES_FAILED + 1))
			for side in left right; do
				if [[ -s $NETNS_WORKDIR/$c/espd-$side.log ]]; then
					log "$c: last lines of espd's log in $side:"
					tail -n 15 "$NETNS_WORKDIR/$c/espd-$side.log" | sed 's/^/    /' >&2
				fi
			done
		fi
		CASE_RESULTS+=("$(printf "%s  %-${width}s %3ss  %s" "$verdict" "$c" $((SECONDS - start)) "${!detail_var}")")
		printf '%s\n' "${CASE_RESULTS[-1]}"
		"$cleanup"
	done
}

#!/usr/bin/env bash
#
# ike.sh: espd negotiates its SAs with IKEv2 and carries traffic through
# them, against strongSwan 5.9.8 (charon with kernel-libipsec) in both roles
# and against another espd.
#
#   left ns: espd                 wan0 192.0.2.1/24 <--veth--> right ns: charon or espd, wan0 192.0.2.2/24
#   inner:   198.18.1.1 (espd0)                                198.18.2.1 (charon: lo; espd: espd0)
#   selectors 198.18.1.0/24 === 198.18.2.0/24
#
# Cases:
#   espd-raw, espd-encap          espd to espd: raw ESP (no NAT), and encap = yes (ESP-in-UDP)
#   espd-transport                espd to espd, host to host: transport mode, selectors dynamic (the outer
#                                 addresses), pings between 192.0.2.1 and 192.0.2.2 travel as ESP
#   espd-rw-dynamic               a road-warrior gateway (remote_addrs = %any, remote_ts = dynamic) and a
#                                 client whose local_ts = dynamic: the tunnel carries the client's own
#                                 address 192.0.2.1 to the gateway's 198.18.2.0/24
#   espd-start-action             start_action = start: the tunnel comes up with the daemons, no `espd up`
#   dpd-restart                   dpd_delay = 2s, dpd_action = restart (retransmits 1 s, 2 tries): the peer
#                                 espd is killed and started again without its state; DPD finds the
#                                 old IKE SA dead, and the child is set up again with the new peer
#   hostile-input                 espd to espd with encap = yes; while ping sends an echo every 10 ms, 2000
#                                 random datagrams and replays of the captured negotiation hit both IKE
#                                 ports of both daemons: no echo lost, the same SAs, both daemons alive,
#                                 and the junk that reached the data plane counted in its drops
#   shutdown-deletes              SIGTERM ends espd, which deletes its IKE SA with charon first
#   reload                        espd's PSK is wrong, `espd up` fails; the file is fixed, `espd reload`,
#                                 and `espd up` succeeds without restarting the daemon
#   ss-ROLE-AUTH-PROPOSAL         the interop matrix with charon:
#                                 ROLE resp: espd initiates (`espd up`), charon responds;
#                                      init: charon initiates (`swanctl --initiate`), espd responds;
#                                 AUTH psk, or certificates of rsa (3072), ecdsa (P-256) or ed25519 keys
#                                      under one ECDSA P-384 CA (scripts/lib/pki.sh; RFC 7427 signatures),
#                                      or rsapss: the RSA certificates, both sides signing with RSASSA-PSS
#                                      and naming themselves by DN; or rawkey: raw ECDSA public keys
#                                      (pubkeys), no certificates;
#                                 PROPOSAL aes128gcm16 (IKE -prfsha256-x25519), aes256gcm16 (-prfsha384-ecp384),
#                                      chacha20poly1305 (-prfsha256-modp2048), aes256-sha256 (-modp2048)
#   rekey-child-by-espd, rekey-child-by-ss, rekey-ike-by-espd, rekey-ike-by-ss
#                                 espd initiates to charon (PSK, aes128gcm16, PFS with x25519 for the CHILD_SA);
#                                 while iperf3 runs (100 Mbit/s) and ping sends 800 echoes, one every 10 ms, one side rekeys
#                                 the CHILD_SA (`espd rekey net`, `swanctl --rekey --child net`) or the
#                                 IKE SA (`espd rekey gw`, `swanctl --rekey --ike gw`): no echo may be
#                                 lost, both sides must show the same new SPIs, and the old ones must be gone
#   delete-by-espd, delete-by-ss  `espd down gw` or `swanctl --terminate --ike gw`: both sides end with no SA,
#                                 and espd's route into the TUN is gone
#   wrong-psk-espd-init, wrong-psk-ss-init
#                                 different PSKs: AUTHENTICATION_FAILED on both sides, no SA anywhere
#   mismatch-espd-init, mismatch-ss-init
#                                 no common IKE proposal: NO_PROPOSAL_CHOSEN, the responder's log names
#                                 both sides' proposals, no SA anywhere
#   nat-two-clients               left becomes a NAT router (nftables masquerade) for two espd clients,
#                                 198.51.100.2 (inner 198.18.1.1) and 198.51.100.130 (inner 198.18.3.1);
#                                 the espd gateway in right (remote_addrs = %any, remote_ts 198.18.0.0/16
#                                 narrowed per client) sees both as 192.0.2.1 on different ports. Both
#                                 clients must detect the NAT, float to 4500 and reach the gateway, and
#                                 the gateway each client, at once; both send NAT keepalives.
#
# A working case checks: the initiating command exits 0; espd's status and
# swanctl --list-sas show the same IKE SPIs and crossed CHILD_SA SPIs with
# the proposal asked for; pings both ways all come back; tcpdump on the veth
# sees them only as ESP (ESP-in-UDP with charon, whose kernel-libipsec
# always encapsulates) and no ICMP echo in the clear; 2 s of iperf3 TCP; and
# SIGTERM ends espd with status 0.
#
# Usage: ike.sh [--case NAME]... [--espd PATH] [--list]
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/netns.sh
source "$HERE/../lib/netns.sh"
# shellcheck source=../lib/deps.sh
source "$HERE/../lib/deps.sh"
# shellcheck source=../lib/espd.sh
source "$HERE/../lib/espd.sh"
# shellcheck source=../lib/charon.sh
source "$HERE/../lib/charon.sh"
# shellcheck source=../lib/pki.sh
source "$HERE/../lib/pki.sh"

declare -A IKE_PROPOSAL=(
	[aes128gcm16]=aes128gcm16-prfsha256-x25519
	[aes256gcm16]=aes256gcm16-prfsha384-ecp384
	[chacha20poly1305]=chacha20poly1305-prfsha256-modp2048
	[aes256-sha256]=aes256-sha256-modp2048
)
PROPOSALS=(aes128gcm16 aes256gcm16 chacha20poly1305 aes256-sha256)
ALL_CASES=(espd-raw espd-encap espd-transport espd-rw-dynamic espd-start-action reload dpd-restart hostile-input shutdown-deletes)
for role in resp init; do
	for auth in psk rsa ecdsa ed25519; do
		for p in "${PROPOSALS[@]}"; do
			ALL_CASES+=("ss-$role-$auth-$p")
		done
	done
	ALL_CASES+=("ss-$role-rsapss-aes128gcm16" "ss-$role-rawkey-aes128gcm16")
done
ALL_CASES+=(rekey-child-by-espd rekey-child-by-ss rekey-ike-by-espd rekey-ike-by-ss delete-by-espd delete-by-ss)
ALL_CASES+=(wrong-psk-espd-init wrong-psk-ss-init mismatch-espd-init mismatch-ss-init nat-two-clients)

usage() {
	cat <<-EOF
		usage: $0 [--case NAME]... [--espd PATH] [--list]
		cases: ${ALL_CASES[*]}
		ESPD_KEEP_WORKDIR=1 keeps configs, logs and captures; ESPD_LOG_LEVEL=debug for espd.
	EOF
}

select_cases "$@"

need_root
need_tools ip ping iperf3 tcpdump tshark swanctl openssl
charon_find
espd_binary
log "testing $("$ESPD" version 2>&1) against charon $CHARON (strongSwan $(dpkg-query -W -f='${Version}' strongswan-swanctl 2>/dev/null || echo '?'))"

PSK="espd interop pre-shared key"

# write_charon_conf FILE ike esp psk [cert]: charon's side of "gw" (right);
# with cert (a file in the x509 directory beside FILE), auth = pubkey.
write_charon_conf() {
	local file=$1 ike=$2 esp=$3 psk=$4 cert=${5:-} auth=psk certs="" id_l=right.espd.test id_r=left.espd.test
	if [[ -n $cert ]]; then
		auth=pubkey certs="certs = $cert" id_l=sun.espd.test id_r=moon.espd.test
	fi
	local remote_keys=""
	if [[ -n ${CHARON_RAWKEYS:-} ]]; then
		certs="pubkeys = sun.pub" remote_keys="pubkeys = moon.pub"
	fi
	if [[ -n ${CHARON_IDS:-} ]]; then
		# Two quoted DNs: "local" "remote".
		id_l=${CHARON_IDS%\" \"*}\" id_r=\"${CHARON_IDS#*\" \"}
	fi
	local local_auth=${CHARON_LOCAL_AUTH:-$auth}
	cat >"$file" <<-EOF
		connections {
			gw {
				version = 2
				local_addrs = 192.0.2.2
				remote_addrs = 192.0.2.1
				proposals = $ike
				local {
					auth = $local_auth
					id = $id_l
					$certs
				}
				remote {
					auth = $auth
					id = $id_r
					$remote_keys
				}
				children {
					net {
						local_ts = 198.18.2.0/24
						remote_ts = 198.18.1.0/24
						esp_proposals = $esp
					}
				}
			}
		}
		secrets {
			ike-gw {
				id-a = left.espd.test
				id-b = right.espd.test
				secret = "$psk"
			}
		}
	EOF
}

# espd_left_conf DIR IKE ESP PSK [key=value...]: left's half of the
# site-to-site pair (198.18.1.0/24 === 198.18.2.0/24); the settings after
# PSK are write_ike_conf's and override.
espd_left_conf() {
	local dir=$1 ike=$2 esp=$3 psk=$4
	shift 4
	write_ike_conf "$dir/left.conf" local=192.0.2.1 remote=192.0.2.2 local_id=left.espd.test remote_id=right.espd.test \
		tun=198.18.1.1 ts_local=198.18.1.0/24 ts_remote=198.18.2.0/24 ike="$ike" esp="$esp" psk="$psk" "$@"
}

# espd_right_conf DIR [key=value...]: an espd as right's half of the same
# pair, aes128gcm16 with $PSK.
espd_right_conf() {
	local dir=$1
	shift
	write_ike_conf "$dir/right.conf" local=192.0.2.2 remote=192.0.2.1 local_id=right.espd.test remote_id=left.espd.test \
		tun=198.18.2.1 ts_local=198.18.2.0/24 ts_remote=198.18.1.0/24 ike=aes128gcm16-prfsha256-x25519 esp=aes128gcm16 \
		psk="$PSK" "$@"
}

# espd's CLI takes its flags before the NAME.
espd_ctl() { # NS VERB [NAME]
	local ns_short=$1 verb=$2
	shift 2
	"$ESPD" "$verb" --socket "$NETNS_WORKDIR/espd-$ns_short.sock" "$@"
}

start_charon_right() { # DIR ike esp psk [cert-key-type]
	local dir=$1/charon cert=""
	mkdir -p "$dir"
	if [[ -n ${CHARON_RAWKEYS:-} ]]; then
		cert=raw # write_charon_conf writes pubkeys instead
	elif [[ -n ${5:-} ]]; then
		cert=sun-$5.pem
		mkdir -p "$dir/x509" "$dir/x509ca" "$dir/private"
		cp "$PKI_DIR/x509ca/ca.pem" "$dir/x509ca/"
		cp "$PKI_DIR/x509/$cert" "$dir/x509/"
		cp "$PKI_DIR/private/$cert" "$dir/private/"
	fi
	write_charon_conf "$dir/swanctl.conf" "$2" "$3" "$4" "$cert"
	charon_start right "$dir" "${CHARON_EXTRA:-}" || return 1
	# charon routes the remote selector from an address inside its local
	# one, and refuses the CHILD_SA when it has none.
	nsexec right ip addr add 198.18.2.1/32 dev lo
	swanctl_in right "$dir" --load-all --noprompt --file "$dir/swanctl.conf" >"$dir/load.out" 2>&1 || {
		cat "$dir/load.out" >&2
		return 1
	}
}

# ping_all NS SRC DST: every one of 3 echoes must come back.
ping_all() {
	nsexec "$1" ping -c 3 -i 0.2 -W 2 -I "$2" "$3" >/dev/null
}

# check_sas_match DIR: espd's and charon's views of the SAs agree.
check_sas_match() {
	local dir=$1 listing json spii spir in out
	listing=$(swanctl_in right "$dir/charon" --list-sas 2>&1)
	printf '%s\n' "$listing" >"$dir/list-sas.txt"
	json=$(espd_ctl left status --json)
	printf '%s\n' "$json" >"$dir/status.json"
	spii=$(jq -r '.ike_sas[0].spi_i' <<<"$json")
	spir=$(jq -r '.ike_sas[0].spi_r' <<<"$json")
	in=$(jq -r '.ike_sas[0].children[0].spi_in' <<<"$json")
	out=$(jq -r '.ike_sas[0].children[0].spi_out' <<<"$json")
	grep -q "ESTABLISHED, IKEv2, ${spii}_i\*\? ${spir}_r" <<<"$listing" || {
		log "charon shows no IKE SA ${spii}_i ${spir}_r:"; printf '%s\n' "$listing" >&2; return 1
	}
	grep -q "INSTALLED, TUNNEL-in-UDP" <<<"$listing" || { log "charon's CHILD_SA is not INSTALLED, TUNNEL-in-UDP"; return 1; }
	grep -Eq "^\s+in\s+$out," <<<"$listing" && grep -Eq "^\s+out\s+$in," <<<"$listing" || {
		log "CHILD_SA SPIs do not cross: espd in $in out $out"; printf '%s\n' "$listing" >&2; return 1
	}
}

# traffic_checks DIR ENCAP: pings both ways seen only as ESP, then iperf3.
traffic_checks() {
	local dir=$1 encap=$2 pcap=$1/wan.pcap esp clear filter
	capture_start right wan0 "$pcap" || return 1
	ping_all left 198.18.1.1 198.18.2.1 || { log "pings left -> right lost"; return 1; }
	ping_all right 198.18.2.1 198.18.1.1 || { log "pings right -> left lost"; return 1; }
	capture_stop "$CAPTURE_PID"
	filter="esp"
	esp=$(tshark -r "$pcap" -Y "$filter" 2>/dev/null | wc -l)
	clear=$(tshark -r "$pcap" -Y "icmp.type == 8 || icmp.type == 0" 2>/dev/null | wc -l)
	if ((esp < 12 || clear != 0)); then
		log "on the wire: $esp ESP packets (want >= 12), $clear ICMP echoes in the clear (want 0)"
		return 1
	fi
	if [[ $encap == yes ]] && (($(tshark -r "$pcap" -Y "udp.port == 4500 && esp" 2>/dev/null | wc -l) < 12)); then
		log "ESP was not UDP-encapsulated on port 4500"
		return 1
	fi
	if [[ $encap == no ]] && (($(tshark -r "$pcap" -Y "ip.proto == 50" 2>/dev/null | wc -l) < 12)); then
		log "ESP did not travel as IP protocol 50"
		return 1
	fi
	nsexec right iperf3 -s -B 198.18.2.1 -1 -D --logfile "$dir/iperf3-server.log"
	wait_until 5 "iperf3 server" nsexec right ss -ltn "sport = :5201"
	nsexec left iperf3 -c 198.18.2.1 -B 198.18.1.1 -t 2 -J >"$dir/iperf3.json" || { log "iperf3 failed"; return 1; }
	IPERF_GBITS=$(jq -r '.end.sum_received.bits_per_second / 1e9 | . * 100 | floor / 100' "$dir/iperf3.json")
}

# case_interop DIR ROLE(resp|init) AUTH(psk|rsa|ecdsa|ed25519) PROPOSAL:
# espd and charon negotiate, the one or the other initiating, with a PSK or
# with certificates of that key type, and carry traffic.
case_interop() {
	local dir=$1 role=$2 auth=$3 p=$4 out
	if [[ $auth == psk ]]; then
		espd_left_conf "$dir" "${IKE_PROPOSAL[$p]}" "$p" "$PSK"
		start_charon_right "$dir" "${IKE_PROPOSAL[$p]}" "$p" "$PSK" || return 1
	elif [[ $auth == rawkey ]]; then
		# Each side has its own private key and the other's public key.
		mkdir -p "$dir/private" "$dir/pubkey" "$dir/charon/private" "$dir/charon/pubkey"
		cp "$PKI_DIR/private/moon-ecdsa.pem" "$dir/private/"
		cp "$PKI_DIR/private/sun-ecdsa.pem" "$dir/charon/private/"
		for host in moon sun; do
			openssl pkey -in "$PKI_DIR/private/$host-ecdsa.pem" -pubout -out "$dir/pubkey/$host.pub" 2>/dev/null
			cp "$dir/pubkey/$host.pub" "$dir/charon/pubkey/"
		done
		write_ike_conf "$dir/left.conf" local=192.0.2.1 remote=192.0.2.2 local_id=moon.espd.test remote_id=sun.espd.test \
			tun=198.18.1.1 ts_local=198.18.1.0/24 ts_remote=198.18.2.0/24 ike="${IKE_PROPOSAL[$p]}" esp="$p" \
			local_pubkey=moon.pub remote_pubkey=sun.pub
		CHARON_RAWKEYS=1 start_charon_right "$dir" "${IKE_PROPOSAL[$p]}" "$p" unused || return 1
	else
		local key=$auth sign=pubkey moon=moon.espd.test sun=sun.espd.test ids=""
		if [[ $auth == rsapss ]]; then
			# Also the DN identities (ID_DER_ASN1_DN), which charon and
			# espd each encode from the text and compare to the other's.
			key=rsa sign=rsa/pss moon='"C=CH, O=espd, CN=moon.espd.test"' sun='"C=CH, O=espd, CN=sun.espd.test"'
			ids="$sun $moon"
		fi
		mkdir -p "$dir/x509" "$dir/x509ca" "$dir/private"
		cp "$PKI_DIR/x509ca/ca.pem" "$dir/x509ca/"
		cp "$PKI_DIR/x509/moon-$key.pem" "$dir/x509/"
		cp "$PKI_DIR/private/moon-$key.pem" "$dir/private/"
		write_ike_conf "$dir/left.conf" local=192.0.2.1 remote=192.0.2.2 local_id="$moon" remote_id="$sun" \
			tun=198.18.1.1 ts_local=198.18.1.0/24 ts_remote=198.18.2.0/24 ike="${IKE_PROPOSAL[$p]}" esp="$p" \
			cert="moon-$key.pem" local_auth="$sign"
		local extra=""
		# charon signs with PSS only when strongswan.conf says so.
		[[ $sign == rsa/pss ]] && extra="rsa_pss = yes"
		CHARON_LOCAL_AUTH=$sign CHARON_IDS=$ids CHARON_EXTRA=$extra \
			start_charon_right "$dir" "${IKE_PROPOSAL[$p]}" "$p" unused "$key" || return 1
	fi
	espd_start left "$dir/left.conf" "$dir" || return 1
	if [[ $role == resp ]]; then
		out=$(espd_ctl left up net 2>&1) || { log "espd up net: $out"; return 1; }
	else
		swanctl_in right "$dir/charon" --initiate --child net >"$dir/initiate.out" 2>&1 || {
			log "swanctl --initiate failed:"; tail -n 5 "$dir/initiate.out" >&2; return 1
		}
	fi
	check_sas_match "$dir" || return 1
	local how="PSK"
	if [[ $auth != psk ]]; then
		# charon says how it checked espd's signature, e.g. RSA_EMSA_PKCS1_SHA2_256.
		grep -q "authentication of '[^']*moon.espd.test' with .* successful" "$dir/charon/charon.log" || {
			log "charon's log does not show espd's signature verified"; return 1
		}
		local proof=certificate
		[[ $auth == rawkey ]] && proof="raw public key"
		grep -q "peer authenticated.*\"with\": \"$proof" "$dir/espd-left.log" || {
			log "espd's log does not show charon's $proof verified"; return 1
		}
		if [[ $auth == rsapss ]] && ! grep -q 'peer authenticated.*"with": "certificate.*rsa/pss' "$dir/espd-left.log"; then
			log "charon's signature was not RSASSA-PSS"; return 1
		fi
		local what="$auth certificates"
		[[ $auth == rawkey ]] && what="raw ECDSA public keys"
		how="$what ($(grep -o "authentication of '[^']*moon.espd.test' with [^ ]*" "$dir/charon/charon.log" | head -1 | awk '{print $NF}'))"
	fi
	traffic_checks "$dir" yes || return 1
	DETAIL="IKE ${IKE_PROPOSAL[$p]}, ESP $p, $how, iperf3 ${IPERF_GBITS} Gbit/s"
}

case_espd_pair() { # DIR ENCAP
	local dir=$1 encap=$2 out json
	espd_left_conf "$dir" aes128gcm16-prfsha256-x25519 aes128gcm16 "$PSK" encap="$encap"
	espd_right_conf "$dir"
	espd_start right "$dir/right.conf" "$dir" || return 1
	local right_pid=$ESPD_PID
	espd_start left "$dir/left.conf" "$dir" || return 1
	out=$(espd_ctl left up net 2>&1) || { log "espd up net: $out"; return 1; }
	json=$(espd_ctl right status --json)
	[[ $(jq -r '.ike_sas[0].state' <<<"$json") == ESTABLISHED ]] || { log "the responder espd has no ESTABLISHED IKE SA"; return 1; }
	[[ $(jq -r '.ike_sas[0].children[0].encap' <<<"$json") == "$([[ $encap == yes ]] && echo true || echo false)" ]] || {
		log "the responder's CHILD_SA encap is not $encap"; return 1
	}
	traffic_checks "$dir" "$encap" || return 1
	espd_stop right "$right_pid" || return 1
	DETAIL="aes128gcm16, $([[ $encap == yes ]] && echo ESP-in-UDP || echo raw ESP), iperf3 ${IPERF_GBITS} Gbit/s"
}

# no_sa_anywhere DIR: neither side kept an IKE SA or a CHILD_SA.
no_sa_anywhere() {
	local dir=$1 json
	json=$(espd_ctl left status --json)
	if [[ $(jq '[.ike_sas // [] | .[] | select(.state == "ESTABLISHED")] | length' <<<"$json") != 0 || $(jq '.sas // [] | length' <<<"$json") != 0 ]]; then
		log "espd kept SAs:"; printf '%s\n' "$json" >&2; return 1
	fi
	if swanctl_in right "$dir/charon" --list-sas 2>&1 | grep -q "ESTABLISHED\|INSTALLED"; then
		log "charon kept SAs"; return 1
	fi
}

case_wrong_psk() { # DIR ROLE(espd|ss)
	local dir=$1 role=$2 out
	espd_left_conf "$dir" aes128gcm16-prfsha256-x25519 aes128gcm16 "not the peer's key"
	start_charon_right "$dir" aes128gcm16-prfsha256-x25519 aes128gcm16 "$PSK" || return 1
	espd_start left "$dir/left.conf" "$dir" || return 1
	if [[ $role == espd ]]; then
		if out=$(espd_ctl left up net 2>&1); then log "espd up succeeded with a wrong PSK"; return 1; fi
		grep -q AUTHENTICATION_FAILED <<<"$out" || { log "espd up did not say AUTHENTICATION_FAILED: $out"; return 1; }
		wait_until 5 "charon's verdict" grep -q "AUTHENTICATION_FAILED\|AUTH_FAILED" "$dir/charon/charon.log" || return 1
	else
		if swanctl_in right "$dir/charon" --initiate --child net >"$dir/initiate.out" 2>&1; then
			log "charon initiated successfully with a wrong PSK"; return 1
		fi
		grep -q "AUTH_FAILED\|AUTHENTICATION_FAILED" "$dir/charon/charon.log" || { log "charon's log does not mention AUTHENTICATION_FAILED"; return 1; }
		grep -q AUTHENTICATION_FAILED "$dir/espd-left.log" || { log "espd's log does not say AUTHENTICATION_FAILED"; return 1; }
	fi
	no_sa_anywhere "$dir" || return 1
	DETAIL="AUTHENTICATION_FAILED on both sides, no SA"
}

case_mismatch() { # DIR ROLE(espd|ss)
	local dir=$1 role=$2 out
	local ours=aes256gcm16-prfsha384-ecp384 theirs=aes128gcm16-prfsha256-x25519
	espd_left_conf "$dir" "$ours" aes128gcm16 "$PSK"
	start_charon_right "$dir" "$theirs" aes128gcm16 "$PSK" || return 1
	espd_start left "$dir/left.conf" "$dir" || return 1
	if [[ $role == espd ]]; then
		if out=$(espd_ctl left up net 2>&1); then log "espd up succeeded without a common proposal"; return 1; fi
		grep -q NO_PROPOSAL_CHOSEN <<<"$out" || { log "espd up did not say NO_PROPOSAL_CHOSEN: $out"; return 1; }
		grep -q "NO_PROPOSAL_CHOSEN.*configured.*IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384" "$dir/espd-left.log" || {
			log "espd's log does not name its proposal"; return 1
		}
		# charon, the responder, logs both lists.
		grep -q "received proposals: IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384" "$dir/charon/charon.log" &&
			grep -q "configured proposals: IKE:AES_GCM_16_128/PRF_HMAC_SHA2_256/CURVE_25519" "$dir/charon/charon.log" || {
			log "charon's log does not list both proposals"; return 1
		}
	else
		if swanctl_in right "$dir/charon" --initiate --child net >"$dir/initiate.out" 2>&1; then
			log "charon initiated without a common proposal"; return 1
		fi
		grep -q NO_PROPOSAL_CHOSEN "$dir/charon/charon.log" || { log "charon's log does not say NO_PROPOSAL_CHOSEN"; return 1; }
		# espd, the responder, logs both lists.
		grep "NO_PROPOSAL_CHOSEN" "$dir/espd-left.log" |
			grep -q '"received": "IKE:AES_GCM_16_128/PRF_HMAC_SHA2_256/CURVE_25519".*"configured": "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384"' || {
			log "espd's log does not name both sides' proposals:"; grep NO_PROPOSAL "$dir/espd-left.log" >&2; return 1
		}
	fi
	no_sa_anywhere "$dir" || return 1
	DETAIL="NO_PROPOSAL_CHOSEN, both proposals in the responder's log, no SA"
}

# spis DIR: "IKE_SPIi IKE_SPIr CHILD_IN CHILD_OUT" as espd sees them.
spis() {
	espd_ctl left status --json | jq -r '.ike_sas[] | select(.state == "ESTABLISHED") |
		"\(.spi_i) \(.spi_r) \(.children[0].spi_in) \(.children[0].spi_out)"' | head -n 1
}

# _rekeyed WHAT BEFORE: espd's SPIs of WHAT (child or ike) differ from
# those in BEFORE (as spis prints them).
_rekeyed() {
	local now
	now=$(spis)
	[[ -n $now ]] || return 1
	if [[ $1 == child ]]; then
		[[ $(cut -d' ' -f3 <<<"$now") != "$(cut -d' ' -f3 <<<"$2")" ]]
	else
		[[ $(cut -d' ' -f1 <<<"$now") != "$(cut -d' ' -f1 <<<"$2")" ]]
	fi
}

# _charon_lists_none DIR PATTERN: charon lists no SA matching PATTERN.
_charon_lists_none() {
	! swanctl_in right "$1/charon" --list-sas 2>&1 | grep -q "$2"
}

# case_rekey DIR WHAT(child|ike) BY(espd|ss): a rekey under load loses no echo.
case_rekey() {
	local dir=$1 what=$2 by=$3 before after out loss
	espd_left_conf "$dir" aes128gcm16-prfsha256-x25519 aes128gcm16-x25519 "$PSK"
	start_charon_right "$dir" aes128gcm16-prfsha256-x25519 aes128gcm16-x25519 "$PSK" || return 1
	espd_start left "$dir/left.conf" "$dir" || return 1
	out=$(espd_ctl left up net 2>&1) || { log "espd up net: $out"; return 1; }
	before=$(spis)
	nsexec right iperf3 -s -B 198.18.2.1 -1 -D --logfile "$dir/iperf3-server.log"
	wait_until 5 "iperf3 server" nsexec right ss -ltn "sport = :5201"
	# iperf3 at 100 Mbit/s, below what charon's kernel-libipsec carries on
	# this machine (about 300), so that queues never overflow and any lost
	# echo is the rekey's fault, not congestion's.
	nsexec left iperf3 -c 198.18.2.1 -B 198.18.1.1 -t 10 -b 100M -J >"$dir/iperf3.json" 2>&1 &
	local iperf_pid=$!
	# iperf3's first second (connection set-up and its first bursts) once
	# cost an echo long before any rekey: ping starts after it.
	sleep 1
	# 800 echoes at 10 ms: about 8 s. The rekey starts after 2 s and so
	# ends inside them even when a message needs one retransmission (4 s).
	nsexec left ping -c 800 -i 0.01 -W 1 -I 198.18.1.1 198.18.2.1 >"$dir/ping.txt" 2>&1 &
	local ping_pid=$!
	sleep 2
	case $what-$by in
	child-espd) out=$(espd_ctl left rekey net 2>&1) ;;
	ike-espd) out=$(espd_ctl left rekey gw 2>&1) ;;
	child-ss) out=$(swanctl_in right "$dir/charon" --rekey --child net 2>&1) ;;
	ike-ss) out=$(swanctl_in right "$dir/charon" --rekey --ike gw 2>&1) ;;
	esac || { log "rekey command failed: $out"; return 1; }
	wait "$ping_pid" || true
	wait "$iperf_pid" || { log "iperf3 failed during the rekey"; return 1; }
	loss=$(grep -o '[0-9.]*% packet loss' "$dir/ping.txt")
	if [[ $loss != "0% packet loss" ]]; then
		log "ICMP across the rekey: $loss; unanswered icmp_seq: $(comm -23 <(seq 1 800 | sort) \
			<(grep -o 'icmp_seq=[0-9]*' "$dir/ping.txt" | cut -d= -f2 | sort -u) | sort -n | tr '\n' ' ')"
		tail -n 3 "$dir/ping.txt" >&2
		return 1
	fi
	# Under load a rekey message may need a retransmission (4 s, then
	# 7.2 s later), so the rekey may end after the traffic.
	wait_until 15 "the rekey to complete" _rekeyed "$what" "$before" || true
	after=$(spis)
	read -r bi br bin bout <<<"$before"
	read -r ai ar ain aout <<<"$after"
	if [[ $what == child && ($ain == "$bin" || $aout == "$bout" || $ai != "$bi") ]]; then
		log "CHILD_SA SPIs did not change as expected: before $before, after $after"; return 1
	fi
	if [[ $what == ike && ($ai == "$bi" || $ar == "$br") ]]; then
		log "IKE SPIs did not change: before $before, after $after"; return 1
	fi
	check_sas_match "$dir" || return 1
	# charon, too, lists a rekeyed SA as DELETED for delete_rekeyed_delay
	# (5 s) after its Delete; then it must be gone.
	local old_spis="${bi}_i\|${br}_r"
	[[ $what == child ]] && old_spis="$bin\|$bout"
	if ! wait_until 10 "charon to forget the old SA" _charon_lists_none "$dir" "$old_spis"; then
		swanctl_in right "$dir/charon" --list-sas >&2 2>&1
		return 1
	fi
	DETAIL="$what rekeyed by $by under iperf3, 800 echoes at 10 ms: $loss"
}

# case_delete DIR BY(espd|ss): a delete leaves no SA and no route.
case_delete() {
	local dir=$1 by=$2 out
	espd_left_conf "$dir" aes128gcm16-prfsha256-x25519 aes128gcm16 "$PSK"
	start_charon_right "$dir" aes128gcm16-prfsha256-x25519 aes128gcm16 "$PSK" || return 1
	espd_start left "$dir/left.conf" "$dir" || return 1
	out=$(espd_ctl left up net 2>&1) || { log "espd up net: $out"; return 1; }
	espd_wait_route left 198.18.2.1 || return 1
	if [[ $by == espd ]]; then
		out=$(espd_ctl left down gw 2>&1) || { log "espd down gw: $out"; return 1; }
	else
		swanctl_in right "$dir/charon" --terminate --ike gw >"$dir/terminate.out" 2>&1 || { log "swanctl --terminate failed"; return 1; }
	fi
	wait_until 10 "espd to drop its SAs" sh -c "! $(printf '%q ' "$ESPD") status --json --socket $(printf '%q' "$NETNS_WORKDIR/espd-left.sock") | grep -q spi_i" || return 1
	wait_until 10 "charon to drop its SAs" sh -c "! ip netns exec $(ns right) env STRONGSWAN_CONF=$dir/charon/strongswan.conf swanctl --list-sas --uri unix://$dir/charon/charon.vici | grep -q ESTABLISHED" || return 1
	no_sa_anywhere "$dir" || return 1
	if _espd_routes_into_tun left 198.18.2.1; then
		log "the route into the TUN outlived the SA"; return 1
	fi
	DETAIL="deleted by $by: no SA on either side, route removed"
}

# case_nat_two_clients DIR: two espd clients behind one NAT, one gateway.
case_nat_two_clients() {
	local dir=$1 i out json gw_pid
	nsexec left sysctl -qw net.ipv4.ip_forward=1
	nsexec left nft -f - <<-EOF
		table ip nat {
		    chain post {
		        type nat hook postrouting priority 100;
		        oifname "wan0" masquerade
		    }
		}
	EOF
	for i in 1 2; do
		ns_add "client$i"
		veth_link left "lan$i" "client$i" wan0
	done
	addr_add left lan1 198.51.100.1/25
	addr_add client1 wan0 198.51.100.2/25
	addr_add left lan2 198.51.100.129/25
	addr_add client2 wan0 198.51.100.130/25
	nsexec client1 ip route add default via 198.51.100.1
	nsexec client2 ip route add default via 198.51.100.129

	write_ike_conf "$dir/gw.conf" local=192.0.2.2 remote=%any local_id=gw.espd.test remote_id=%any \
		tun=198.18.2.1 ts_local=198.18.2.0/24 ts_remote=198.18.0.0/16 ike=aes128gcm16-prfsha256-x25519 esp=aes128gcm16 psk="$PSK"
	espd_start right "$dir/gw.conf" "$dir" || return 1
	gw_pid=$ESPD_PID
	for i in 1 2; do
		write_ike_conf "$dir/client$i.conf" local=%any remote=192.0.2.2 local_id="client$i.espd.test" remote_id=gw.espd.test \
			tun="198.18.$((2 * i - 1)).1" ts_local="198.18.$((2 * i - 1)).0/24" ts_remote=198.18.2.0/24 \
			ike=aes128gcm16-prfsha256-x25519 esp=aes128gcm16 psk="$PSK"
		espd_start "client$i" "$dir/client$i.conf" "$dir" || return 1
		out=$(espd_ctl "client$i" up net 2>&1) || { log "client$i: espd up net: $out"; return 1; }
		json=$(espd_ctl "client$i" status --json)
		[[ $(jq -r '.ike_sas[0].nat_here' <<<"$json") == true ]] || { log "client$i did not detect the NAT"; return 1; }
		[[ $(jq -r '.ike_sas[0].local' <<<"$json") == *:4500 ]] || { log "client$i did not float to port 4500"; return 1; }
	done
	json=$(espd_ctl right status --json)
	printf '%s\n' "$json" >"$dir/gw-status.json"
	[[ $(jq '[.ike_sas[] | select(.state == "ESTABLISHED" and .encap)] | length' <<<"$json") == 2 ]] || {
		log "the gateway does not hold two encapsulated IKE SAs"; return 1
	}
	[[ $(jq -r '[.ike_sas[].remote] | unique | length' <<<"$json") == 2 && $(jq -r '[.ike_sas[].remote | split(":")[0]] | unique[]' <<<"$json") == 192.0.2.1 ]] || {
		log "the gateway does not see two ports of the NAT's address"; return 1
	}
	ping_all client1 198.18.1.1 198.18.2.1 || { log "client1 -> gateway pings lost"; return 1; }
	ping_all client2 198.18.3.1 198.18.2.1 || { log "client2 -> gateway pings lost"; return 1; }
	ping_all right 198.18.2.1 198.18.1.1 || { log "gateway -> client1 pings lost"; return 1; }
	ping_all right 198.18.2.1 198.18.3.1 || { log "gateway -> client2 pings lost"; return 1; }
	# Behind the NAT, each client keeps its mapping alive with a one-byte
	# 0xff datagram to port 4500 every 20 s (RFC 3948 §2.3, §4).
	capture_start right wan0 "$dir/keepalive.pcap" "udp dst port 4500 and udp[4:2] = 9 and udp[8] = 0xff" || return 1
	sleep 21
	capture_stop "$CAPTURE_PID"
	local keepalives
	keepalives=$(tshark -r "$dir/keepalive.pcap" -T fields -e udp.srcport 2>/dev/null | sort -u | wc -l)
	((keepalives == 2)) || { log "NAT keepalives came from $keepalives client ports in 21 s, want 2"; return 1; }
	espd_stop right "$gw_pid" || return 1
	for i in 1 2; do
		espd_stop "client$i" "${ESPD_PIDS_BY_NS[client$i]}" || return 1
	done
	ESPD_PID=""
	DETAIL="two clients behind one NAT as $(jq -r '[.ike_sas[].remote] | join(" and ")' <<<"$json"), keepalives from both"
}

# case_espd_transport DIR: host to host in transport mode; the protected
# traffic is the hosts' own, between their outer addresses.
case_espd_transport() {
	local dir=$1 out json pcap=$1/wan.pcap right_pid esp clear
	write_ike_conf "$dir/left.conf" local=192.0.2.1 remote=192.0.2.2 local_id=192.0.2.1 remote_id=192.0.2.2 \
		ts_local=dynamic ts_remote=dynamic ike=aes128gcm16-prfsha256-x25519 esp=aes128gcm16 mode=transport psk="$PSK"
	write_ike_conf "$dir/right.conf" local=192.0.2.2 remote=192.0.2.1 local_id=192.0.2.2 remote_id=192.0.2.1 \
		ts_local=dynamic ts_remote=dynamic ike=aes128gcm16-prfsha256-x25519 esp=aes128gcm16 mode=transport psk="$PSK"
	espd_start right "$dir/right.conf" "$dir" || return 1
	right_pid=$ESPD_PID
	espd_start left "$dir/left.conf" "$dir" || return 1
	out=$(espd_ctl left up net 2>&1) || { log "espd up net: $out"; return 1; }
	json=$(espd_ctl right status --json)
	[[ $(jq -r '.ike_sas[0].children[0].mode' <<<"$json") == transport ]] || { log "the responder's CHILD_SA is not in transport mode"; return 1; }
	capture_start right wan0 "$pcap" || return 1
	ping_all left 192.0.2.1 192.0.2.2 || { log "pings left -> right lost"; return 1; }
	ping_all right 192.0.2.2 192.0.2.1 || { log "pings right -> left lost"; return 1; }
	capture_stop "$CAPTURE_PID"
	esp=$(tshark -r "$pcap" -Y "ip.proto == 50" 2>/dev/null | wc -l)
	clear=$(tshark -r "$pcap" -Y "icmp.type == 8 || icmp.type == 0" 2>/dev/null | wc -l)
	if ((esp < 12 || clear != 0)); then
		log "on the wire: $esp ESP packets (want >= 12), $clear ICMP echoes in the clear (want 0)"
		return 1
	fi
	espd_stop right "$right_pid" || return 1
	DETAIL="transport mode, dynamic selectors, $esp ESP packets and no ICMP in the clear"
}

# case_rw_dynamic DIR: dynamic selectors resolved to the IKE addresses.
case_rw_dynamic() {
	local dir=$1 out json right_pid
	write_ike_conf "$dir/right.conf" local=192.0.2.2 remote=%any local_id=gw.espd.test remote_id=%any \
		tun=198.18.2.1 ts_local=198.18.2.0/24 ts_remote=dynamic ike=aes128gcm16-prfsha256-x25519 esp=aes128gcm16 psk="$PSK"
	write_ike_conf "$dir/left.conf" local=%any remote=192.0.2.2 local_id=rw.espd.test remote_id=gw.espd.test \
		ts_local=dynamic ts_remote=198.18.2.0/24 ike=aes128gcm16-prfsha256-x25519 esp=aes128gcm16 psk="$PSK"
	espd_start right "$dir/right.conf" "$dir" || return 1
	right_pid=$ESPD_PID
	espd_start left "$dir/left.conf" "$dir" || return 1
	out=$(espd_ctl left up net 2>&1) || { log "espd up net: $out"; return 1; }
	json=$(espd_ctl right status --json)
	[[ $(jq -r '.ike_sas[0].children[0].remote_ts | join(",")' <<<"$json") == 192.0.2.1/32 ]] || {
		log "the gateway's remote selector is not the client's address: $(jq -c '.ike_sas[0].children[0]' <<<"$json")"; return 1
	}
	ping_all left 192.0.2.1 198.18.2.1 || { log "pings from the client's address lost"; return 1; }
	espd_stop right "$right_pid" || return 1
	DETAIL="remote_ts = dynamic became 192.0.2.1/32 on the gateway; pings pass"
}

# case_start_action DIR: start_action = start brings the tunnel up alone.
case_start_action() {
	local dir=$1 right_pid
	espd_right_conf "$dir"
	espd_left_conf "$dir" aes128gcm16-prfsha256-x25519 aes128gcm16 "$PSK" start_action=start
	espd_start right "$dir/right.conf" "$dir" || return 1
	right_pid=$ESPD_PID
	espd_start left "$dir/left.conf" "$dir" || return 1
	espd_wait_route left 198.18.2.1 || { log "start_action = start set up no CHILD_SA"; return 1; }
	ping_all left 198.18.1.1 198.18.2.1 || { log "pings through the started tunnel lost"; return 1; }
	espd_stop right "$right_pid" || return 1
	DETAIL="the CHILD_SA came up at start-up; pings pass"
}

# _new_ike_sa OLD: espd has an established IKE SA other than OLD.
_new_ike_sa() {
	local now
	now=$(spis)
	[[ -n $now && $now != "$1" ]]
}

# case_dpd_restart DIR: a peer that lost its state is found by DPD, and
# dpd_action = restart sets the tunnel up again.
case_dpd_restart() {
	local dir=$1 out right_pid before after
	espd_right_conf "$dir"
	espd_left_conf "$dir" aes128gcm16-prfsha256-x25519 aes128gcm16 "$PSK" dpd_delay=2s dpd_action=restart retransmit="1s 2"
	espd_start right "$dir/right.conf" "$dir" || return 1
	right_pid=$ESPD_PID
	espd_start left "$dir/left.conf" "$dir" || return 1
	local left_pid=$ESPD_PID
	out=$(espd_ctl left up net 2>&1) || { log "espd up net: $out"; return 1; }
	before=$(spis)
	# The peer dies without a word and comes back without its state.
	kill -KILL "$right_pid"
	wait "$right_pid" 2>/dev/null || true
	espd_start right "$dir/right.conf" "$dir" || return 1
	right_pid=$ESPD_PID
	ESPD_PID=$left_pid
	wait_until 30 "DPD to find the peer gone and the tunnel to come back" _new_ike_sa "$before" || true
	after=$(spis)
	if [[ -z $after || $after == "$before" ]]; then
		log "no new IKE SA after DPD: before '$before', after '$after'"; return 1
	fi
	grep -q "restarting a child" "$dir/espd-left.log" || { log "espd's log shows no restart"; return 1; }
	ping_all left 198.18.1.1 198.18.2.1 || { log "pings through the restarted tunnel lost"; return 1; }
	espd_stop right "$right_pid" || return 1
	DETAIL="DPD found the dead IKE SA, dpd_action = restart set up a new one"
}

# junk_to NS ADDR PORT COUNT: COUNT datagrams of random bytes (0-599 of
# them), one write each, from NS to ADDR:PORT.
junk_to() {
	nsexec "$1" bash -c 'exec 3>/dev/udp/$1/$2; for ((i = 0; i < $3; i++)); do head -c $((RANDOM % 600)) /dev/urandom >&3 2>/dev/null; done' _ "$2" "$3" "$4"
}

# replay_to NS ADDR PCAP: every IKE datagram of the capture, again, to both
# of ADDR's IKE ports (on 4500 behind the non-ESP marker).
replay_to() {
	local ns_short=$1 addr=$2 pcap=$3 hex
	while read -r hex; do
		[[ -n $hex ]] || continue
		nsexec "$ns_short" bash -c 'exec 3>/dev/udp/$1/500; printf "%b" "$2" >&3; exec 4>/dev/udp/$1/4500; printf "\\0\\0\\0\\0%b" "$2" >&4' \
			_ "$addr" "$(sed 's/\(..\)/\\x\1/g' <<<"${hex//:/}")"
	done < <(tshark -r "$pcap" -Y isakmp -T fields -e isakmp 2>/dev/null)
}

# case_hostile DIR: junk at the IKE ports does not disturb an SA.
case_hostile() {
	local dir=$1 out right_pid before after json drops
	espd_right_conf "$dir"
	espd_left_conf "$dir" aes128gcm16-prfsha256-x25519 aes128gcm16 "$PSK" encap=yes
	espd_start right "$dir/right.conf" "$dir" || return 1
	right_pid=$ESPD_PID
	espd_start left "$dir/left.conf" "$dir" || return 1
	capture_start right wan0 "$dir/ike.pcap" "udp port 500 or udp port 4500" || return 1
	out=$(espd_ctl left up net 2>&1) || { log "espd up net: $out"; return 1; }
	capture_stop "$CAPTURE_PID"
	before=$(spis)
	nsexec left ping -c 300 -i 0.01 -W 1 -I 198.18.1.1 198.18.2.1 >"$dir/ping.txt" 2>&1 &
	local ping_pid=$!
	local junk=() target
	for target in "right 192.0.2.1" "left 192.0.2.2"; do
		junk_to ${target% *} ${target#* } 500 500 &
		junk+=($!)
		junk_to ${target% *} ${target#* } 4500 500 &
		junk+=($!)
	done
	replay_to right 192.0.2.1 "$dir/ike.pcap"
	replay_to left 192.0.2.2 "$dir/ike.pcap"
	wait "$ping_pid" "${junk[@]}" || true
	grep -q " 0% packet loss" "$dir/ping.txt" || { log "echoes lost: $(grep -o '[0-9.]*% packet loss' "$dir/ping.txt")"; return 1; }
	kill -0 "$right_pid" && kill -0 "$ESPD_PID" || { log "a daemon died"; return 1; }
	after=$(spis)
	[[ $after == "$before" ]] || { log "the SAs changed: before '$before', after '$after'"; return 1; }
	json=$(espd_ctl left status --json)
	drops=$(jq '[.drops // {} | to_entries[] | .value] | add // 0' <<<"$json")
	((drops > 0)) || { log "espd counted no drops for the junk on port 4500"; return 1; }
	ping_all left 198.18.1.1 198.18.2.1 || return 1
	espd_stop right "$right_pid" || return 1
	DETAIL="2000 junk datagrams and replays: no echo lost, SAs unchanged, $drops data plane drops counted ($(jq -c '.drops' <<<"$json"))"
}

# case_shutdown DIR: SIGTERM deletes the IKE SA with the peer first.
case_shutdown() {
	local dir=$1 out
	espd_left_conf "$dir" aes128gcm16-prfsha256-x25519 aes128gcm16 "$PSK"
	start_charon_right "$dir" aes128gcm16-prfsha256-x25519 aes128gcm16 "$PSK" || return 1
	espd_start left "$dir/left.conf" "$dir" || return 1
	out=$(espd_ctl left up net 2>&1) || { log "espd up net: $out"; return 1; }
	espd_stop left "$ESPD_PID" || return 1
	ESPD_PID=""
	grep -q "received DELETE for IKE_SA" "$dir/charon/charon.log" || { log "charon got no Delete from the stopping espd"; return 1; }
	if swanctl_in right "$dir/charon" --list-sas 2>&1 | grep -q "ESTABLISHED\|INSTALLED"; then
		log "charon still holds the SA after espd stopped"; return 1
	fi
	DETAIL="SIGTERM: espd deleted its IKE SA with charon, which holds nothing"
}

# case_reload DIR: espd reload takes a fixed configuration.
case_reload() {
	local dir=$1 out
	espd_left_conf "$dir" aes128gcm16-prfsha256-x25519 aes128gcm16 "not the peer's key"
	start_charon_right "$dir" aes128gcm16-prfsha256-x25519 aes128gcm16 "$PSK" || return 1
	espd_start left "$dir/left.conf" "$dir" || return 1
	if out=$(espd_ctl left up net 2>&1); then log "espd up succeeded with the wrong PSK"; return 1; fi
	espd_left_conf "$dir" aes128gcm16-prfsha256-x25519 aes128gcm16 "$PSK"
	out=$(espd_ctl left reload 2>&1) || { log "espd reload: $out"; return 1; }
	out=$(espd_ctl left up net 2>&1) || { log "espd up after the reload: $out"; return 1; }
	check_sas_match "$dir" || return 1
	ping_all left 198.18.1.1 198.18.2.1 || { log "pings after the reload lost"; return 1; }
	DETAIL="wrong PSK refused, file fixed, espd reload, up succeeds"
}

run_case() {
	local c=$1 dir=$NETNS_WORKDIR/$1
	mkdir -p "$dir"
	DETAIL=""
	local rc=0
	case $c in
	espd-raw) case_espd_pair "$dir" no || rc=1 ;;
	espd-encap) case_espd_pair "$dir" yes || rc=1 ;;
	espd-transport) case_espd_transport "$dir" || rc=1 ;;
	espd-start-action) case_start_action "$dir" || rc=1 ;;
	espd-rw-dynamic) case_rw_dynamic "$dir" || rc=1 ;;
	reload) case_reload "$dir" || rc=1 ;;
	dpd-restart) case_dpd_restart "$dir" || rc=1 ;;
	hostile-input) case_hostile "$dir" || rc=1 ;;
	shutdown-deletes) case_shutdown "$dir" || rc=1 ;;
	ss-*)
		local role auth p
		IFS=- read -r _ role auth p <<<"$c"
		p=${c#ss-"$role"-"$auth"-}
		case_interop "$dir" "$role" "$auth" "$p" || rc=1
		;;
	wrong-psk-espd-init) case_wrong_psk "$dir" espd || rc=1 ;;
	wrong-psk-ss-init) case_wrong_psk "$dir" ss || rc=1 ;;
	mismatch-espd-init) case_mismatch "$dir" espd || rc=1 ;;
	mismatch-ss-init) case_mismatch "$dir" ss || rc=1 ;;
	nat-two-clients) case_nat_two_clients "$dir" || rc=1 ;;
	rekey-child-by-espd) case_rekey "$dir" child espd || rc=1 ;;
	rekey-child-by-ss) case_rekey "$dir" child ss || rc=1 ;;
	rekey-ike-by-espd) case_rekey "$dir" ike espd || rc=1 ;;
	rekey-ike-by-ss) case_rekey "$dir" ike ss || rc=1 ;;
	delete-by-espd) case_delete "$dir" espd || rc=1 ;;
	delete-by-ss) case_delete "$dir" ss || rc=1 ;;
	esac
	if ((rc == 0)) && [[ -n ${ESPD_PID:-} ]] && kill -0 "$ESPD_PID" 2>/dev/null; then
		espd_stop left "$ESPD_PID" || rc=1
	fi
	if ((rc != 0)) && [[ -s $dir/charon/charon.log ]]; then
		log "$c: last lines of charon's log:"
		tail -n 15 "$dir/charon/charon.log" | sed 's/^/    /' >&2
	fi
	return "$rc"
}

# cleanup_case stops what a case started, so that the next one starts
# from the bare test bed.
cleanup_case() {
	charon_stop right
	ns_kill_named left iperf3
	ns_kill_named right iperf3
	stop_started
	nsexec right ip addr del 198.18.2.1/32 dev lo 2>/dev/null || true
	# The NAT case's extra namespaces, links and rules.
	local i
	for i in 1 2; do
		ip netns del "$(ns "client$i")" 2>/dev/null || true
	done
	nsexec left nft flush ruleset 2>/dev/null || true
	nsexec left sysctl -qw net.ipv4.ip_forward=0 || true
}

PKI_DIR=$NETNS_WORKDIR/pki
pki_make "$PKI_DIR" || die "could not make the test PKI"
two_host_testbed ipv4-only
run_cases 34 DETAIL cleanup_case "${CASES[@]}"
log "ike: $CASES_PASSED passed, $CASES_FAILED failed"
((CASES_FAILED == 0))

# shellcheck shell=bash
#
# Part of bench/run.sh, which sources it: strongSwan's charon with kernel-libipsec.

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

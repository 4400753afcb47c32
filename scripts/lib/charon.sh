# shellcheck shell=bash disable=SC2034 # variables set here are read by the sourcing script
#
# strongSwan's charon as a test peer, one daemon per namespace (TESTBED.md:
# its own strongswan.conf, vici socket and log in a directory, and a private
# /run because charon insists on /var/run/charon.pid). Source after netns.sh.
#
#   charon_find                       sets CHARON (or dies)
#   charon_start NS DIR [EXTRA]       run charon in the existing namespace NS,
#                                     configured by DIR/strongswan.conf (written
#                                     here; EXTRA is added inside charon { });
#                                     pid in CHARON_PIDS[NS]
#   charon_stop NS                    SIGTERM, wait
#   swanctl_in NS DIR ARGS...         swanctl talking to that charon

if [[ -n ${CHARON_SH_LOADED:-} ]]; then
	return 0
fi
CHARON_SH_LOADED=1

# TESTBED.md's plugin list: kernel-libipsec is charon's userspace data
# plane (this kernel has no ESP), openssl before aes and gcm for speed.
CHARON_PLUGINS="random nonce openssl aesni aes sha1 sha2 hmac gcm chapoly pem pkcs1 pkcs8 x509 pubkey curve25519 gmp kdf kernel-libipsec kernel-netlink socket-default vici updown attr"
declare -A CHARON_PIDS=()

# Debian 12 ships charon as charon-systemd, which runs in the foreground
# like charon and reads the same settings (its section falls back to
# charon's).
charon_find() {
	CHARON=${ESPD_CHARON:-}
	if [[ -z $CHARON ]]; then
		local candidate
		for candidate in /usr/lib/ipsec/charon /usr/libexec/ipsec/charon /usr/sbin/charon-systemd; do
			if [[ -x $candidate ]]; then
				CHARON=$candidate
				break
			fi
		done
	fi
	[[ -n $CHARON && -x $CHARON ]] || die "no charon binary (install strongswan-charon or charon-systemd, or set ESPD_CHARON)"
}

charon_write_conf() {
	local dir=$1 extra=${2:-}
	cat >"$dir/strongswan.conf" <<-EOF
		charon {
			load = $CHARON_PLUGINS
			filelog {
				log {
					path = $dir/charon.log
					flush_line = yes
					default = 1
					cfg = 2
					ike = 2
				}
			}
			plugins {
				vici {
					socket = unix://$dir/charon.vici
				}
			}
			$extra
		}
	EOF
}

charon_start() {
	local ns_short=$1 dir=$2 extra=${3:-}
	[[ -n ${CHARON:-} ]] || charon_find
	charon_write_conf "$dir" "$extra"
	rm -f "$dir/charon.vici"
	# shellcheck disable=SC2016 # $1 and $2 are the inner shell's
	bg_start "$ns_short" "$dir/charon.out" unshare -m --propagation private \
		sh -c 'mount -t tmpfs tmpfs /run && STRONGSWAN_CONF="$1" exec "$2"' sh "$dir/strongswan.conf" "$CHARON"
	CHARON_PIDS[$ns_short]=$BG_PID
	wait_until 20 "charon's vici socket in $dir" test -S "$dir/charon.vici"
}

charon_stop() {
	local ns_short=$1
	[[ -n ${CHARON_PIDS[$ns_short]:-} ]] || return 0
	bg_stop "${CHARON_PIDS[$ns_short]}" 10 || true
	unset "CHARON_PIDS[$ns_short]"
}

swanctl_in() {
	local ns_short=$1 dir=$2
	shift 2
	nsexec "$ns_short" env STRONGSWAN_CONF="$dir/strongswan.conf" swanctl "$@" --uri "unix://$dir/charon.vici"
}

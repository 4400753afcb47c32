#!/usr/bin/env bash
#
# swanctl_load.sh: the configuration files that espd ships as
# strongSwan-compatible load into strongSwan's charon unchanged, and the
# ones espd rejects because strongSwan would reject them too fail there.
#
#   internal/config/testdata/*.conf                    must load
#   internal/config/testdata/strongswan-rejects/*.conf must fail to load
#
# (espd's own loader is held to the same two lists by the Go tests
# TestSwanctlExamples and TestStrongSwanRejects in internal/config.)
#
# Each file gets a fresh network namespace with a private /run, where
# charon runs with its own strongswan.conf (an explicit plugin list, the
# vici socket and a log in a temporary directory, see TESTBED.md). The file
# is copied unchanged into that directory, next to the x509, x509ca, ecdsa
# and rsa directories that swanctl reads relative to it, and loaded with
# `swanctl --load-all --file`. A file that must load passes when
#   - swanctl exits 0 and reports nothing failed, invalid, ignored or skipped,
#   - `swanctl --list-conns` lists exactly the connections espd reads from
#     it (EXPECTED_CONNS below) and `--list-authorities` the authorities,
#   - each private key its secrets section unlocks was loaded, that is the
#     passphrase in the file worked.
# A file that must fail passes when swanctl exits non-zero, says what
# failed, and charon has no connection loaded.
#
# The certificates and keys the examples name are made here with openssl
# (an ECDSA CA, an ECDSA gateway certificate, an RSA client certificate),
# valid for two days and deleted afterwards.
#
# Usage: swanctl_load.sh [--espd PATH]
#   --espd is accepted because test.sh passes it to every integration
#   script; this test needs strongSwan only. ESPD_KEEP_WORKDIR=1 keeps the
#   directories with the configurations and charon's logs.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/netns.sh
source "$HERE/../lib/netns.sh"
# shellcheck source=../lib/deps.sh
source "$HERE/../lib/deps.sh"
# shellcheck source=../lib/charon.sh
source "$HERE/../lib/charon.sh"

usage() {
	cat <<-EOF
		usage: $0 [--espd PATH]
		Loads internal/config/testdata/*.conf into strongSwan's charon (each must
		load) and testdata/strongswan-rejects/*.conf (each must fail).
		ESPD_KEEP_WORKDIR=1 keeps configurations and logs.
	EOF
}

while (($#)); do
	case $1 in
	--espd) shift 2 ;; # not needed here
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done

CONFIG_DIR=$ESPD_REPO/internal/config/testdata

# What espd reads from each file that must load; a new example needs an
# entry here (and in the Go test), or this script fails it.
declare -A EXPECTED_CONNS=(
	[example.conf]="gw-gw"
	[site-to-site.conf]="gw1-gw2"
	[host-to-host.conf]="host-host"
	[road-warrior-gateway.conf]="rw"
	[road-warrior-client.conf]="home"
	[every-form.conf]="addrs-and-times ids-1 ids-2 ids-3 ids-4 ids-5 ids-6 ids-7 ids-8 ids-9"
)
declare -A EXPECTED_AUTHORITIES=(
	[road-warrior-gateway.conf]="example-ca"
	[every-form.conf]="example-ca"
)
# The credential files a configuration names, which go where swanctl looks
# for them: caCert (x509ca/caCert.pem), gwCert (x509/gwCert.pem), gwKey
# (ecdsa/gwKey.pem, encrypted), gwPub (pubkey/gwPub.pem, gwCert's public
# key), aliceCert (x509/aliceCert.pem), aliceKey (rsa/aliceKey.pem,
# encrypted).
declare -A CREDENTIALS=(
	[road-warrior-gateway.conf]="caCert gwCert gwKey"
	[road-warrior-client.conf]="caCert aliceCert aliceKey"
	[every-form.conf]="caCert gwCert gwPub"
)
# The passphrases the examples' secrets sections give for those keys.
GW_KEY_PASSPHRASE="gateway key passphrase"
ALICE_KEY_PASSPHRASE="alice key passphrase"

# The directories swanctl --load-all reads credentials from, relative to
# the configuration file (swanctl.h).
SWANCTL_DIRS=(x509 x509ca x509ocsp x509aa x509ac x509crl pubkey private rsa ecdsa bliss pkcs8 pkcs12)

need_root
need_tools ip unshare mount openssl swanctl sort comm
netns_remove_stale

charon_find
log "charon: $CHARON; strongSwan $(dpkg-query -W -f='${Version}' strongswan-swanctl 2>/dev/null || echo "(version unknown)")"

# --- credentials -------------------------------------------------------------

PKI=$NETNS_WORKDIR/pki

make_pki() {
	local o=$PKI
	mkdir -p "$o"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-keyout "$o/ca.key" -out "$o/caCert.pem" -subj "/C=CH/O=espd test/CN=espd test CA" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign &&
		leaf_cert gw "ec -pkeyopt ec_paramgen_curve:P-256" "/C=CH/O=espd test/CN=gw.example.org" \
			"subjectAltName=DNS:gw.example.org" 2 &&
		leaf_cert alice "rsa:2048" "/C=CH/O=espd test/CN=alice@example.org" \
			"subjectAltName=email:alice@example.org" 3 &&
		# Encrypted in the traditional PEM format, which swanctl's pem
		# plugin decrypts with the passphrase from the secrets section.
		openssl ec -in "$o/gw.key" -aes128 -passout "pass:$GW_KEY_PASSPHRASE" -out "$o/gwKey.pem" &&
		openssl pkey -in "$o/gw.key" -pubout -out "$o/gwPub.pem" &&
		openssl rsa -in "$o/alice.key" -aes128 -traditional -passout "pass:$ALICE_KEY_PASSPHRASE" -out "$o/aliceKey.pem"
}

# leaf_cert NAME NEWKEY SUBJECT EXTENSION SERIAL
leaf_cert() {
	local o=$PKI name=$1 newkey=$2 subject=$3 extension=$4 serial=$5
	# shellcheck disable=SC2086 # NEWKEY is several words on purpose
	openssl req -new -newkey $newkey -nodes -keyout "$o/$name.key" -subj "$subject" -out "$o/$name.csr" &&
		printf '%s\n' "$extension" >"$o/$name.ext" &&
		openssl x509 -req -in "$o/$name.csr" -CA "$o/caCert.pem" -CAkey "$o/ca.key" -set_serial "$serial" \
			-days 2 -extfile "$o/$name.ext" -out "$o/${name}Cert.pem"
}

# credential_dir ITEM: the directory of swanctl's that ITEM goes into.
credential_dir() {
	case $1 in
	caCert) echo x509ca ;;
	gwCert | aliceCert) echo x509 ;;
	gwKey) echo ecdsa ;;
	aliceKey) echo rsa ;;
	gwPub) echo pubkey ;;
	*) die "unknown credential '$1'" ;;
	esac
}

# key_loaded_pattern ITEM DIR: the line swanctl prints when it has
# decrypted the key ITEM; nothing for other items.
key_loaded_pattern() {
	case $1 in
	gwKey) printf "loaded ECDSA key from '%s/ecdsa/gwKey.pem'" "$2" ;;
	aliceKey) printf "loaded RSA key from '%s/rsa/aliceKey.pem'" "$2" ;;
	esac
}

# --- charon --------------------------------------------------------------------

# start_charon SHORT DIR: charon in a new namespace with a private /run
# (charon insists on its pid file there), configured by DIR/strongswan.conf.
start_charon() {
	local short=$1 dir=$2
	ns_add "$short" || return 1
	charon_start "$short" "$dir" || return 1
	CHARON_PID=${CHARON_PIDS[$short]}
}

# stop_charon SHORT: stops charon and deletes its namespace at once, and
# takes both off netns.sh's cleanup lists, so that the summary stays the
# last line of the output and no pid is signalled after it may be reused.
stop_charon() {
	local short=$1 name item kept_ns=() kept_pids=()
	bg_stop "$CHARON_PID" 10 || true
	name=$(ns "$short")
	ip netns del "$name" 2>/dev/null || true
	for item in "${NETNS_CREATED[@]}"; do
		[[ $item == "$name" ]] || kept_ns+=("$item")
	done
	for item in "${NETNS_PIDS[@]}"; do
		[[ $item == "$CHARON_PID" ]] || kept_pids+=("$item")
	done
	NETNS_CREATED=("${kept_ns[@]}")
	NETNS_PIDS=("${kept_pids[@]}")
}

# prepare_case NAME FILE: a directory with the file, copied unchanged, and
# swanctl's credential directories; prints its path.
prepare_case() {
	local name=$1 file=$2 dir d
	dir=$NETNS_WORKDIR/cases/$name
	mkdir -p "$dir"
	for d in "${SWANCTL_DIRS[@]}"; do
		mkdir -p "$dir/$d"
	done
	cp "$file" "$dir/"
	cmp -s "$file" "$dir/$(basename "$file")" || die "copy of $file differs"
	printf '%s' "$dir"
}

show_logs() {
	local dir=$1
	log "swanctl said:"
	sed 's/^/    /' "$dir/load.out" >&2 || true
	log "charon's log ends with:"
	tail -n 20 "$dir/charon.log" 2>/dev/null | sed 's/^/    /' >&2 || true
}

# listed_names FILE: the section names --list-conns or --list-authorities
# print at the start of a line ("name: IKEv2, ..." or "name:").
listed_names() {
	{ grep -E '^[^[:space:]][^:]*:' "$1" || true; } | cut -d: -f1 | sort -u
}

PASSED=0
FAILED=0
FAILURES=()

pass() {
	PASSED=$((PASSED + 1))
	log "PASS $1"
}

fail() {
	FAILED=$((FAILED + 1))
	FAILURES+=("$1: $2")
	log "FAIL $1: $2"
}

# check_loads FILE: a file that must load.
check_loads() {
	local file=$1 base name short dir rc=0 want got reason="" pattern item
	base=$(basename "$file")
	name=${base%.conf}
	short=ok$PASSED$FAILED
	log_step "$base must load into strongSwan"
	if [[ -z ${EXPECTED_CONNS[$base]+set} ]]; then
		fail "$base" "no EXPECTED_CONNS entry in $(basename "$0"); add what espd reads from it"
		return
	fi
	dir=$(prepare_case "$name" "$file")
	for item in ${CREDENTIALS[$base]:-}; do
		cp "$PKI/$item.pem" "$dir/$(credential_dir "$item")/"
	done
	if ! start_charon "$short" "$dir"; then
		fail "$base" "charon did not start"
		show_logs "$dir"
		return
	fi
	swanctl_in "$short" "$dir" --load-all --noprompt --file "$dir/$base" >"$dir/load.out" 2>&1 || rc=$?
	swanctl_in "$short" "$dir" --list-conns >"$dir/conns.out" 2>&1 || true
	swanctl_in "$short" "$dir" --list-authorities >"$dir/authorities.out" 2>&1 || true
	stop_charon "$short"

	if ((rc != 0)); then
		reason="swanctl --load-all exited $rc"
	elif grep -qiE 'fail|error|invalid|ignor|skip|unsupported|discarded|missing' "$dir/load.out"; then
		reason="swanctl reported a problem: $(grep -iE 'fail|error|invalid|ignor|skip|unsupported|discarded|missing' "$dir/load.out" | head -n 1)"
	fi
	want=$(tr ' ' '\n' <<<"${EXPECTED_CONNS[$base]}" | sed '/^$/d' | sort -u)
	got=$(listed_names "$dir/conns.out")
	if [[ -z $reason && $got != "$want" ]]; then
		reason="charon has connections [$(echo "$got" | xargs)], espd reads [$(echo "$want" | xargs)]"
	fi
	want=$(tr ' ' '\n' <<<"${EXPECTED_AUTHORITIES[$base]:-}" | sed '/^$/d' | sort -u)
	got=$(listed_names "$dir/authorities.out")
	if [[ -z $reason && $got != "$want" ]]; then
		reason="charon has authorities [$(echo "$got" | xargs)], espd reads [$(echo "$want" | xargs)]"
	fi
	for item in ${CREDENTIALS[$base]:-}; do
		pattern=$(key_loaded_pattern "$item" "$dir")
		if [[ -z $reason && -n $pattern ]] && ! grep -qF "$pattern" "$dir/load.out"; then
			reason="no \"$pattern\": the passphrase in the secrets section did not unlock the key"
		fi
	done
	if [[ -n $reason ]]; then
		fail "$base" "$reason"
		show_logs "$dir"
		return
	fi
	pass "$base (connections: ${EXPECTED_CONNS[$base]}${EXPECTED_AUTHORITIES[$base]:+; authorities: ${EXPECTED_AUTHORITIES[$base]}})"
}

# check_rejected FILE: a file that must not load.
check_rejected() {
	local file=$1 base name short dir rc=0 got
	base=$(basename "$file")
	name=rejects-${base%.conf}
	short=no$PASSED$FAILED
	log_step "strongswan-rejects/$base must fail to load into strongSwan"
	dir=$(prepare_case "$name" "$file")
	if ! start_charon "$short" "$dir"; then
		fail "strongswan-rejects/$base" "charon did not start"
		show_logs "$dir"
		return
	fi
	swanctl_in "$short" "$dir" --load-all --noprompt --file "$dir/$base" >"$dir/load.out" 2>&1 || rc=$?
	swanctl_in "$short" "$dir" --list-conns >"$dir/conns.out" 2>&1 || true
	stop_charon "$short"
	got=$(listed_names "$dir/conns.out")
	if ((rc == 0)) || ! grep -qi 'failed' "$dir/load.out" || [[ -n $got ]]; then
		fail "strongswan-rejects/$base" "strongSwan loaded it (exit $rc, connections [$(echo "$got" | xargs)]); espd must not reject it for strongSwan's sake"
		show_logs "$dir"
		return
	fi
	pass "strongswan-rejects/$base ($(grep -i 'failed' "$dir/load.out" | head -n 1))"
}

log_step "making throw-away certificates in $PKI"
make_pki >"$NETNS_WORKDIR/pki.log" 2>&1 || {
	cat "$NETNS_WORKDIR/pki.log" >&2
	die "openssl could not make the test certificates"
}

shopt -s nullglob
examples=("$CONFIG_DIR"/*.conf)
rejects=("$CONFIG_DIR"/strongswan-rejects/*.conf)
((${#examples[@]})) || die "no example configurations in $CONFIG_DIR"
for file in "${examples[@]}"; do
	check_loads "$file"
done
for file in "${rejects[@]}"; do
	check_rejected "$file"
done

if ((FAILED)); then
	log "failures:"
	printf '    %s\n' "${FAILURES[@]}" >&2
fi
echo "$PASSED passed, $FAILED failed"
((FAILED == 0))

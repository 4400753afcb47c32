# shellcheck shell=bash disable=SC2034 # variables set here are read by the sourcing script
#
# A test PKI for the strongSwan interop tests, made with openssl. Source this
# file.
#
#   pki_make DIR   create, laid out as swanctl reads its configuration
#                  directory (swanctl.h):
#     DIR/x509ca/ca.pem              the CA: ECDSA P-384, self-signed,
#                                    basicConstraints CA:TRUE, keyUsage keyCertSign
#     DIR/x509/HOST-TYPE.pem         end-entity certificates: subject
#                                    "C=CH, O=espd, CN=HOST.espd.test",
#                                    subjectAltName DNS:HOST.espd.test,
#                                    keyUsage digitalSignature
#     DIR/private/HOST-TYPE.pem      their keys, PKCS#8 PEM, unencrypted
#     DIR/ca/ca-key.pem              the CA's key, outside swanctl's
#                                    directories so that charon never loads it
#                  for HOST in PKI_HOSTS (moon, sun) and TYPE in PKI_TYPES:
#                  rsa (3072 bits), ecdsa (P-256), ed25519.
#
# The certificates are valid from now on (PKI_DAYS days for the end
# entities), so make them on the machine whose clock the daemons use.
# openssl's output goes to DIR/ca/openssl.log and is shown on failure.

if [[ -n ${PKI_SH_LOADED:-} ]]; then
	return 0
fi
PKI_SH_LOADED=1

PKI_HOSTS=(moon sun)
PKI_TYPES=(rsa ecdsa ed25519)
PKI_DOMAIN=espd.test
PKI_DAYS=365

# pki_make DIR
pki_make() {
	local dir=${1:?usage: pki_make DIR}
	local log=$dir/ca/openssl.log
	mkdir -p "$dir/x509ca" "$dir/x509" "$dir/private" "$dir/ca" || return 1
	: >"$log"
	if ! _pki_make "$dir" 2>>"$log"; then
		printf 'pki_make: openssl failed; its output (%s):\n' "$log" >&2
		cat "$log" >&2
		return 1
	fi
}

_pki_make() {
	local dir=$1 host type
	_pki_config "$dir/ca/openssl.cnf" &&
		_pki_key ecdsa-p384 "$dir/ca/ca-key.pem" &&
		openssl req -x509 -new -batch -config "$dir/ca/openssl.cnf" -extensions ca_cert \
			-key "$dir/ca/ca-key.pem" -sha384 -days 3650 -set_serial "$(_pki_serial)" \
			-subj "/C=CH/O=espd/CN=espd Root CA" -out "$dir/x509ca/ca.pem" || return 1
	for host in "${PKI_HOSTS[@]}"; do
		for type in "${PKI_TYPES[@]}"; do
			_pki_leaf "$dir" "$host" "$type" || return 1
		done
	done
}

# _pki_config FILE: the request settings and the CA's extensions. An
# explicit file keeps the system's openssl.cnf (and the extensions its req
# section would add) out of it.
_pki_config() {
	cat >"$1" <<-'EOF'
		[req]
		distinguished_name = req_dn
		[req_dn]
		[ca_cert]
		basicConstraints = critical, CA:TRUE
		keyUsage = critical, keyCertSign, cRLSign
		subjectKeyIdentifier = hash
	EOF
}

# _pki_key KIND FILE: a new unencrypted PKCS#8 PEM key, readable by its owner only.
_pki_key() {
	local kind=$1 file=$2
	local -a opts
	case $kind in
	rsa) opts=(-algorithm RSA -pkeyopt rsa_keygen_bits:3072) ;;
	ecdsa) opts=(-algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve) ;;
	ecdsa-p384) opts=(-algorithm EC -pkeyopt ec_paramgen_curve:P-384 -pkeyopt ec_param_enc:named_curve) ;;
	ed25519) opts=(-algorithm ED25519) ;;
	*)
		printf 'pki: unknown key type %s\n' "$kind" >&2
		return 1
		;;
	esac
	(umask 077 && openssl genpkey -quiet "${opts[@]}" -out "$file")
}

# _pki_leaf DIR HOST TYPE
_pki_leaf() {
	local dir=$1 host=$2 type=$3
	local name=$host-$type fqdn=$host.$PKI_DOMAIN
	_pki_key "$type" "$dir/private/$name.pem" &&
		openssl req -new -batch -config "$dir/ca/openssl.cnf" -key "$dir/private/$name.pem" \
			-subj "/C=CH/O=espd/CN=$fqdn" -out "$dir/ca/$name.csr" &&
		cat >"$dir/ca/$name.ext" <<-EOF &&
			basicConstraints = critical, CA:FALSE
			keyUsage = critical, digitalSignature
			subjectKeyIdentifier = hash
			authorityKeyIdentifier = keyid
			subjectAltName = DNS:$fqdn
		EOF
		openssl x509 -req -in "$dir/ca/$name.csr" \
			-CA "$dir/x509ca/ca.pem" -CAkey "$dir/ca/ca-key.pem" -sha384 -days "$PKI_DAYS" \
			-set_serial "$(_pki_serial)" -extfile "$dir/ca/$name.ext" -out "$dir/x509/$name.pem" &&
		rm -f "$dir/ca/$name.csr" "$dir/ca/$name.ext"
}

# _pki_serial: a random positive 63-bit serial number, so that certificates
# from two runs never share issuer and serial.
_pki_serial() {
	printf '0x%s' "$(openssl rand -hex 8 | sed 's/^./7/')"
}

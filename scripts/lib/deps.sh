# shellcheck shell=bash disable=SC2034 # variables set here are read by the sourcing script
#
# What the scripts need from the machine: Debian packages, the Go toolchain,
# and an espd binary built from this checkout. Shared by test.sh, demo.sh and
# the integration scripts. Source it.
#
#   ESPD_REPO                    the repository root (derived from this file's place)
#   ESPD_TEST_PACKAGES           every package the tests use
#   missing_packages PKG...      print those not installed (one per line)
#   install_packages PKG...      apt-get install the missing ones (root; no-op when none are)
#   find_go                      put Go on PATH (falls back to /usr/local/go/bin)
#   build_espd OUT               go build ./cmd/espd into OUT

if [[ -n ${DEPS_SH_LOADED:-} ]]; then
	return 0
fi
DEPS_SH_LOADED=1

ESPD_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# gcc and libc6-dev: `go test -race` needs cgo. ca-certificates: the Go
# module proxy is reached over HTTPS.
ESPD_TEST_PACKAGES=(
	iperf3 nftables conntrack tshark tcpdump iputils-ping iproute2
	strongswan-swanctl charon-systemd libcharon-extra-plugins libstrongswan-extra-plugins
	wireguard-tools gcc libc6-dev ca-certificates jq openssl
)

# The demo needs only these.
ESPD_DEMO_PACKAGES=(iproute2 iputils-ping iperf3 tcpdump ca-certificates)

_deps_log() {
	printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

missing_packages() {
	local pkg
	for pkg in "$@"; do
		if ! dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
			printf '%s\n' "$pkg"
		fi
	done
}

# install_packages installs what is missing, non-interactively. Debconf
# questions are answered in advance: wireshark-common asks whether non-root
# users may capture, iperf3 whether to start a system-wide daemon. A
# temporary policy-rc.d keeps the packages' services (charon, iperf3) from
# starting on the host: the tests run their own daemons inside namespaces.
install_packages() {
	local missing rc=0 policy=/usr/sbin/policy-rc.d made_policy=0
	mapfile -t missing < <(missing_packages "$@")
	if ((${#missing[@]} == 0)); then
		_deps_log "packages: all ${#} present"
		return 0
	fi
	if [[ $(id -u) -ne 0 ]]; then
		_deps_log "packages missing (${missing[*]}), and installing them needs root"
		return 1
	fi
	if ! command -v apt-get >/dev/null 2>&1; then
		_deps_log "packages missing (${missing[*]}), and there is no apt-get: install them by hand"
		return 1
	fi
	_deps_log "installing missing packages: ${missing[*]}"
	debconf-set-selections <<-'EOF'
		wireshark-common wireshark-common/install-setuid boolean false
		iperf3 iperf3/start_daemon boolean false
	EOF
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		made_policy=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	# The lock timeout covers a fresh VM where unattended-upgrades or
	# cloud-init still hold the dpkg lock at boot.
	if ! apt-get -o DPkg::Lock::Timeout=300 update -q; then
		_deps_log "apt-get update failed"
		rc=1
	elif ! apt-get -o DPkg::Lock::Timeout=300 install -y -q "${missing[@]}"; then
		_deps_log "apt-get install failed"
		rc=1
	fi
	if ((made_policy)); then
		rm -f "$policy"
	fi
	if ((rc == 0)); then
		mapfile -t missing < <(missing_packages "$@")
		if ((${#missing[@]})); then
			_deps_log "still missing after apt-get: ${missing[*]}"
			rc=1
		fi
	fi
	return "$rc"
}

find_go() {
	if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
		export PATH="$PATH:/usr/local/go/bin"
	fi
	if ! command -v go >/dev/null 2>&1; then
		_deps_log "go is not on PATH and not in /usr/local/go/bin"
		return 1
	fi
}

# build_espd builds a static binary: CGO_ENABLED=0 needs no C compiler, and
# the binary runs the same in any namespace.
build_espd() {
	local out=$1
	find_go || return 1
	_deps_log "building espd: go build -o $out ./cmd/espd"
	(cd "$ESPD_REPO" && CGO_ENABLED=0 go build -trimpath -o "$out" ./cmd/espd)
}

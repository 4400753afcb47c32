#!/usr/bin/env bash
#
# test.sh: everything CI checks, in order:
#   1. packages   install missing Debian packages (root only)
#   2. gofmt      every .go file formatted
#   3. go vet     ./...
#   4. go test    -race ./...
#   5. build      cmd/espd, once, for the integration scripts
#   6. one stage per scripts/integration/*.sh (namespace test beds; root only)
#
# A failing stage does not stop the others; the summary at the end lists
# every stage, and the exit status is non-zero if any failed. Without root
# the Go stages run and the namespace stages are reported as skipped.
# Needs no stdin. Environment: ESPD_GO_TEST_TIMEOUT (default 30m),
# ESPD_INTEGRATION_TIMEOUT seconds per script (default 1200).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/deps.sh
source "$HERE/lib/deps.sh"
cd "$ESPD_REPO"
exec </dev/null

IS_ROOT=0
[[ $(id -u) -eq 0 ]] && IS_ROOT=1
STAGE_RESULTS=()
FAILED=()
WORKDIR=$(mktemp -d "${TMPDIR:-/tmp}/espd-ci.XXXXXX")
trap 'rm -rf "$WORKDIR"' EXIT

banner() {
	printf '\n========== %s ==========\n' "$*"
}

# stage NAME FUNCTION...: runs the function, records PASS or FAIL with its
# duration. The function runs in an `if`, where bash ignores set -e, so
# every stage function checks its own commands.
stage() {
	local name=$1 start=$SECONDS result
	shift
	banner "$name"
	if "$@"; then
		result=PASS
	else
		result=FAIL
		FAILED+=("$name")
	fi
	STAGE_RESULTS+=("$(printf '%-4s  %-28s %5ss' "$result" "$name" $((SECONDS - start)))")
	echo "---------- $name: $result ($((SECONDS - start))s)"
}

skip_stage() {
	local name=$1 why=$2
	banner "$name"
	echo "SKIPPED: $why"
	STAGE_RESULTS+=("$(printf '%-4s  %-28s %5s   %s' SKIP "$name" - "$why")")
}

stage_packages() {
	install_packages "${ESPD_TEST_PACKAGES[@]}"
}

stage_gofmt() {
	local unformatted files
	unformatted=$(gofmt -l . 2>&1) || {
		echo "$unformatted"
		return 1
	}
	if [[ -n $unformatted ]]; then
		echo "these files need gofmt -w:"
		mapfile -t files <<<"$unformatted"
		printf '    %s\n' "${files[@]}"
		return 1
	fi
	echo "all Go files are formatted"
}

stage_vet() {
	go vet ./...
}

stage_test() {
	# -count=1: run the tests, never report a cached pass.
	go test -race -count=1 -timeout "${ESPD_GO_TEST_TIMEOUT:-30m}" ./...
}

stage_build() {
	build_espd "$WORKDIR/espd" && "$WORKDIR/espd" version
}

# stage_integration runs one script with a time limit; timeout's SIGTERM
# makes the script's EXIT trap remove its namespaces.
stage_integration() {
	local script=$1
	if [[ ! -x $WORKDIR/espd ]]; then
		echo "espd did not build; see the build stage"
		return 1
	fi
	timeout --kill-after=30 "${ESPD_INTEGRATION_TIMEOUT:-1200}" bash "$script" --espd "$WORKDIR/espd"
}

echo "espd test.sh: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(uname -sr), uid $(id -u)"

if ((IS_ROOT)); then
	stage "packages" stage_packages
else
	skip_stage "packages" "installing packages needs root"
fi

if find_go; then
	echo "using $(go version) from $(command -v go)"
	stage "gofmt" stage_gofmt
	stage "go vet" stage_vet
	stage "go test -race" stage_test
	stage "build espd" stage_build
else
	stage "go toolchain" false
fi

for script in "$ESPD_REPO"/scripts/integration/*.sh; do
	name="integration: $(basename "$script" .sh)"
	if ((IS_ROOT)); then
		stage "$name" stage_integration "$script"
	else
		skip_stage "$name" "namespace integration tests need root"
	fi
done

banner "summary"
printf '  %s\n' "${STAGE_RESULTS[@]}"
if ((!IS_ROOT)); then
	echo "SKIPPED: namespace integration tests need root"
fi
passed=0 skipped=0
for result in "${STAGE_RESULTS[@]}"; do
	case $result in
	PASS*) passed=$((passed + 1)) ;;
	SKIP*) skipped=$((skipped + 1)) ;;
	esac
done
if ((${#FAILED[@]})); then
	echo "test.sh: FAILED: ${FAILED[*]}"
fi
# The closing line CI reads: stages, not individual tests.
echo "stages: $passed passed, ${#FAILED[@]} failed, $skipped skipped"
if ((${#FAILED[@]})); then
	exit 1
fi

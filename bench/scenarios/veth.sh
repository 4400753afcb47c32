# shellcheck shell=bash
#
# Part of bench/run.sh, which sources it: the plain veth, the ceiling.

# --- scenario: plain veth ----------------------------------------------------

up_veth() { :; }
down_veth() { :; }
run_veth() {
	measure "$1" "$RIGHT_OUTER" "$LEFT_OUTER" "$2"
}

# shellcheck shell=bash
#
# shell_quote prints its arguments as one command line a shell reads back
# unchanged, quoting only the words that need it (printf %q would also
# escape the commas of --proposals a,b). The bench scripts record their own
# command line with it, in the report.
shell_quote() {
	local word quoted=()
	for word in "$@"; do
		if [[ $word =~ ^[A-Za-z0-9_./,:=+@%-]+$ ]]; then
			quoted+=("$word")
		else
			quoted+=("$(printf '%q' "$word")")
		fi
	done
	printf "%s\n" "${quoted[*]}"
}

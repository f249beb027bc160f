#!/usr/bin/env bash
# fuzz.sh runs every fuzz target of the given package patterns (default: all
# modules of the workspace) for FUZZTIME each (default 30s), one after
# another, and fails on the first target that finds a failing input.
# Failing inputs are written by go test under testdata/fuzz/FuzzXxx/.
set -euo pipefail

GO="${GO:-go}"
FUZZTIME="${FUZZTIME:-30s}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ $# -eq 0 ]]; then
	set -- ./... ./cluster/... ./cmd/wamp/... ./cmd/wampd/... ./examples/... ./integration/...
fi

# Command substitutions (not pipes) so that a failing go list or a package
# that does not build stops the script under set -e.
pkgs="$("$GO" list "$@")"
found=0
for pkg in $pkgs; do
	# go test -list prints matching test names, then "ok <pkg> ...".
	list="$("$GO" test -run '^$' -list '^Fuzz' "$pkg")"
	for target in $(grep -E '^Fuzz' <<<"$list" || true); do
		found=$((found + 1))
		echo "=== fuzz $pkg $target for $FUZZTIME"
		"$GO" test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"
	done
done
if [[ $found -eq 0 ]]; then
	echo "fuzz: no fuzz targets found in $*" >&2
	exit 1
fi
echo "fuzz: ran $found target(s) for $FUZZTIME each"

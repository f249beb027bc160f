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
	set -- ./... ./examples/... ./integration/...
fi

mapfile -t pkgs < <("$GO" list "$@" 2>/dev/null)
found=0
for pkg in "${pkgs[@]}"; do
	# go test -list prints matching test names, then "ok <pkg> ...".
	mapfile -t targets < <("$GO" test -run '^$' -list '^Fuzz' "$pkg" | grep -E '^Fuzz' || true)
	for target in "${targets[@]}"; do
		found=$((found + 1))
		echo "=== fuzz $pkg $target for $FUZZTIME"
		"$GO" test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"
	done
done
echo "fuzz: ran $found target(s) for $FUZZTIME each"

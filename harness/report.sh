#!/usr/bin/env bash
# Print the report of the last "make" boot.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
STEP=report
f=$LOGS/demo/results.log
grep -q '^=== END report rc=0' "$f" ||
	{ cat "$f"; die "the bridge report did not complete" "log: $f, console: $LOGS/demo/console.log"; }
echo
sed '/^=== /d' "$f"

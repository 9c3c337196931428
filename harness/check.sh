#!/usr/bin/env bash
# All tests: boot the test VM under QEMU with the check payload, then one
# summary of every boot.  Exit status: non-zero on any failure.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t0=$SECONDS
boots=(check)
"$TOP/harness/boot.sh" check check
step "summary ($((SECONDS - t0)) s; per-test results: $LOGS/summary.txt)"
"$TOP/harness/summary.py" "${boots[@]/#/$LOGS/}"

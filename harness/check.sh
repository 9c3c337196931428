#!/usr/bin/env bash
# All tests: boot the test VM under QEMU (AMD SVM) and under Bochs (Intel
# VMX with EPT), then one summary of every boot: check.sh [check] [vmx]
# (default: both).  Exit status: non-zero on any failure.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t0=$SECONDS
boots=("$@")
[ $# -gt 0 ] || boots=(check vmx)
for b in "${boots[@]}"; do
	case "$b" in
	check) "$TOP/harness/boot.sh" check check ;;
	vmx) "$TOP/harness/boot-bochs.sh" vmx check ;;
	*) die "unknown boot '$b' (check, vmx)" ;;
	esac
done
step "summary ($((SECONDS - t0)) s; per-test results: $LOGS/summary.txt)"
"$TOP/harness/summary.py" "${boots[@]/#/$LOGS/}"

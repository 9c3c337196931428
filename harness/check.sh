#!/usr/bin/env bash
# All tests: boot the test VM under QEMU (AMD SVM) and under Bochs (Intel
# VMX with EPT; again with kvm_intel.ept=0 and with kvm.tdp_mmu=0 for the
# memslot test alone), run the bridge's KUnit suite on ppc64
# (harness/kunit.sh: the SPAPR path), then one summary of every boot:
#   check.sh [check] [vmx] [vmx-ept0] [vmx-tdpmmu0] [kunit-ppc64] [kunit-i386] [kunit (both)]
# (default: check vmx vmx-ept0 vmx-tdpmmu0 kunit-ppc64; i386 runs in make
# series-check).
# Exit status: non-zero on any failure.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t0=$SECONDS
boots=("$@")
[ $# -gt 0 ] || boots=(check vmx vmx-ept0 vmx-tdpmmu0 kunit-ppc64)
dirs=()
# Where KVM_MEM_NON_COHERENT_DMA cannot take effect (shadow paging, the
# shadow MMU): only the memslot test, which then expects the capability to
# read 0 and the flag to fail.
short_boot() {
	local arg=kvm_intel.ept=0
	[ "$1" = vmx-ept0 ] || arg=kvm.tdp_mmu=0
	KERNEL_ARGS="${KERNEL_ARGS:-} $arg harness.only=noncoherent_memslot_test" \
		"$TOP/harness/boot-bochs.sh" "$1" check
}
# Bochs runs on one core: with the vmx boot, the short ones run beside it.
beside=() beside_pid=
case " ${boots[*]} " in *" vmx "*)
	for b in "${boots[@]}"; do
		case "$b" in vmx-ept0 | vmx-tdpmmu0) beside+=("$b") ;; esac
	done ;;
esac
for b in "${boots[@]}"; do
	case "$b" in
	check) "$TOP/harness/boot.sh" check check; dirs+=("$LOGS/check") ;;
	vmx)
		if [ ${#beside[@]} -gt 0 ]; then
			(for s in "${beside[@]}"; do short_boot "$s"; done) &
			beside_pid=$!
		fi
		"$TOP/harness/boot-bochs.sh" vmx check; dirs+=("$LOGS/vmx") ;;
	vmx-ept0 | vmx-tdpmmu0)
		[ ${#beside[@]} -gt 0 ] || short_boot "$b"
		dirs+=("$LOGS/$b") ;;
	kunit) "$TOP/harness/kunit.sh"; dirs+=("$LOGS/kunit-ppc64" "$LOGS/kunit-i386") ;;
	kunit-ppc64 | kunit-i386) "$TOP/harness/kunit.sh" "${b#kunit-}"; dirs+=("$LOGS/$b") ;;
	*) die "unknown boot '$b' (check, vmx, vmx-ept0, vmx-tdpmmu0, kunit, kunit-ppc64, kunit-i386)" ;;
	esac
done
[ -z "$beside_pid" ] || wait "$beside_pid"
step "summary ($((SECONDS - t0)) s; per-test results: $LOGS/summary.txt)"
"$TOP/harness/summary.py" "${dirs[@]}"

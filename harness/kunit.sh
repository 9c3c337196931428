#!/usr/bin/env bash
# The series' KUnit suites on hosts the x86_64 test kernel is not:
# kunit.sh [ppc64] [i386] (default: both), each one "boot" for summary.py.
#   ppc64  the bridge's suite (kvm_vfio) on pseries with SPAPR_TCE_IOMMU, the
#          only configuration that builds KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE
#          (harness/kunit/powerpc.kunitconfig), under qemu-system-ppc64;
#   i386   the bridge's and the x86 policy's suites on a 32-bit host, where
#          a long is not a u64 (virt/kvm/.kunitconfig and
#          arch/x86/kvm/.kunitconfig), under qemu-system-i386.
# tools/testing/kunit/kunit.py configures, builds (ccache) and boots; its
# KTAP goes to $LOGS/kunit-<arch>/console.log, read by summary.py.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
STEP=kunit
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache} CCACHE_BASEDIR=$TOP

run() { # name, then kunit.py arguments
	local name=$1 dir=$LOGS/kunit-$1 t0=$SECONDS rc
	shift
	rm -rf "$dir"; mkdir -p "$dir"
	: >"$dir/results.log"
	step "KUnit on $name (log: $dir/kunit.log)"
	(cd "$TREE" && python3 tools/testing/kunit/kunit.py run \
		--build_dir="$BUILD/kunit-$name" --jobs="$JOBS" --timeout=600 \
		--raw_output=kunit "$@") >"$dir/console.log" 2>"$dir/kunit.log"
	rc=$?
	echo $((SECONDS - t0)) >"$dir/seconds"
	# No case at all is a failure too: a suite that was not built must not
	# pass silently.
	grep -q '^    \(not \)\?ok ' "$dir/console.log" ||
		echo "kunit.py $name: exit $rc, no KUnit result (log: $dir/kunit.log)" >"$dir/problems.txt"
	info "$(grep -c '^    ok ' "$dir/console.log") cases passed, $(grep -c '^    not ok ' "$dir/console.log") failed ($((SECONDS - t0)) s)"
}

arches=("$@")
[ $# -gt 0 ] || arches=(ppc64 i386)
for a in "${arches[@]}"; do
	case "$a" in
	ppc64) run ppc64 --arch=powerpc --cross_compile=powerpc64le-linux-gnu- \
		--make_options="CC=ccache powerpc64le-linux-gnu-gcc" \
		--kunitconfig="$TOP/harness/kunit/powerpc.kunitconfig" ;;
	i386) run i386 --arch=i386 --make_options="CC=ccache gcc" --kconfig_add=CONFIG_SMP=y \
		--kunitconfig=virt/kvm/.kunitconfig \
		--kunitconfig=arch/x86/kvm/.kunitconfig ;;
	*) die "unknown KUnit host '$a' (ppc64, i386)" ;;
	esac
done

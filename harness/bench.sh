#!/usr/bin/env bash
# make bench: the series against the unpatched base, side by side.
# Builds the unpatched base (build/<base>-unpatched, the same configuration)
# and the benchmark (harness/bench/noncoherent_bench.c, one binary for both
# kernels), boots each kernel under QEMU (AMD SVM) and under Bochs (Intel
# VMX with EPT), then harness/bench.py prints one table per boot and writes
# the tables and plots into build/bench/.  Not in CI.
#   BENCH_BOOTS="qemu vmx"  the boots to run (default both)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
STEP=bench
H=$TOP/harness
OUTDIR=$TOP/build/bench
BENCH_BOOTS=${BENCH_BOOTS:-qemu vmx}
t0=$SECONDS
[ "$BASE" = 7.3 ] || die "make bench runs on the mainline base (BASE=7.3) only"
for boot in $BENCH_BOOTS; do
	case $boot in qemu | vmx) ;; *) die "unknown boot '$boot' in BENCH_BOOTS (qemu, vmx)" ;; esac
done

# gnuplot draws the plots; only make bench needs it.
if ! command -v gnuplot >/dev/null; then
	step "installing gnuplot-nox (log: $LOGS/apt-bench.log)"
	sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
	mkdir -p "$LOGS"
	{ $sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q \
		--no-install-recommends gnuplot-nox; } >"$LOGS/apt-bench.log" 2>&1 ||
		info "apt-get could not install gnuplot-nox (log: $LOGS/apt-bench.log): no plots"
fi

# The unpatched base, in its own folder; BUILD= keeps it out of the series'.
SERIES=none BUILD= "$H/assemble.sh"
SERIES=none BUILD= "$H/build.sh" config
SERIES=none BUILD= "$H/build.sh" kernel
base_kernel=$TOP/build/$BASE-unpatched/obj/arch/x86/boot/bzImage
"$H/build.sh" bench

# One run per boot and kernel; logs in $LOGS/bench-<boot>-<kernel>/.  The
# benchmark is one long "test": raise the per-test and stall limits.
export BOOT_TIMEOUT=${BOOT_TIMEOUT:-5400} BOCHS_STALL=${BOCHS_STALL:-5400}
export KERNEL_ARGS="${KERNEL_ARGS:-} harness.timeout=5000"
mkdir -p "$OUTDIR"
# A boot that fails (a kernel report, a timeout) is reported and the others
# still run; bench.py shows what each boot printed and fails if a benchmark
# failed (its exit status, an assertion, no figures).
failed=()
for boot in $BENCH_BOOTS; do
	for k in base series; do
		kernel=$OBJ/arch/x86/boot/bzImage
		[ $k = series ] || kernel=$base_kernel
		if [ $boot = qemu ]; then
			BOOT_KERNEL=$kernel BOOT_INITRD=$OUT/initramfs-bench.cpio.gz \
				"$H/boot.sh" "bench-$boot-$k" check || failed+=("bench-$boot-$k")
		else
			BOOT_KERNEL=$kernel BOOT_INITRD=$OUT/initramfs-bench-vmx.cpio.gz \
				"$H/boot-bochs.sh" "bench-$boot-$k" check || failed+=("bench-$boot-$k")
		fi
	done
done
step "tables and plots ($((SECONDS - t0)) s; in $OUTDIR)"
"$H/bench.py" "$OUTDIR" "$LOGS" $BENCH_BOOTS || failed+=("a benchmark (FAILED above)")
[ ${#failed[@]} -eq 0 ] || die "boots that failed: ${failed[*]} (see their logs in $LOGS)"

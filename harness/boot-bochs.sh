#!/usr/bin/env bash
# Boot the test kernel under Bochs (Intel VMX with EPT) once: boot-bochs.sh NAME MODE
#   MODE is the guest's harness= mode (check: run /tests/list).
# The kernel and $OUT/initramfs-vmx.cpio.gz go into an isolinux ISO.
# Console (com1): $LOGS/NAME/console.log; test output (com2): $LOGS/NAME/results.log.
# Fails on a timeout, a stall (see BOCHS_STALL), a guest that did not reach
# its end, or a kernel splat.
# Bochs ends a run with an "ACPI control: soft power off" panic report: that
# is the guest's poweroff, not a failure.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
name=$1 mode=$2
STEP="bochs $name"
dir=$LOGS/$name
BOOT_TIMEOUT=${BOOT_TIMEOUT:-1800}
# BOCHS_CPUS=2 lets the tests' two-CPU cases run, at 3-4 times the wall time.
BOCHS_CPUS=${BOCHS_CPUS:-1}
BOCHS_STALL=${BOCHS_STALL:-600}
# BOOT_KERNEL, BOOT_INITRD: another bzImage or initramfs than the build's (make bench).
KERNEL=${BOOT_KERNEL:-$OBJ/arch/x86/boot/bzImage}
INITRD=${BOOT_INITRD:-$OUT/initramfs-vmx.cpio.gz}
# kmemleak doubles the boot under Bochs and there made RCU warn of a stalled
# grace period (README.md); the QEMU boot scans for leaks.  KASAN and lockdep
# stay on.  memmap= reserves RAM outside the direct map for
# noncoherent_memslot_test's /dev/mem case.
BOCHS_KERNEL_ARGS=${BOCHS_KERNEL_ARGS-kmemleak=off noxsave memmap=4M\$0x40000000}
for f in "$KERNEL" "$INITRD"; do
	[ -f "$f" ] || die "$f is missing (make kernel; harness/build.sh initramfs-vmx)"
done
rm -rf "$dir"; mkdir -p "$dir/iso/isolinux"
: >"$dir/console.log"; : >"$dir/results.log"

# The ISO: isolinux loads the kernel and the initramfs.
iso=$dir/iso
cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$iso/isolinux/"
cp "$KERNEL" "$iso/bzimage"
cp "$INITRD" "$iso/initrd.gz"
cat >"$iso/isolinux/isolinux.cfg" <<EOF
DEFAULT linux
LABEL linux
  KERNEL /bzimage
  APPEND initrd=/initrd.gz console=ttyS0 panic=-1 oops=panic harness=$mode $BOCHS_KERNEL_ARGS ${KERNEL_ARGS:-}
EOF
xorriso -as mkisofs -quiet -o "$dir/boot.iso" -b isolinux/isolinux.bin -c isolinux/boot.cat \
	-no-emul-boot -boot-load-size 4 -boot-info-table "$iso" >"$dir/xorriso.log" 2>&1 ||
	die "xorriso could not make the ISO" "log: $dir/xorriso.log"
rm -rf "$iso"

# One Skylake-X CPU (VMX, EPT); guest time runs on instruction count (sync=none).
# Debian's Bochs has no "nogui": rfb with timeout=0 does not wait for a viewer.
# No sound: with no sound card on the host, Bochs's ALSA driver aborts it.
cat >"$dir/bochsrc" <<EOF
megs: 2048
cpu: model=corei7_skylake_x, count=$BOCHS_CPUS, ips=200000000, reset_on_triple_fault=0
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
ata0-master: type=cdrom, path=$dir/boot.iso, status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev=$dir/console.log
com2: enabled=1, mode=file, dev=$dir/results.log
display_library: rfb, options="timeout=0"
sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy
speaker: enabled=0
clock: sync=none
log: $dir/bochs.log
panic: action=report
error: action=report
EOF

step "booting under Bochs (VMX): $name (console: $dir/console.log)"
info "kernel arguments added for Bochs: ${BOCHS_KERNEL_ARGS:-none} (BOCHS_KERNEL_ARGS)"
t0=$SECONDS
# Debian's Bochs starts in its debugger: "c" continues.
printf 'c\n' | bochs -q -f "$dir/bochsrc" >"$dir/bochs.out" 2>&1 &
bpid=$!
# Progress: one line per finished test, with its time in the guest and on
# the host (under Bochs the guest's clock is no guide to the wall clock).
tail --pid=$bpid -n +1 -F "$dir/results.log" 2>/dev/null | while IFS= read -r l; do
	case "$l" in
	"=== BEGIN "*) tb=$SECONDS ;;
	"=== END "*) l=${l#=== END }
		echo "    done ${l%% *} (${l#* }, wall $((SECONDS - ${tb:-$t0}))s)" ;;
	esac
done &
tpid=$!
# A test that hangs may never meet its guest-side timeout: while a vCPU runs,
# the guest's clock barely moves under Bochs (tests of minutes end with
# "time=0s").  So the run ends when no test starts or ends for BOCHS_STALL
# seconds of wall time.
rc=0 marks=0 tm=$SECONDS
while kill -0 $bpid 2>/dev/null; do
	n=$(grep -c '^=== ' "$dir/results.log" || true)
	[ "$n" = "$marks" ] || { marks=$n; tm=$SECONDS; }
	if [ $((SECONDS - t0)) -ge "$BOOT_TIMEOUT" ]; then
		kill $bpid; rc=timeout; break
	elif [ "$marks" -gt 0 ] && [ $((SECONDS - tm)) -ge "$BOCHS_STALL" ]; then
		kill $bpid; rc=stall; break
	fi
	sleep 1
done
[ "$rc" != 0 ] || wait $bpid || true
wait $tpid 2>/dev/null || true
echo "$((SECONDS - t0))" >"$dir/seconds"
info "$name: $((SECONDS - t0)) s"

problems=()
[ "$rc" = timeout ] && problems+=("no power-off within ${BOOT_TIMEOUT}s (BOOT_TIMEOUT)")
[ "$rc" = stall ] && problems+=("no test started or ended for ${BOCHS_STALL}s (BOCHS_STALL)")
# Two boot-time warnings come from Bochs's CPU model, not from the kernel
# under test: CPUID leaf 4 says 8 cores while leaf 1 says 1 logical CPU
# (topology), and its XSAVE area sizes do not add up (fpu xstate).
boot_problems "$dir" 'arch/x86/kernel/cpu/topology_common.c:[0-9]+ (at )?parse_legacy|arch/x86/kernel/fpu/xstate.c:[0-9]+ (at )?fpu__init_system_xstate' \
	"${problems[@]}" || die "the $name boot failed" "log to read: $dir/console.log (Bochs: $dir/bochs.log)"

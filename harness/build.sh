#!/usr/bin/env bash
# Build what a boot needs: build.sh {config|kernel|selftests|initramfs|initramfs-vmx}
#   initramfs      QEMU's: selftests.list, guest tools, Debian's QEMU
#   initramfs-vmx  Bochs's, small: selftests-vmx.list and busybox only
# The lists are harness/'s, or backport/$BASE/harness/'s on a backport base.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mkdir -p "$OBJ" "$OUT" "$LOGS"
# Paths under the checkout are hashed relative to it (CCACHE_BASEDIR), so a
# fresh clone in another folder, as CI's, hits what earlier builds cached.
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache} CCACHE_BASEDIR=$TOP
export KBUILD_BUILD_TIMESTAMP="2026-11-01"
KMAKE=(make -C "$TREE" O="$OBJ" CC="ccache gcc" HOSTCC="ccache gcc" -j"$JOBS")
DEBUG_CONFIG=${DEBUG_CONFIG:-debug}

# Run a noisy command with its output in a log; on failure show the end of it.
logged() {
	local log=$1; shift
	if ! "$@" >"$log" 2>&1; then
		grep -E 'error|Error|\*\*\*' "$log" | tail -15 >&2 || true
		die "'$*' failed" "log: $log"
	fi
}

config() {
	STEP=config
	local frags=("$TOP"/harness/config/{base,kvm-vfio,trace}.config
		     "$TREE/tools/testing/selftests/kvm/config")
	[ "$DEBUG_CONFIG" = none ] || frags+=("$TOP/harness/config/$DEBUG_CONFIG.config")
	# A backport base adds what its older Kconfig names differently.
	[ ! -f "$BACKPORT/harness/config/backport.config" ] ||
		frags+=("$BACKPORT/harness/config/backport.config")
	local tmp=$BUILD/config.tmp
	rm -rf "$tmp"; mkdir -p "$tmp"
	logged "$LOGS/config.log" make -C "$TREE" O="$tmp" tinyconfig
	logged "$LOGS/config.log" "$TREE/scripts/kconfig/merge_config.sh" -m -O "$tmp" "$tmp/.config" "${frags[@]}"
	logged "$LOGS/config.log" make -C "$TREE" O="$tmp" olddefconfig
	# Every option a fragment asks for must survive Kconfig's dependencies.
	local bad=() line sym
	while read -r line; do
		sym=${line%%=*}
		# The unpatched base lacks the series' own options (its KUnit tests).
		[ "$SERIES" != none ] ||
			grep -rqx --include='Kconfig*' "config ${sym#CONFIG_}" "$TREE" || continue
		case "$line" in
		*=n) grep -q "^$sym=" "$tmp/.config" && bad+=("$line") ;;
		*) grep -qx "$line" "$tmp/.config" || bad+=("$line (got: $(grep -E "^$sym=|^# $sym is not set" "$tmp/.config" || echo absent))") ;;
		esac
	done < <(grep -hE '^CONFIG_' "${frags[@]}")
	[ ${#bad[@]} -eq 0 ] || die "options the fragments ask for are not in the final .config" "${bad[@]}"
	if ! cmp -s "$tmp/.config" "$OBJ/.config"; then
		cp "$tmp/.config" "$OBJ/.config"
		info "new .config ($(grep -c '=y' "$OBJ/.config") options =y)"
	fi
	rm -rf "$tmp"
}

kernel() {
	STEP=kernel
	step "building the kernel (log: $LOGS/build.log)"
	local t0=$SECONDS
	logged "$LOGS/build.log" "${KMAKE[@]}" bzImage
	logged "$LOGS/headers.log" "${KMAKE[@]}" headers
	info "bzImage $(du -h "$OBJ/arch/x86/boot/bzImage" | cut -f1) in $((SECONDS - t0)) s"
}

# Selftests of list files ("<dir>/<test> [args]" lines); default: QEMU's.
selftest_list() {
	[ $# -gt 0 ] || set -- "$(qemu_list)"
	grep -vhE '^\s*(#|$)' "$@" | awk '{print $1}'
}
# What "build.sh selftests" builds: the union of both boots' lists.
# The lists of the two boots; SELFTESTS and SELFTESTS_VMX name others.
# Relative names (SELFTESTS=harness/...) are from the checkout.
from_top() { case $1 in /*) echo "$1" ;; *) echo "$TOP/$1" ;; esac; }
qemu_list() { from_top "${SELFTESTS:-$(for_base harness/selftests.list)}"; }
vmx_list() { from_top "${SELFTESTS_VMX:-$(for_base harness/selftests-vmx.list)}"; }
all_selftests() {
	selftest_list "$(qemu_list)" "$(vmx_list)" | LC_ALL=C sort -u | if [ "$SERIES" = none ]; then
		# The unpatched base has no source for the series' own tests.
		while read -r t; do
			case $t in kvm/*) [ -e "$TREE/tools/testing/selftests/$t.c" ] || continue ;;
			esac
			echo "$t"
		done
	else cat; fi
}

selftests() {
	STEP=selftests
	step "building kvm selftests (log: $LOGS/selftests-build.log)"
	local progs
	progs=$(all_selftests | sed -n 's|^kvm/||p' | tr '\n' ' ')
	logged "$LOGS/selftests-build.log" make -C "$TREE/tools/testing/selftests/kvm" -j"$JOBS" \
		OUTPUT="$OUT/selftests/kvm" CC="ccache gcc" \
		KHDR_INCLUDES="-isystem $OBJ/usr/include" EXTRA_CFLAGS=-static \
		"TEST_GEN_PROGS_$SELFTEST_ARCH=$progs" "TEST_GEN_PROGS_EXTENDED_$SELFTEST_ARCH=" \
		"TEST_PROGS_$SELFTEST_ARCH="
	step "building the guest tools"
	local tool
	for tool in kvm-vfio-report qmp; do
		logged "$LOGS/guest-tools.log" gcc -static -O2 -Wall -Werror \
			-isystem "$OBJ/usr/include" -o "$OUT/$tool" "$TOP/harness/guest/$tool.c"
	done
	mkdir -p "$OUT/selftests/client"
	install -m755 "$TOP"/harness/guest/client/*.sh "$OUT/selftests/client/"
	for tool in "$TOP"/harness/guest/client/*.c; do
		logged "$LOGS/guest-tools.log" gcc -static -O2 -Wall -Werror \
			-isystem "$OBJ/usr/include" -o "$OUT/selftests/client/$(basename "$tool" .c)" "$tool"
	done
	local t
	for t in $(all_selftests); do
		[ -x "$OUT/selftests/$t" ] || die "selftest $t was not built" "log: $LOGS/selftests-build.log"
	done
}

# Pack an initramfs: pack LIST OUTPUT [files for /bin].  It holds busybox,
# /init, the tests of LIST, LIST itself as /tests/list (what /init runs) and
# the kvm selftests' settings (the per-test timeout).
pack() {
	local list=$1 out=$2; shift 2
	local root=$OUT/${out%.cpio.gz}
	rm -rf "$root"
	mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,etc,root,tests}
	cp /bin/busybox "$root/bin/busybox"
	local a
	for a in $("$root/bin/busybox" --list); do
		[ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"
	done
	install -m755 "$TOP/harness/guest/init" "$root/init"
	[ $# -eq 0 ] || install -m755 "$@" "$root/bin/"
	if selftest_list "$list" | grep -q '^client/'; then
		# Debian's QEMU, run inside the VM as a real client of the bridge.
		local qemu=/usr/bin/qemu-system-x86_64 f
		for f in $qemu $(ldd $qemu | grep -o '/[^ ]*') /usr/share/seabios/bios-256k.bin \
			 /usr/share/qemu/{kvmvapic,linuxboot,linuxboot_dma,pvh}.bin; do
			[ -e "$f" ] || die "$f is missing (package qemu-system-x86 or seabios)"
			mkdir -p "$root$(dirname "$f")"
			cp -L "$f" "$root$f"
		done
		# QEMU 10 (deps.sh unpacked it), the second client: /opt/qemu-10,
		# its firmware and option ROMs in one folder for -L.
		local q10=$QEMU10/usr/bin/qemu-system-x86_64
		[ -x "$q10" ] || die "$q10 is missing (run harness/deps.sh)"
		mkdir -p "$root/opt/qemu-10/bin" "$root/opt/qemu-10/share"
		cp "$q10" "$root/opt/qemu-10/bin/"
		for f in $(ldd "$q10" | grep -o '/[^ ]*'); do
			[ -e "$root$f" ] || { mkdir -p "$root$(dirname "$f")" && cp -L "$f" "$root$f"; }
		done
		cp "$QEMU10"/usr/share/seabios/bios-256k.bin \
		   "$QEMU10"/usr/share/qemu/{kvmvapic,linuxboot,linuxboot_dma,pvh}.bin \
		   "$root/opt/qemu-10/share/"
	fi
	local t
	for t in $(selftest_list "$list"); do
		[ -x "$OUT/selftests/$t" ] || die "selftest $t is not built (run: harness/build.sh selftests)"
	done
	grep -vE '^\s*(#|$)' "$list" >"$root/tests/list"
	(cd "$OUT/selftests" && selftest_list "$list" | cpio -pdm --quiet "$root/tests/")
	find "$root/tests" -type f -perm -u+x ! -name "*.sh" -exec strip --strip-debug {} +
	cp "$TREE/tools/testing/selftests/kvm/settings" "$root/tests/kvm.settings"
	(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -6 >"$OUT/$out")
	info "$out $(du -h "$OUT/$out" | cut -f1) ($(selftest_list "$list" | wc -l) test programs)"
}

initramfs() {
	STEP=initramfs
	pack "$(qemu_list)" initramfs.cpio.gz "$OUT/kvm-vfio-report" "$OUT/qmp"
}

initramfs-vmx() {
	STEP=initramfs-vmx
	pack "$(vmx_list)" initramfs-vmx.cpio.gz
}

# make bench: harness/bench/noncoherent_bench.c, built once against this
# tree's selftest library (it is no selftest of the series: the file is
# copied in for the build and removed), and the two boots' initramfs.  The
# same binary then runs on the unpatched base and on the series.
bench() {
	STEP=bench
	local src=$TREE/tools/testing/selftests/kvm/x86/noncoherent_bench.c
	step "building the benchmark (log: $LOGS/bench-build.log)"
	cp "$TOP/harness/bench/noncoherent_bench.c" "$src"
	trap "rm -f '$src'" EXIT
	logged "$LOGS/bench-build.log" make -C "$TREE/tools/testing/selftests/kvm" -j"$JOBS" \
		OUTPUT="$OUT/selftests/kvm" CC="ccache gcc" \
		KHDR_INCLUDES="-isystem $OBJ/usr/include" EXTRA_CFLAGS=-static \
		"TEST_GEN_PROGS_$SELFTEST_ARCH=x86/noncoherent_bench" \
		"TEST_GEN_PROGS_EXTENDED_$SELFTEST_ARCH=" "TEST_PROGS_$SELFTEST_ARCH="
	pack "$TOP/harness/bench.list" initramfs-bench.cpio.gz
	pack "$TOP/harness/bench-vmx.list" initramfs-bench-vmx.cpio.gz
}

"$@"

#!/usr/bin/env bash
# Check the series as a maintainer would: series-check.sh [STEP...]
#   checkpatch  scripts/checkpatch.pl --strict on every patch of $BUILD/series
#   build       every commit (base first) built in turn for x86_64:
#               tinyconfig + harness/config/{base,kvm-vfio,trace}.config with
#               KVM, KVM_INTEL and KVM_AMD as modules and KVM_WERROR=y (no debug
#               options), "make vmlinux modules", incremental, with ccache
#   sparse      C=2 on arch/x86/kvm/ (all of kvm.ko, kvm-intel.ko, kvm-amd.ko,
#               virt/kvm included) on the base and the tip; no new warnings
#   kerneldoc   scripts/kernel-doc -none -Wall on the .c/.h files the series owns
#   docs        htmldocs of the Documentation folders holding touched .rst
#               files, on the base and the tip; no new warnings
#   kunit-m     x86_64 at the tip with KVM=y but KUNIT=m KUNIT_ALL_TESTS=m:
#               the series' built-in KUnit tests must drop out (they cannot
#               call into kunit.ko) and vmlinux must link
#   kunit-i386  the KUnit suites of the bridge and the x86 policy at the tip
#               on a 32-bit host (harness/kunit.sh i386, under QEMU)
#   cross       KVM with virt/kvm/vfio.o at the tip for arm64, ppc64le (with
#               SPAPR_TCE_IOMMU), s390x, and KVM for riscv64 (riscv's KVM, in 6.12 and 7.3,
#               does not select KVM_VFIO: its VM statistics must have no vfio_*)
# Default: all, in that order.  The commits are checked out in turn in a git
# worktree of the assembled tree ($BUILD/series-src), so build/linux is never
# touched; objects go to $BUILD/series-obj and $BUILD/series-cross/<arch>,
# logs and results to $BUILD/series-check.  Results of the base (sparse,
# docs) are kept and reused while the base, config and tools stay the same.
# Variables: JOBS=n; UPSTREAM_GIT_DIR=<a clone of Linus' tree> lets checkpatch
# verify Fixes: ids; SERIES_WAIT_IDLE=1 waits before each build until no
# other kernel build (cc1, make -C $BUILD/linux) has run for 30 s.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
STEP=series-check
SC=$BUILD/series-check
SRC=$BUILD/series-src
XOBJ=$BUILD/series-obj
PATCHDIR=${SERIES_OUT:-$BUILD/series}
MANIFEST=$TOP/series/manifest
# Paths under the checkout are hashed relative to it (CCACHE_BASEDIR), so a
# fresh clone in another folder, as CI's, hits what earlier builds cached.
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache} CCACHE_BASEDIR=$TOP
export KBUILD_BUILD_TIMESTAMP="2026-11-01"
# The kernel's Python scripts (spdxcheck.py, the Sphinx extensions, ynl) run
# with "python3" from PATH: use Debian's, where the deps-series packages are.
export PATH=/usr/bin:$PATH
mkdir -p "$SC"

git_() { git -C "$TREE" "$@"; }
src_() { git -C "$SRC" "$@"; }
git_ rev-parse -q --verify refs/heads/series >/dev/null 2>&1 ||
	die "no assembled tree in $TREE" "run: make tree"
BASE_COMMIT=$(git_ rev-parse base)
TIP=$(git_ rev-parse series)
COMMITS=$(git_ rev-list --reverse base..series)

# Results: one "step|OK or FAIL|what|seconds" line each, printed at the end.
RESULTS=$SC/results.txt
: >"$RESULTS"
result() { printf '%s|%s|%s|%s\n' "$1" "$2" "$3" "$4" >>"$RESULTS"; }

wait_idle() {
	[ -n "${SERIES_WAIT_IDLE:-}" ] || return 0
	local quiet=0
	while [ $quiet -lt 30 ]; do
		if pgrep -f "make -C $TREE( |$)" >/dev/null || pgrep -x cc1 >/dev/null; then
			quiet=0
		else
			quiet=$((quiet + 5))
		fi
		sleep 5
	done
}

# The worktree, checked out at a commit (detached).
checkout() {
	if ! src_ rev-parse -q --verify HEAD >/dev/null 2>&1 ||
	   [ "$(src_ rev-parse --path-format=absolute --git-common-dir)" != "$(cd "$TREE/.git" && pwd)" ]; then
		rm -rf "$SRC"
		git_ worktree prune
		git_ worktree add -q --detach "$SRC" "$1"
	fi
	src_ checkout -q --detach "$1"
}

subject() { git_ log -1 --format=%s "$1"; }
label() { # "NN subject" of a commit; 00 is the base
	local i=0 c
	[ "$1" = "$BASE_COMMIT" ] && { echo "00 base"; return; }
	for c in $COMMITS; do
		i=$((i + 1))
		[ "$c" = "$1" ] && { printf '%02d %s\n' $i "$(subject "$1")"; return; }
	done
}

# ---------------------------------------------------------------- checkpatch
checkpatch() {
	local t0=$SECONDS dir=$SC/checkpatch p log tot e w c bad=0 opts
	rm -rf "$dir"; mkdir -p "$dir"
	ls "$PATCHDIR"/v"$SERIES_VERSION"-0*.patch >/dev/null 2>&1 || die "no patches in $PATCHDIR" "run: make series"
	checkout "$TIP"
	opts=(--strict --show-types --showfile)
	# The base is one commit without upstream history, so checkpatch cannot
	# look up the commits that Fixes: tags name: with UPSTREAM_GIT_DIR it
	# looks them up there, otherwise that one check is off and the ids are
	# listed below to be checked by hand.
	[ -n "${UPSTREAM_GIT_DIR:-}" ] || opts+=(--ignore UNKNOWN_COMMIT_ID)
	for p in "$PATCHDIR"/v"$SERIES_VERSION"-0*.patch; do
		case "$p" in */v"$SERIES_VERSION"-0000-cover-letter.patch) continue ;; esac
		log=$dir/$(basename "$p" .patch).log
		(cd "$SRC" && ${UPSTREAM_GIT_DIR:+env GIT_DIR="$UPSTREAM_GIT_DIR"} \
			scripts/checkpatch.pl "${opts[@]}" "$p") >"$log" 2>&1 || true
		tot=$(grep -E '^total: ' "$log" | tail -1 || true)
		e=$(sed -n 's/^total: \([0-9]*\) errors.*/\1/p' <<<"$tot")
		w=$(sed -n 's/.* \([0-9]*\) warnings.*/\1/p' <<<"$tot")
		c=$(sed -n 's/.* \([0-9]*\) checks.*/\1/p' <<<"$tot")
		if [ -z "$tot" ] || grep -q '^Traceback' "$log"; then
			result checkpatch FAIL "$(basename "$p"): checkpatch did not finish (log: $log)" 0
			bad=1; continue
		fi
		local types
		types=$(grep -oE ': CHECK:[A-Z_]+:' "$log" | sed 's/^: CHECK:\(.*\):/\1/' |
			sort | uniq -c | awk '{printf "%s%s %s", sep, $2, $1; sep=", "}' || true)
		if [ "$e" = 0 ] && [ "$w" = 0 ]; then
			result checkpatch OK "${p##*/v"$SERIES_VERSION"-}: $e errors, $w warnings, $c checks${types:+ ($types)}" 0
		else
			result checkpatch FAIL "${p##*/v"$SERIES_VERSION"-}: $e errors, $w warnings, $c checks (log: $log)" 0
			bad=1
		fi
	done
	local fixes
	fixes=$(grep -h '^Fixes: ' "$PATCHDIR"/v"$SERIES_VERSION"-0*.patch || true)
	if [ -n "$fixes" ] && [ -z "${UPSTREAM_GIT_DIR:-}" ]; then
		while read -r f; do
			result checkpatch NOTE "not verified here (no upstream history; UPSTREAM_GIT_DIR=<linux.git>): $f" 0
		done <<<"$fixes"
	fi
	result checkpatch "$([ $bad = 0 ] && echo OK || echo FAIL)" "all patches, logs in $dir" $((SECONDS - t0))
}

# -------------------------------------------------------------------- x86 build
KMAKE=(make CC="ccache gcc" HOSTCC="ccache gcc" -j"$JOBS")

# KVM as distributions build it (modules) plus what the series touches, without
# the debug options of the test kernel.
x86_fragment() {
	cat <<-EOF
	CONFIG_EXPERT=y
	CONFIG_MODULES=y
	CONFIG_MODULE_UNLOAD=y
	CONFIG_KVM=m
	CONFIG_KVM_INTEL=m
	CONFIG_KVM_AMD=m
	CONFIG_KVM_WERROR=y
	EOF
}

# .config for the commit checked out in $SRC; copied to $XOBJ only if it
# changed, so kbuild rebuilds only what a changed option affects.
x86_config() {
	local cfg=$SC/x86-config frag=$SC/x86-series-check.config log=$SC/x86-config.log
	x86_fragment >"$frag"
	local frags=("$TOP"/harness/config/{base,kvm-vfio,trace}.config "$frag")
	mkdir -p "$cfg" "$XOBJ"
	{ "${KMAKE[@]}" -C "$SRC" O="$cfg" tinyconfig &&
	  "$SRC/scripts/kconfig/merge_config.sh" -m -O "$cfg" "$cfg/.config" "${frags[@]}" &&
	  "${KMAKE[@]}" -C "$SRC" O="$cfg" olddefconfig; } >"$log" 2>&1 ||
		{ tail -20 "$log" >&2; die "x86 config failed" "log: $log"; }
	# Every option the fragments ask for (the last one wins) must survive,
	# if this commit's Kconfig defines it.
	local -A want=()
	local line sym defined bad=()
	while read -r line; do want[${line%%=*}]=$line; done < <(grep -hE '^CONFIG_' "${frags[@]}")
	defined=$(src_ grep -hE '^\s*(menu)?config [A-Z0-9_]+\s*$' -- '*Kconfig*' |
		  awk '{print "CONFIG_" $2}' | sort -u)
	for sym in "${!want[@]}"; do
		grep -qx "$sym" <<<"$defined" || continue
		line=${want[$sym]}
		case "$line" in
		*=n) grep -q "^$sym=" "$cfg/.config" && bad+=("$line") ;;
		*) grep -qx "$line" "$cfg/.config" || bad+=("$line") ;;
		esac
	done
	[ ${#bad[@]} -eq 0 ] || die "x86 config: options not in the final .config" "${bad[@]}"
	cmp -s "$cfg/.config" "$XOBJ/.config" || cp "$cfg/.config" "$XOBJ/.config"
}

# Build a commit; with the commit built before it, a commit that changes
# only documentation, selftests or MAINTAINERS is not built again (the
# kernel's sources are those just built), and the .config is made again
# only when a Kconfig file changed.
BUILT=""
x86_build() { # commit
	local t0=$SECONDS l log changed=""
	l=$(label "$1")
	log=$SC/build/${l%% *}.log
	mkdir -p "$SC/build"
	[ -z "$BUILT" ] || changed=$(git_ diff --name-only "$BUILT" "$1")
	if [ -n "$BUILT" ] && ! grep -qvE '^(Documentation/|tools/testing/|MAINTAINERS$)' <<<"$changed"; then
		result build OK "$l (no kernel source changed since $(label "$BUILT" | cut -c1-2))" 0
		return
	fi
	checkout "$1"
	if [ -z "$BUILT" ] || [ ! -f "$XOBJ/.config" ] || grep -q 'Kconfig' <<<"$changed"; then
		x86_config
	fi
	BUILT=$1
	wait_idle
	info "building ${l:0:70}"
	if "${KMAKE[@]}" -C "$SRC" O="$XOBJ" vmlinux modules >"$log" 2>&1; then
		local w
		w=$(grep -c ': warning: ' "$log" || true)
		result build OK "$l${w:+ ($w compiler warnings)}" $((SECONDS - t0))
	else
		grep -E 'error|Error|\*\*\*' "$log" | head -5 | sed 's/^/        /' >&2 || true
		result build FAIL "$l (log: $log)" $((SECONDS - t0))
	fi
}

# ------------------------------------------------------------------------ sparse
# Sparse's first lines, without line numbers, paths relative to the tree
# (virt/kvm/ files are built from arch/x86/kvm/../../../virt/kvm/).
sparse_lines() {
	grep -E '^[^ :]+:[0-9]+:[0-9]+: (warning|error): ' "$1" |
		sed -E "s#^$SRC/##; :a; s#[^/.][^/]*/\.\./##; ta; s#:[0-9]+:[0-9]+: #: #" |
		LC_ALL=C sort || true
}

sparse_run() { # output file
	local raw=$1.raw
	wait_idle
	"${KMAKE[@]}" -C "$SRC" O="$XOBJ" C=2 CF=-fmax-warnings=unlimited arch/x86/kvm/ >"$raw" 2>&1 ||
		{ tail -20 "$raw" >&2; return 1; }
	sparse_lines "$raw" >"$1"
}

sparse_base() {
	local t0=$SECONDS key out
	key=$(printf '%s %s %s' "$BASE_COMMIT" "$(sparse --version 2>&1)" "$(md5sum <"$XOBJ/.config")" |
	      md5sum | cut -c1-12)
	out=$SC/sparse-base-$key.txt
	if [ ! -f "$out" ]; then
		info "sparse on the base (arch/x86/kvm/)"
		sparse_run "$out.tmp" || { result sparse FAIL "base: make C=2 failed" $((SECONDS - t0)); return; }
		mv "$out.tmp" "$out"
	fi
	ln -sf "$(basename "$out")" "$SC/sparse-base.txt"
	result sparse OK "base: $(wc -l <"$out") warnings (arch/x86/kvm/ with virt/kvm)" $((SECONDS - t0))
}

sparse_tip() {
	local t0=$SECONDS out=$SC/sparse-tip.txt new touched n
	checkout "$TIP"
	info "sparse on the tip (arch/x86/kvm/)"
	sparse_run "$out" || { result sparse FAIL "tip: make C=2 failed" $((SECONDS - t0)); return; }
	[ -f "$SC/sparse-base.txt" ] || { result sparse FAIL "no base result (run the build step)" 0; return; }
	new=$(LC_ALL=C comm -13 "$SC/sparse-base.txt" "$out")
	touched=$(git_ diff --name-only base..series | grep -E '\.[ch]$' | sed 's/[.+]/\\&/g' | paste -sd'|')
	n=$(grep -cE "^($touched): " "$out" || true)
	if [ -z "$new" ]; then
		result sparse OK "tip: $(wc -l <"$out") warnings, $n in touched files, none new" $((SECONDS - t0))
	else
		result sparse FAIL "tip: $(grep -c . <<<"$new") new warnings (full: $out.raw)" $((SECONDS - t0))
		while read -r l; do result sparse NEW "$l" 0; done <<<"$new"
	fi
}

# Every commit, or with "sparse" alone only the base and the tip.
build_all() { # all|ends
	local c
	x86_build "$BASE_COMMIT"
	[ "$want_sparse" = 0 ] || sparse_base
	if [ "$1" = all ]; then
		for c in $COMMITS; do x86_build "$c"; done
	else
		x86_build "$TIP"
	fi
	[ "$want_sparse" = 0 ] || sparse_tip
}

# --------------------------------------------------------------------- kernel-doc
kerneldoc() {
	local t0=$SECONDS log=$SC/kernel-doc.log files n
	checkout "$TIP"
	files=$(awk '$1 == "owned" && $2 ~ /\.[ch]$/ {print $2}' "$MANIFEST" |
		while read -r f; do [ ! -f "$SRC/$f" ] || echo "$f"; done)
	(cd "$SRC" && scripts/kernel-doc -none -Wall $files) >"$log" 2>&1 || true
	n=$(grep -ciE 'warning|error' "$log" || true)
	if [ "$n" = 0 ]; then
		result kernel-doc OK "0 warnings in $(wc -w <<<"$files") owned files" $((SECONDS - t0))
	else
		result kernel-doc FAIL "$n warnings in $(wc -w <<<"$files") owned files (log: $log)" $((SECONDS - t0))
	fi
}

# --------------------------------------------------------------------------- docs
# Sphinx's warnings, without line numbers, paths relative to the tree.
docs_lines() {
	grep -E 'WARNING|ERROR|CRITICAL|warning:|error:' "$1" |
		sed -E "s|$SRC/||g; s|:[0-9]+:|:|g" | LC_ALL=C sort
}

docs_run() { # label output
	local out=$SC/docs-$1
	rm -rf "$out"; mkdir -p "$out"
	wait_idle
	"${KMAKE[@]}" -C "$SRC" O="$out" SPHINXDIRS="$DOCDIRS" htmldocs >"$out.log" 2>&1 ||
		{ tail -20 "$out.log" >&2; return 1; }
	docs_lines "$out.log" >"$2"
}

docs() {
	local t0=$SECONDS key base tip=$SC/docs-tip.txt new
	DOCDIRS=$(git_ diff --name-only base..series -- 'Documentation/*.rst' |
		  awk -F/ '{ d = $2; if (NF > 3) d = d "/" $3; print d }' | sort -u | paste -sd' ')
	[ -n "$DOCDIRS" ] || { result docs OK "no .rst file touched" 0; return; }
	key=$(printf '%s %s %s' "$BASE_COMMIT" "$DOCDIRS" "$(sphinx-build --version 2>&1)" | md5sum | cut -c1-12)
	base=$SC/docs-base-$key.txt
	if [ ! -f "$base" ]; then
		checkout "$BASE_COMMIT"
		info "htmldocs SPHINXDIRS=\"$DOCDIRS\" on the base"
		docs_run base "$base.tmp" || { result docs FAIL "base: htmldocs failed (log: $SC/docs-base.log)" $((SECONDS - t0)); return; }
		mv "$base.tmp" "$base"
	fi
	checkout "$TIP"
	info "htmldocs SPHINXDIRS=\"$DOCDIRS\" on the tip"
	docs_run tip "$tip" || { result docs FAIL "tip: htmldocs failed (log: $SC/docs-tip.log)" $((SECONDS - t0)); return; }
	new=$(LC_ALL=C comm -13 "$base" "$tip")
	if [ -z "$new" ]; then
		result docs OK "htmldocs $DOCDIRS: base $(wc -l <"$base"), tip $(wc -l <"$tip") warnings, none new" $((SECONDS - t0))
	else
		result docs FAIL "htmldocs $DOCDIRS: $(grep -c . <<<"$new") new warnings (log: $SC/docs-tip.log)" $((SECONDS - t0))
		while read -r l; do result docs NEW "$l" 0; done <<<"$new"
	fi
}

# -------------------------------------------------------------------------- cross
# name ARCH CROSS_COMPILE defconfig "options to set" "options that must result"
CROSS=(
	"arm64 arm64 aarch64-linux-gnu- defconfig"
	"ppc64le powerpc powerpc64le-linux-gnu- ppc64le_defconfig"
	"s390x s390 s390x-linux-gnu- defconfig"
	"riscv64 riscv riscv64-linux-gnu- defconfig"
)
cross_fragment() {
	echo "CONFIG_VIRTUALIZATION=y"
	echo "CONFIG_KUNIT=y"
	echo "CONFIG_KVM_VFIO_KUNIT_TEST=y"
	case $1 in
	arm64) echo "CONFIG_KVM=y"; echo "CONFIG_VFIO=y" ;;
	ppc64le) echo "CONFIG_KVM_BOOK3S_64=m"; echo "CONFIG_KVM_BOOK3S_64_HV=m"
		 echo "CONFIG_IOMMU_SUPPORT=y"; echo "CONFIG_VFIO=m" ;;
	s390x) echo "CONFIG_KVM=m"; echo "CONFIG_VFIO=m" ;;
	riscv64) echo "CONFIG_KVM=m" ;;
	esac
}
cross_needs() {
	case $1 in
	ppc64le) echo "CONFIG_KVM_VFIO=y CONFIG_SPAPR_TCE_IOMMU=y" ;;
	riscv64) echo "CONFIG_KVM=m" ;;
	*) echo "CONFIG_KVM_VFIO=y" ;;
	esac
}

cross_one() { # name arch cross defconfig
	local name=$1 arch=$2 cc=$3 def=$4 t0=$SECONDS
	local obj=$BUILD/series-cross/$name log=$SC/cross-$name.log frag=$SC/cross-$name.config
	local m=("${KMAKE[@]}" -C "$SRC" O="$obj" ARCH="$arch" CROSS_COMPILE="$cc"
		 CC="ccache ${cc}gcc")
	command -v "${cc}gcc" >/dev/null || { result cross FAIL "$name: ${cc}gcc missing (harness/deps-series.sh)" 0; return; }
	mkdir -p "$obj"
	cross_fragment "$name" >"$frag"
	wait_idle
	info "cross build: $name (log: $log)"
	if ! { "${m[@]}" "$def" &&
	       "$SRC/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$frag" &&
	       "${m[@]}" olddefconfig; } >"$log" 2>&1; then
		result cross FAIL "$name: config failed (log: $log)" $((SECONDS - t0)); return
	fi
	local o miss=""
	for o in $(cross_needs "$name"); do grep -qx "$o" "$obj/.config" || miss+=" $o"; done
	[ -z "$miss" ] || { result cross FAIL "$name: not in .config:$miss" $((SECONDS - t0)); return; }
	if ! "${m[@]}" "arch/$arch/kvm/" >>"$log" 2>&1; then
		grep -E 'error' "$log" | head -5 | sed 's/^/        /' >&2 || true
		result cross FAIL "$name: build failed (log: $log)" $((SECONDS - t0)); return
	fi
	local vfio="virt/kvm/vfio.o built" w
	[ -f "$obj/virt/kvm/vfio.o" ] || vfio="no virt/kvm/vfio.o (KVM_VFIO not selected)"
	[ "$name" = riscv64 ] || [ -f "$obj/virt/kvm/vfio.o" ] ||
		{ result cross FAIL "$name: $vfio" $((SECONDS - t0)); return; }
	# Without the bridge there are no bridge statistics (vm.o holds the
	# VM's statistics descriptors, names included).
	if [ "$name" = riscv64 ] && grep -qa vfio_files "$obj/arch/riscv/kvm/vm.o"; then
		result cross FAIL "$name: vfio_* statistics without KVM_VFIO" $((SECONDS - t0)); return
	fi
	w=$(grep -c ': warning: ' "$log" || true)
	result cross OK "$name: arch/$arch/kvm/ built, $vfio, $w warnings" $((SECONDS - t0))
}

cross() {
	local c
	checkout "$TIP"
	for c in "${CROSS[@]}"; do
		# shellcheck disable=SC2086
		cross_one $c
	done
}

# ------------------------------------------------------------------- kunit-m
# KUnit tests linked into kvm (KVM_VFIO_KUNIT_TEST, KVM_X86_NONCOHERENT_KUNIT_TEST)
# are bool: with KVM=y they are in vmlinux and need KUNIT=y.  A distribution
# style KUNIT=m KUNIT_ALL_TESTS=m must leave them out, not fail to link.
KUNIT_M_TESTS="CONFIG_KVM_VFIO_KUNIT_TEST CONFIG_KVM_X86_NONCOHERENT_KUNIT_TEST"
kunit_m() {
	local t0=$SECONDS obj=$BUILD/series-kunit-m log=$SC/kunit-m.log frag=$SC/kunit-m.config o bad=""
	checkout "$TIP"
	mkdir -p "$obj"
	{ grep -vE '^CONFIG_(KUNIT|KVM_VFIO_KUNIT_TEST|KVM_X86_NONCOHERENT_KUNIT_TEST)=' \
		"$TOP/harness/config/kvm-vfio.config"
	  echo "CONFIG_MODULES=y"
	  echo "CONFIG_KUNIT=m"
	  echo "CONFIG_KUNIT_ALL_TESTS=m"
	} >"$frag"
	wait_idle
	info "x86_64 with KVM=y KUNIT=m KUNIT_ALL_TESTS=m (log: $log)"
	if ! { "${KMAKE[@]}" -C "$SRC" O="$obj" tinyconfig &&
	       "$SRC/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" \
			"$TOP/harness/config/base.config" "$frag" &&
	       "${KMAKE[@]}" -C "$SRC" O="$obj" olddefconfig; } >"$log" 2>&1; then
		result kunit-m FAIL "config failed (log: $log)" $((SECONDS - t0)); return
	fi
	for o in CONFIG_KVM=y CONFIG_KUNIT=m; do
		grep -qx "$o" "$obj/.config" || bad+=" want $o"
	done
	for o in $KUNIT_M_TESTS; do
		grep -q "^$o=y" "$obj/.config" && bad+=" $o=y"
	done
	if ! "${KMAKE[@]}" -C "$SRC" O="$obj" vmlinux >>"$log" 2>&1; then
		grep -E 'undefined reference|error:|Error [0-9]' "$log" | head -5 | sed 's/^/        /' >&2 || true
		bad+=" vmlinux does not link"
	fi
	if [ -n "$bad" ]; then
		result kunit-m FAIL "KVM=y KUNIT=m:$bad (log: $log)" $((SECONDS - t0))
	else
		result kunit-m OK "KVM=y KUNIT=m KUNIT_ALL_TESTS=m: the KUnit tests left out, vmlinux links" $((SECONDS - t0))
	fi
}

# ---------------------------------------------------------------- kunit-i386
# On a 32-bit host a long is not a u64: the bridge's attribute handling and
# the policy's arithmetic run there too.  The assembled tree is at the tip.
kunit_i386() {
	local t0=$SECONDS d=$LOGS/kunit-i386 pass fail
	wait_idle
	# Judged from its logs below: a failing run must still get its result line.
	"$TOP/harness/kunit.sh" i386 >"$SC/kunit-i386.log" 2>&1 || true
	pass=$(grep -c '^    ok ' "$d/console.log" || true)
	fail=$(grep -c '^    not ok ' "$d/console.log" || true)
	if [ -s "$d/problems.txt" ] || [ "$fail" != 0 ] || [ "$pass" = 0 ]; then
		result kunit-i386 FAIL "$pass cases passed, $fail failed (log: $d/console.log)" $((SECONDS - t0))
	else
		result kunit-i386 OK "$pass cases passed on i386" $((SECONDS - t0))
	fi
}

# ------------------------------------------------------------------------ summary
summary() {
	local s st what secs n_ok n_fail
	step "series-check summary ($(git_ rev-list --count base..series) commits on $BASE_PKG $BASE_VERSION)"
	for s in checkpatch build sparse kernel-doc docs kunit-m kunit-i386 cross; do
		grep -q "^$s|" "$RESULTS" || continue
		echo "  $s:"
		while IFS='|' read -r _ st what secs; do
			if [ "$secs" != 0 ]; then secs=" [${secs}s]"; else secs=""; fi
			printf '    %-4s %s%s\n' "$st" "$what" "$secs"
		done < <(grep "^$s|" "$RESULTS")
	done
	n_fail=$(grep -c '|FAIL|' "$RESULTS" || true)
	n_ok=$(grep -c '|OK|' "$RESULTS" || true)
	echo "  total time: $((SECONDS - T0)) s"
	echo "$n_ok passed, $n_fail failed"
	[ "$n_fail" = 0 ]
}

# One paragraph for the cover letter (harness/series.sh), from a full run.
cover() {
	local b_ok b_n cp_c
	b_n=$(grep -c '^build|' "$RESULTS" || true)
	b_ok=$(grep -c '^build|OK|' "$RESULTS" || true)
	cp_c=$(grep '^checkpatch|OK|[0-9]' "$RESULTS" | sed -n 's/.* \([0-9]*\) checks.*/\1/p' |
	       awk '{s += $1} END {print s + 0}')
	{
	echo "# tip $TIP"
	echo " Static checks and builds (make series-check):"
	echo "   x86_64, KVM=m KVM_INTEL=m KVM_AMD=m KVM_WERROR=y: $b_ok of $b_n"
	echo "   builds (the base and every commit) succeed;"
	if grep -q '^checkpatch|FAIL|' "$RESULTS"; then
		echo "   checkpatch --strict: see the notes of each patch;"
	else
		echo "   checkpatch --strict: 0 errors, 0 warnings, $cp_c checks;"
	fi
	echo "   sparse (arch/x86/kvm/), htmldocs (${DOCDIRS:-none}): $(
		grep -qE '^(sparse|docs)\|FAIL\|' "$RESULTS" && echo "new warnings" || echo "no new warnings");"
	echo "   kernel-doc -Wall on the new files: $(grep -q '^kernel-doc|OK|' "$RESULTS" && echo clean || echo warnings);"
	echo "   KVM builds for $(grep '^cross|OK|' "$RESULTS" | cut -d'|' -f3 | cut -d: -f1 | paste -sd, | sed 's/,/, /g')."
	} >"$SC/cover.txt"
}

T0=$SECONDS
ALL=(checkpatch build sparse kerneldoc docs kunit-m kunit-i386 cross)
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=("${ALL[@]}")
want_sparse=0 want_build=0
for s in "${steps[@]}"; do
	case "$s" in
	sparse) want_sparse=1 ;;
	build) want_build=1 ;;
	checkpatch | kerneldoc | docs | kunit-m | kunit-i386 | cross) ;;
	*) die "unknown step '$s'" "steps: ${ALL[*]}" ;;
	esac
done
for s in "${steps[@]}"; do
	case "$s" in
	checkpatch) step "checkpatch --strict"; checkpatch ;;
	build) step "building the base and every commit for x86_64 (logs: $SC/build/)"; build_all all ;;
	sparse) [ $want_build = 1 ] || { step "sparse: building the base and the tip"; build_all ends; } ;;
	kerneldoc) step "kernel-doc"; kerneldoc ;;
	docs) step "Sphinx"; docs ;;
	kunit-m) step "KUnit tests with KUNIT=m"; kunit_m ;;
	kunit-i386) step "KUnit on i386"; kunit_i386 ;;
	cross) step "cross builds at the tip"; cross ;;
	esac
done
checkout "$TIP"
if [ "${steps[*]}" = "${ALL[*]}" ]; then
	cover
	"$TOP/harness/series.sh" >/dev/null   # the cover letter gets these results
fi
summary

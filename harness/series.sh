#!/usr/bin/env bash
# Export the assembled series as patches for the list: git format-patch -v$SERIES_VERSION
# with a cover letter, into $BUILD/series/.
#
# The cover letter is series/cover-letter.tmpl: its first line is the
# subject, the rest the body.  Placeholders filled here:
#   @BASE_PKG@ @BASE_VERSION@ @BASE_DESC@   the pinned base (harness/lib.sh)
#   @PATCHES@   (alone on a line) one line per commit: number and subject
#   @UAPI@      (alone on a line) #defines the series adds to uapi headers
#   @TESTING@   (alone on a line) counts of the last "make check" per boot
#               ($LOGS/summary.txt) and the result of "make series-check" if
#               it checked this same series
# git puts the shortlog, diffstat and base-commit below the body.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
STEP=series
SERIES_OUT=${SERIES_OUT:-$BUILD/series}
TMPL=$TOP/series/cover-letter.tmpl
git_() { git -C "$TREE" "$@"; }

git_ rev-parse -q --verify refs/tags/base >/dev/null 2>&1 &&
	git_ rev-parse -q --verify refs/heads/series >/dev/null 2>&1 ||
	die "no assembled tree in $TREE" "run: make tree"

# One line per patch: " 3/10 KVM: x86: ...".
patches() {
	local n i=0 s
	n=$(git_ rev-list --count base..series)
	while read -r s; do
		i=$((i + 1))
		printf ' %*d/%d %s\n' ${#n} "$i" "$n" "$s"
	done < <(git_ log --reverse --format=%s base..series)
}

# The numbers the series gives new uAPI: added #defines in uapi headers.
uapi() {
	local defs
	defs=$(git_ diff base..series -- 'include/uapi/' 'arch/*/include/uapi/' |
	       sed -n 's/^+#define[[:space:]]\+\([A-Z0-9_]\+\)[[:space:]]\+\(.*\)/ \1 \2/p')
	if [ -z "$defs" ]; then
		cat <<-EOF
		None in this version: the statistics are found by name through
		the binary stats interface, and tracepoints are not ABI.
		EOF
		return
	fi
	cat <<-EOF
	$defs

	They are free numbers in the $BASE base (a new capability takes the
	next one): they may move when the series is rebased onto a newer
	tree, and userspace must not take them from this posting.
	EOF
}

kind() {
	local d=$LOGS/$1 v m
	if [ -f "$d/bochs.log" ] || [ -f "$d/bochsrc" ]; then
		v=$(dpkg-query -W -f='${Version}' bochs 2>/dev/null | sed 's/+.*//')
		m=$(sed -n 's/^cpu: model=\([^,]*\).*/\1/p' "$d/bochsrc" 2>/dev/null)
		echo "Bochs ${v:-?}${m:+ ($m)}, Intel VMX with EPT (kvm_intel)"
	else
		v=$(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null | sed 's/^[0-9]*://; s/+.*//')
		echo "QEMU ${v:-?} TCG -cpu max, AMD SVM with NPT (kvm_amd), q35 + intel-iommu"
	fi
}

testing() {
	local sum=$LOGS/summary.txt cfg=$BUILD/obj/.config
	if [ ! -s "$sum" ]; then
		echo " (no results: run \"make check\" before \"make series\")"
		return
	fi
	local opts="" o
	for o in PROVE_LOCKING KASAN DEBUG_KMEMLEAK DEBUG_ATOMIC_SLEEP FAILSLAB; do
		grep -qx "CONFIG_$o=y" "$cfg" 2>/dev/null && opts+="${opts:+, }$o"
	done
	local kvm=""
	for o in KVM KVM_INTEL KVM_AMD; do
		case $(sed -n "s/^CONFIG_$o=//p" "$cfg" 2>/dev/null) in
		y) kvm+=" $o=y" ;; m) kvm+=" $o=m" ;;
		esac
	done
	grep -qx CONFIG_KVM_WERROR=y "$cfg" 2>/dev/null && kvm+=" KVM_WERROR=y"
	echo " Kernel: x86_64,${kvm:- (no .config found)};"
	echo " debug options: ${opts:-none}."
	# The series' own selftests: those it owns in the manifest.
	local own
	own=$(sed -n 's|^ *owned tools/testing/selftests/\(kvm/.*_test\)\.c$|\1|p' "$TOP/series/manifest" |
	      paste -sd'|')
	local boot
	for boot in $(sed -n 's/^[A-Z]* \([^: ]*\).*/\1/p' "$sum" | awk '!seen[$0]++'); do
		awk -v b="$boot" -v kind="$(kind "${boot##*/}")" -v own="${own:-none}" '
		{ st = $1; rest = substr($0, 6) }
		rest !~ "^" b "(:| --|$)" { next }
		{ n[st]++ }
		rest ~ "^" b ": kunit " { k[st]++; next }
		rest ~ "^" b ": ((" own ")(:|$| --)|client/)" { s[st]++; next }
		{ u[st]++ }
		function c(a) { return (a["PASS"] + 0) " passed, " (a["FAIL"] + 0) " failed, " (a["SKIP"] + 0) " skipped" }
		END {
			printf "\n - %s:\n   %s\n", kind, c(n)
			printf "   KUnit cases: %s\n", c(k)
			printf "   the series'"'"' selftests and QEMU as a client: %s\n", c(s)
			printf "   upstream kvm selftests: %s\n", c(u)
		}' "$sum"
	done
	# The last full "make series-check", if it checked this very series.
	local sc=$BUILD/series-check/cover.txt
	if [ -s "$sc" ] && [ "$(head -1 "$sc")" = "# tip $(git_ rev-parse series)" ]; then
		echo
		tail -n +2 "$sc"
	fi
}

# Fill the template: block placeholders alone on a line, the others inline.
fill() {
	local line
	while IFS= read -r line; do
		case "$line" in
		@PATCHES@) patches ;;
		@UAPI@) uapi ;;
		@TESTING@) testing ;;
		*)
			line=${line//@BASE_PKG@/$BASE_PKG}
			line=${line//@BASE_DESC@/$BASE_DESC}
			printf '%s\n' "${line//@BASE_VERSION@/$BASE_VERSION}" ;;
		esac
	done <"$TMPL"
}

if [ ! -s "$LOGS/summary.txt" ]; then
	info "warning: no $LOGS/summary.txt: the cover letter has no test results (make check)"
elif [ "$BUILD/obj/arch/x86/boot/bzImage" -nt "$LOGS/summary.txt" ]; then
	info "warning: $LOGS/summary.txt is older than the last kernel build: run make check"
fi
desc=$(fill)
# The cover letter's From: is the series' author, as on every patch.
export GIT_COMMITTER_NAME="KVM non-coherent DMA series" GIT_COMMITTER_EMAIL="kvm-ncdma@example.org"
rm -rf "$SERIES_OUT"
mkdir -p "$SERIES_OUT"
prefix=PATCH
[ ! -d "$BACKPORT" ] || prefix="PATCH $BASE"  # a backport says which tree
git_ -c branch.series.description="$desc" format-patch -q -v"$SERIES_VERSION" --cover-letter \
	--subject-prefix="$prefix" \
	--cover-from-description=subject --base=base -o "$SERIES_OUT" base..series
step "series: $(find "$SERIES_OUT" -name '*.patch' | wc -l) files in $SERIES_OUT"
ls "$SERIES_OUT" | sed 's/^/    /'

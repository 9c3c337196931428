# Common settings and helpers for the harness scripts; sourced, not run.
# shellcheck shell=bash

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# The base: BASE=7.3 (mainline, the default) or BASE=6.12 (the LTS backport,
# whose differences live in backport/6.12/).  Each base pins a Debian
# linux-source package and its tarball's sha256; BASE_SUITE is the suite
# that serves it when the machine's apt sources do not (see deps.sh).
BASE=${BASE:-7.3}
case "$BASE" in
7.3)	BASE_PKG=linux-source-7.3 BASE_VERSION=7.3.4-1~bpo13+1 BASE_SUITE=trixie-backports
	pinned_sha256=76df1affb19f24926949369be1d74b60071c963c598ce8780bddd4bbf0fc3bc4
	SELFTEST_ARCH=x86 BASE_DESC="mainline Linux 7.3.4 from Debian's trixie-backports" ;;
6.12)	BASE_PKG=linux-source-6.12 BASE_VERSION=6.12.117-1~deb12u1 BASE_SUITE=
	pinned_sha256=585a4a074597aefa2b1a68ada83a3184ba351c127544dea80618bbcceaa3961f
	SELFTEST_ARCH=x86_64 BASE_DESC="Linux 6.12 LTS with Debian's stable updates; this is the backport of the series, which is developed on mainline" ;;
*)	printf 'ERROR: BASE=%s: the bases are 7.3 (mainline) and 6.12 (backport)\n' "$BASE" >&2
	exit 1 ;;
esac
BACKPORT=$TOP/backport/$BASE  # present for a backport base only

# SERIES=none builds the unpatched base (to choose the upstream selftests
# that guard against regressions), in a folder of its own.
SERIES=${SERIES:-}
if [ "$SERIES" = none ]; then BUILD=${BUILD:-$TOP/build/$BASE-unpatched}; fi
BUILD=${BUILD:-$TOP/build/$BASE}
TREE=$BUILD/linux            # the assembled tree: base + series as commits
OBJ=$BUILD/obj               # kbuild output directory
OUT=$BUILD/out               # test payload: selftests, initramfs
LOGS=$BUILD/logs             # console logs and results, one folder per boot

# The posting the series is prepared as: format-patch -v$SERIES_VERSION, and
# the cover letter's changelog (series/cover-letter.tmpl).
SERIES_VERSION=2

# Override BASE_TARBALL/BASE_SHA256 to use another tarball (BASE_SHA256=any
# skips the check), or BASE_TREE to use a kernel tree.
BASE_TARBALL=${BASE_TARBALL:-/usr/src/$BASE_PKG.tar.xz}
BASE_SHA256=${BASE_SHA256:-$pinned_sha256}
BASE_TREE=${BASE_TREE:-}

# What differs on this base: a file of backport/$BASE/ if there is one,
# else the mainline one.  for_base REL -> path
for_base() {
	if [ -e "$BACKPORT/$1" ]; then echo "$BACKPORT/$1"; else echo "$TOP/$1"; fi
}

# QEMU 10, the second real client of the bridge (it reaches it through
# iommufd and VFIO device cdevs): Debian's bookworm-backports build, whose
# binary runs with bookworm's libraries.  deps.sh fetches these packages
# with apt and unpacks them into $QEMU10 (the machine's QEMU 7.2 stays the
# outer emulator and the first client); package=version=sha256 of the .deb.
QEMU10_SUITE=bookworm-backports
QEMU10_DEBS=(
	"qemu-system-x86=1:10.0.2+ds-2+deb13u1~bpo12+1=4a6b1856c8b0d7df4ff8e70249e12c473ccf8d516aadb4ae14d3d938faed0c65"
	"qemu-system-data=1:10.0.2+ds-2+deb13u1~bpo12+1=2d831088187087013b3fcbd19bdfb955b182a2d5a08f6dafa0ad1c6d2007fb4e"
	"seabios=1.16.3-2~bpo12+1=48390d0a534c66d11789e39518aa219773a9d3677b29fe1af8799dfb563ec713"
)
QEMU10=$TOP/build/qemu-10
QEMU10_DEBS_DIR=${QEMU10_DEBS_DIR:-}  # the pinned .debs from elsewhere, if apt lost them

JOBS=${JOBS:-$(nproc)}

step() { printf '==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die() {
	printf 'ERROR [%s]: %s\n' "${STEP:-harness}" "$1" >&2
	shift
	local l
	for l in "$@"; do printf '    %s\n' "$l" >&2; done
	exit 1
}

# The verdict on a boot: boot_problems DIR IGNORE [PROBLEM...]
# DIR/problems.txt gets the PROBLEMs the caller found (timeout, exit status)
# and those of the logs: a guest that did not reach its end, kernel report
# lines in the console (those matching the extended regex IGNORE excepted;
# "" ignores none).  Prints them and returns 1 if there are any.
boot_problems() {
	local dir=$1 ignore=$2
	shift 2
	local problems=("$@")
	grep -q '^=== POWEROFF' "$dir/results.log" ||
		problems+=("the guest did not reach its end: last test started was '$(sed -n 's/^=== BEGIN //p' "$dir/results.log" | tail -1)'")
	# Report lines are never empty (grep -n numbers them): ^$ ignores none.
	"$TOP/harness/splats.sh" "$dir/console.log" | grep -vE "${ignore:-^$}" >"$dir/splats.txt" || true
	rm -f "$dir/report.txt"
	if [ -s "$dir/splats.txt" ]; then
		problems+=("$(wc -l <"$dir/splats.txt") kernel report line(s) in the console, first: $(head -1 "$dir/splats.txt" | tr -d '\r')")
		# The first report as the console has it (40 lines), shown here and
		# in the summary: CI keeps the output, not the console log.
		local first
		first=$(head -1 "$dir/splats.txt" | cut -d: -f1)
		tail -n +"$first" "$dir/console.log" | head -40 | tr -d '\r' >"$dir/report.txt"
	fi
	printf '%s\n' "${problems[@]}" | sed '/^$/d' >"$dir/problems.txt"
	[ -s "$dir/problems.txt" ] || return 0
	printf '    FAILED: %s\n' "${problems[@]}"
	[ ! -s "$dir/report.txt" ] || sed 's/^/    | /' "$dir/report.txt"
	return 1
}

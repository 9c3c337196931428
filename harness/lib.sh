# Common settings and helpers for the harness scripts; sourced, not run.
# shellcheck shell=bash

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
TREE=$BUILD/linux            # the assembled tree: base + series as commits
OBJ=$BUILD/obj               # kbuild output directory
OUT=$BUILD/out               # test payload: selftests, initramfs
LOGS=$BUILD/logs             # console logs and results, one folder per boot

# The pinned base.  Override BASE_TARBALL/BASE_SHA256 to use another tarball
# (BASE_SHA256=any skips the check), or BASE_TREE to use a kernel tree.
BASE_PKG=linux-source-6.12
BASE_VERSION=6.12.117-1~deb12u1
BASE_TARBALL=${BASE_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
BASE_SHA256=${BASE_SHA256:-585a4a074597aefa2b1a68ada83a3184ba351c127544dea80618bbcceaa3961f}
BASE_TREE=${BASE_TREE:-}

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
	[ -s "$dir/splats.txt" ] &&
		problems+=("$(wc -l <"$dir/splats.txt") kernel report line(s) in the console, first: $(head -1 "$dir/splats.txt" | tr -d '\r')")
	printf '%s\n' "${problems[@]}" | sed '/^$/d' >"$dir/problems.txt"
	[ -s "$dir/problems.txt" ] || return 0
	printf '    FAILED: %s\n' "${problems[@]}"
	return 1
}

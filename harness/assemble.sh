#!/usr/bin/env bash
# Assemble the patched tree: the base as the first commit of a git repository,
# then one commit per entry of series/manifest.
#
# On a backport base (BASE=6.12) the same manifest is replayed with what
# backport/$BASE/ holds: "paths" renames owned files (from-prefix to-prefix),
# owned/<name>.diff is applied to the owned file <name> as it is added,
# patches/<name> and series/<name> replace the mainline patch or message.
#
# Commits are built in a scratch index (owned files hashed in, patches applied
# with "git apply --cached"), so the work tree is only touched at the end by
# "git reset --hard", which rewrites just the files whose content changed:
# kbuild then rebuilds only what an edit affects.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
STEP=assemble
MANIFEST=$TOP/series/manifest
export GIT_AUTHOR_NAME="KVM non-coherent DMA series" GIT_AUTHOR_EMAIL="kvm-ncdma@example.org"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"
export GIT_AUTHOR_DATE="2026-11-01T00:00:00Z" GIT_COMMITTER_DATE="2026-11-01T00:00:00Z"
git_() { git -C "$TREE" -c core.autocrlf=false -c advice.detachedHead=false "$@"; }

if ! git_ rev-parse -q --verify refs/tags/base >/dev/null 2>&1; then
	step "extracting the base into $TREE"
	rm -rf "$TREE" "$TREE.tmp"
	mkdir -p "$TREE.tmp"
	if [ -n "$BASE_TREE" ]; then
		rsync -a --exclude=.git "$BASE_TREE"/ "$TREE.tmp"/
	else
		tar -xJf "$BASE_TARBALL" -C "$TREE.tmp" --strip-components=1 ||
			die "could not extract $BASE_TARBALL"
	fi
	mv "$TREE.tmp" "$TREE"
	git_ init -q -b series
	git_ config gc.auto 0
	git_ add -A -f .
	git_ commit -q --no-verify -m "Base: ${BASE_TREE:-$(basename "$BASE_TARBALL")} ($BASE_PKG $BASE_VERSION)"
	git_ tag base
fi

if [ "$SERIES" = none ]; then
	git_ reset -q --hard base
	info "SERIES=none: the unpatched base ($(git_ rev-parse --short HEAD))"
	exit 0
fi

# Parse the manifest into parallel arrays.  Format (see series/manifest):
#   commit <message file, relative to series/>
#   owned  <path of a file owned in full, relative to the repository top>
#   patch  <patch file, relative to the repository top>
subjects=() ; owned=() ; patches=()
n=-1
while read -r kw arg rest; do
	case "$kw" in
	'' | '#'*) continue ;;
	commit) n=$((n + 1)); subjects[n]=$arg; owned[n]=""; patches[n]="" ;;
	owned | patch)
		[ $n -ge 0 ] || die "$MANIFEST: '$kw $arg' before the first 'commit'"
		[ -f "$TOP/$arg" ] || die "$MANIFEST: $kw $arg: no such file in the repository"
		if [ "$kw" = owned ]; then owned[n]+="$arg "; else patches[n]+="$arg "; fi ;;
	*) die "$MANIFEST: unknown keyword '$kw'" ;;
	esac
	[ -z "$rest" ] || die "$MANIFEST: trailing text after '$kw $arg'"
done <"$MANIFEST"

export GIT_INDEX_FILE=$BUILD/series.index
rm -f "$GIT_INDEX_FILE"
git_ read-tree base
parent=$(git_ rev-parse base)
# The path of an owned file on this base.
base_path() {
	local f=$1 from to
	if [ -f "$BACKPORT/paths" ]; then
		while read -r from to; do
			case "$from" in '' | '#'*) continue ;; esac
			[ "${f#"$from"}" = "$f" ] || { echo "$to${f#"$from"}"; return; }
		done <"$BACKPORT/paths"
	fi
	echo "$f"
}

apply_cached() { # apply_cached PATCH WHAT
	local err file
	if ! err=$(git_ apply --cached --whitespace=error-all "$1" 2>&1); then
		file=$(sed -n 's/^error: patch failed: \([^:]*\):.*/\1/p; s/^error: \([^:]*\): does not exist in index/\1/p' <<<"$err" | head -1)
		die "patch ${1#"$TOP"/} does not apply${file:+ to $file}" "$err" "($2)"
	fi
}

for i in $(seq 0 $n); do
	msg=$(for_base "series/${subjects[i]}")
	[ -f "$msg" ] || die "$MANIFEST: commit message series/${subjects[i]} is missing"
	for f in ${owned[i]}; do
		dest=$(base_path "$f")
		blob=$(git_ hash-object -w --path="$dest" "$TOP/$f")
		mode=100644
		[ -x "$TOP/$f" ] && mode=100755
		git_ update-index --add --cacheinfo "$mode,$blob,$dest"
		d=$BACKPORT/owned/$(basename "$dest").diff
		[ ! -f "$d" ] || apply_cached "$d" "owned $f, commit series/${subjects[i]}"
	done
	for p in ${patches[i]}; do
		apply_cached "$(for_base "$p")" "commit series/${subjects[i]}"
	done
	tree=$(git_ write-tree)
	parent=$(git_ commit-tree "$tree" -p "$parent" -F "$msg")
done
unset GIT_INDEX_FILE

# Also when files of the tree were edited by hand: the tree is the series.
if [ "$(git_ rev-parse -q --verify HEAD || true)" != "$parent" ] ||
   ! git_ diff --quiet HEAD; then
	git_ reset -q --hard "$parent"
fi
git_ update-ref refs/heads/series "$parent"
info "series: $(git_ rev-list --count base..HEAD) commits on base ($(git_ rev-parse --short HEAD))"

#!/usr/bin/env bash
# Install what the harness needs (only what is missing) and verify the base.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
STEP=deps

PKGS=(build-essential bc flex bison libelf-dev libssl-dev dwarves cpio kmod
      ccache rsync python3 git busybox-static qemu-system-x86 seabios ipxe-qemu
      bochs bochsbios vgabios isolinux syslinux-common xorriso)
[ -n "$BASE_TREE" ] || [ "${BASE_TARBALL}" != /usr/src/linux-source-6.12.tar.xz ] ||
	PKGS+=("$BASE_PKG=$BASE_VERSION")

missing=()
for p in "${PKGS[@]}"; do
	name=${p%%=*}
	want=${p#*=}
	have=$(dpkg-query -W -f='${Status} ${Version}' "$name" 2>/dev/null || true)
	case "$have" in
	"install ok installed "*)
		[ "$want" = "$p" ] || [ "${have##* }" = "$want" ] || missing+=("$p") ;;
	*) missing+=("$p") ;;
	esac
done

if [ ${#missing[@]} -gt 0 ]; then
	step "installing ${missing[*]}"
	log=$BUILD/logs/apt.log
	mkdir -p "$(dirname "$log")"
	SUDO=
	[ "$(id -u)" = 0 ] || SUDO=sudo
	if ! { $SUDO apt-get update -q &&
	       DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
			"${missing[@]}"; } >"$log" 2>&1; then
		die "apt-get could not install: ${missing[*]}" "log: $log" \
			"if $BASE_PKG=$BASE_VERSION is no longer in the archive, pass" \
			"BASE_TARBALL=<path> BASE_SHA256=<sum> (or BASE_TREE=<dir>) instead"
	fi
fi

if [ -n "$BASE_TREE" ]; then
	[ -f "$BASE_TREE/Makefile" ] && [ -d "$BASE_TREE/virt/kvm" ] ||
		die "BASE_TREE=$BASE_TREE is not a kernel source tree"
	exit 0
fi
[ -r "$BASE_TARBALL" ] ||
	die "base tarball $BASE_TARBALL is missing" \
		"expected: $BASE_PKG version $BASE_VERSION (apt-get install $BASE_PKG=$BASE_VERSION)"
stamp=$BUILD/.base-verified
if [ "$BASE_SHA256" != any ] && ! { [ -f "$stamp" ] && [ "$stamp" -nt "$BASE_TARBALL" ] &&
				      [ "$(cat "$stamp")" = "$BASE_SHA256" ]; }; then
	step "verifying $BASE_TARBALL"
	found=$(sha256sum "$BASE_TARBALL" | cut -d' ' -f1)
	[ "$found" = "$BASE_SHA256" ] ||
		die "the base tarball is not the pinned one" \
			"expected sha256 $BASE_SHA256 ($BASE_PKG $BASE_VERSION)" \
			"found    sha256 $found" \
			"installed: $(dpkg-query -W -f='${Version}' $BASE_PKG 2>/dev/null || echo none)" \
			"to proceed: apt-get install $BASE_PKG=$BASE_VERSION, or accept this" \
			"tarball with BASE_SHA256=$found (or BASE_SHA256=any)"
	mkdir -p "$BUILD"
	echo "$found" >"$stamp"
fi

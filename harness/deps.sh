#!/usr/bin/env bash
# Install what the harness needs (only what is missing) and verify the base.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
STEP=deps

PKGS=(build-essential bc flex bison libelf-dev libssl-dev dwarves cpio kmod
      ccache rsync python3 git busybox-static qemu-system-x86 seabios ipxe-qemu
      bochs bochsbios vgabios isolinux syslinux-common xorriso
      gcc-powerpc64le-linux-gnu qemu-system-ppc)
[ -n "$BASE_TREE" ] || [ "${BASE_TARBALL}" != "/usr/src/$BASE_PKG.tar.xz" ] ||
	PKGS+=("$BASE_PKG=$BASE_VERSION")

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo

# A suite this machine's apt does not list (the mainline base comes from
# trixie-backports): add it from the mirror the machine already uses, with
# a pin priority of 1 so that nothing else is ever upgraded from it.
add_suite() {
	local suite=$1 why=$2 name=kvm-ncdma-$1 uri codename
	[ -f "/etc/apt/sources.list.d/$name.sources" ] && return 1
	codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
	uri=$(apt-get indextargets --format '$(REPO_URI) $(CODENAME) $(LABEL)' |
		awk -v c="$codename" '$2 == c && $3 == "Debian" { print $1; exit }')
	[ -n "$uri" ] || die "no Debian source for $codename in the apt configuration" \
		"(needed to add $suite for $why)"
	step "adding apt suite $suite from $uri (pin priority 1)"
	printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: %s\n' \
		"$uri" "$suite" /usr/share/keyrings/debian-archive-keyring.gpg |
		$SUDO tee "/etc/apt/sources.list.d/$name.sources" >/dev/null
	printf 'Package: *\nPin: release n=%s\nPin-Priority: 1\n' "$suite" |
		$SUDO tee "/etc/apt/preferences.d/$name" >/dev/null
}

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
	[ -z "$BASE_SUITE" ] || [ -n "$BASE_TREE" ] || add_suite "$BASE_SUITE" "$BASE_PKG" || true
	if ! { $SUDO apt-get update -q &&
	       DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
			"${missing[@]}"; } >"$log" 2>&1; then
		served=$(apt-cache policy "$BASE_PKG" 2>/dev/null | sed -n 's/^ *Candidate: //p')
		die "apt-get could not install: ${missing[*]}" "log: $log" \
			"the archive serves $BASE_PKG version: ${served:-none}, pinned: $BASE_VERSION" \
			"if $BASE_PKG=$BASE_VERSION is no longer in the archive, pass" \
			"BASE_TARBALL=<path> BASE_SHA256=<sum> (or BASE_TREE=<dir>) instead"
	fi
fi

# QEMU 10 for the client tests, unpacked into $QEMU10 (nothing installed).
fetch_qemu10() {
	local d p pkg ver sum deb found
	[ -x "$QEMU10/usr/bin/qemu-system-x86_64" ] && return
	step "fetching QEMU 10 (${QEMU10_DEBS[*]%%=*}) from ${QEMU10_DEBS_DIR:-$QEMU10_SUITE} into $QEMU10"
	d=$QEMU10.debs
	rm -rf "$d" "$QEMU10.tmp"
	mkdir -p "$d" "$QEMU10.tmp" "$BUILD/logs"
	chmod 777 "$d"	# apt-get download runs as _apt
	if [ -z "$QEMU10_DEBS_DIR" ] && add_suite "$QEMU10_SUITE" "QEMU 10"; then
		$SUDO apt-get update -q >"$BUILD/logs/apt-qemu10.log" 2>&1 ||
			die "apt-get update failed" "log: $BUILD/logs/apt-qemu10.log"
	fi
	for p in "${QEMU10_DEBS[@]}"; do
		pkg=${p%%=*} ver=${p#*=} sum=${p##*=}
		ver=${ver%=*}
		if [ -n "$QEMU10_DEBS_DIR" ]; then
			cp "$QEMU10_DEBS_DIR/${pkg}_"*.deb "$d/" ||
				die "QEMU10_DEBS_DIR=$QEMU10_DEBS_DIR has no $pkg package"
		else
			(cd "$d" && apt-get download -q "$pkg=$ver") >>"$BUILD/logs/apt-qemu10.log" 2>&1 ||
				die "apt-get could not download $pkg=$ver from $QEMU10_SUITE" \
					"log: $BUILD/logs/apt-qemu10.log" \
					"a backports suite keeps only its newest version: if $ver is gone," \
					"pass QEMU10_DEBS_DIR=<folder with the pinned .debs> (checked by sha256)"
		fi
		deb=$(ls "$d/${pkg}_"*.deb)
		found=$(sha256sum "$deb" | cut -d' ' -f1)
		[ "$found" = "$sum" ] ||
			die "$deb is not the pinned package" "expected sha256 $sum" "found    sha256 $found"
		dpkg-deb -x "$deb" "$QEMU10.tmp"
	done
	"$QEMU10.tmp/usr/bin/qemu-system-x86_64" --version >/dev/null ||
		die "QEMU 10 does not run on this machine (ldd $QEMU10/usr/bin/qemu-system-x86_64)"
	mv "$QEMU10.tmp" "$QEMU10"
	rm -rf "$d"
}
fetch_qemu10

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

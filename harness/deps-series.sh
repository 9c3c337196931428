#!/usr/bin/env bash
# Install what "make series" and "make series-check" need beyond harness/deps.sh
# (only what is missing): sparse, Sphinx for the documentation build, and
# Debian's cross compilers for the other architectures that build the bridge;
# python3-ply and python3-git for checkpatch's SPDX check (scripts/spdxcheck.py).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
STEP=deps-series

PKGS=(git perl python3 python3-ply python3-git sparse
      python3-sphinx python3-sphinx-rtd-theme python3-yaml
      gcc-aarch64-linux-gnu gcc-powerpc64le-linux-gnu gcc-s390x-linux-gnu
      gcc-riscv64-linux-gnu)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -gt 0 ] || exit 0

step "installing ${missing[*]}"
log=$LOGS/apt-series.log
mkdir -p "$LOGS"
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
if ! { $SUDO apt-get update -q &&
       DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
		"${missing[@]}"; } >"$log" 2>&1; then
	die "apt-get could not install: ${missing[*]}" "log: $log"
fi

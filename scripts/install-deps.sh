#!/bin/bash
# Installs the Debian packages the build and tests need. Idempotent and quick
# when everything is present: apt runs only for what is missing.
# Usage: install-deps.sh [base|cross|musl|autotools]...
set -eu

base="build-essential cmake ninja-build pkg-config python3 python3-venv python3-dev
      libsodium-dev librust-blake3-dev valgrind clang llvm libclang-rt-14-dev
      libngtcp2-dev libngtcp2-crypto-gnutls-dev libgnutls28-dev spin
      dpkg-dev lintian systemd busybox man-db groff-base"
cross="gcc-aarch64-linux-gnu qemu-user libsodium-dev:arm64
       libngtcp2-dev:arm64 libngtcp2-crypto-gnutls-dev:arm64 libgnutls28-dev:arm64
       gcc-arm-linux-gnueabihf libsodium-dev:armhf
       libngtcp2-dev:armhf libngtcp2-crypto-gnutls-dev:armhf libgnutls28-dev:armhf"
# The musl targets' libsodium from Debian's source package (build-libsodium-musl.sh);
# autotools only for a source without configure.
musl="dpkg-dev make file qemu-user"
autotools="autoconf automake libtool"

want=""
for group in "${@:-base}"; do
	case "$group" in
	base) want="$want $base" ;;
	cross) want="$want $cross" ;;
	musl) want="$want $musl" ;;
	autotools) want="$want $autotools" ;;
	*) echo "install-deps.sh: unknown group $group" >&2; exit 2 ;;
	esac
done

missing=""
for pkg in $want; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
for arch in arm64 armhf; do
	case "$missing" in
	*:$arch*) dpkg --print-foreign-architectures | grep -qx $arch || $SUDO dpkg --add-architecture $arch ;;
	esac
done
echo "install-deps.sh: installing$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing

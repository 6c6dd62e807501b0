#!/bin/bash
# ngtcp2 1.x, the version Raspberry Pi OS (Debian 13 "trixie") and OpenWrt
# ship, for the second QUIC build (make ngtcp2-1): Debian's bookworm-backports
# packages, unpacked into PREFIX inside the build tree. The system's ngtcp2
# 0.12 stays as it is (add-backports.sh: nothing installs from the suite
# unasked).
# Usage: fetch-ngtcp2-1.sh PREFIX    (then PKG_CONFIG_PATH=PREFIX/pkgconfig)
set -eu
PREFIX=$1
[ -f "$PREFIX/.ready" ] && exit 0

"$(dirname "$0")/add-backports.sh"

# The -dev packages and the libraries they depend on (whatever their sonames are).
dev="libngtcp2-dev libngtcp2-crypto-gnutls-dev"
libs=$(apt-cache depends $(printf '%s/bookworm-backports ' $dev) 2>/dev/null |
	awk '$1 == "Depends:" && $2 ~ /^libngtcp2/ { print $2 }' | sort -u)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root $(printf '%s/bookworm-backports ' $dev $libs))
rm -rf "$PREFIX"
mkdir -p "$PREFIX/pkgconfig"
for deb in "$tmp"/*.deb; do
	dpkg -x "$deb" "$PREFIX/root"
done
for pc in "$PREFIX"/root/usr/lib/*/pkgconfig/*.pc; do
	sed "s|^prefix=.*|prefix=$PREFIX/root/usr|" "$pc" > "$PREFIX/pkgconfig/$(basename "$pc")"
done
version=$(PKG_CONFIG_PATH="$PREFIX/pkgconfig" pkg-config --modversion libngtcp2)
case "$version" in
1.*) ;;
*) echo "fetch-ngtcp2-1.sh: bookworm-backports gave ngtcp2 $version, not 1.x" >&2; exit 1 ;;
esac
touch "$PREFIX/.ready"
echo "fetch-ngtcp2-1.sh: ngtcp2 $version in $PREFIX"

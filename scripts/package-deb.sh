#!/bin/bash
# Builds the Debian package of the gateway daemon (l2sessd, l2sessctl, the
# systemd unit, the default node.toml, man pages) for one architecture
# from a CMake build folder that holds firmware/l2sessd.
# Usage: package-deb.sh ARCH BUILD_DIR OUT_DIR   (ARCH: amd64, arm64, armhf)
set -euo pipefail
arch=$1 build=$(cd "$2" && pwd) out=$(mkdir -p "$3" && cd "$3" && pwd)
here=$(cd "$(dirname "$0")/.." && pwd)
version=$(sed -n 's/^#define L2S_VERSION "\(.*\)"/\1/p' "$here/csrc/include/l2s.h")-1
case "$arch" in
amd64) strip=strip triplet=x86_64-linux-gnu ;;
arm64) strip=aarch64-linux-gnu-strip triplet=aarch64-linux-gnu ;;
armhf) strip=arm-linux-gnueabihf-strip triplet=arm-linux-gnueabihf ;;
*) echo "package-deb.sh: unknown architecture $arch" >&2; exit 2 ;;
esac
fw=$here/firmware
root=$out/l2sessd_${version}_$arch
rm -rf "$root"
mkdir -p "$root/DEBIAN" "$root/usr/sbin" "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/l2sess" \
	"$root/usr/share/man/man8" "$root/usr/share/man/man1" "$root/usr/share/doc/l2sessd"
install -m 0755 "$build/firmware/l2sessd" "$root/usr/sbin/l2sessd"
install -m 0755 "$build/firmware/l2sessctl" "$root/usr/bin/l2sessctl"
"$strip" --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/sbin/l2sessd" \
	"$root/usr/bin/l2sessctl"
install -m 0644 "$fw/debian/l2sessd.service" "$root/lib/systemd/system/l2sessd.service"
install -m 0644 "$fw/debian/node.toml" "$root/etc/l2sess/node.toml"
gzip -9n < "$fw/man/l2sessd.8" > "$root/usr/share/man/man8/l2sessd.8.gz"
gzip -9n < "$fw/man/l2sessctl.1" > "$root/usr/share/man/man1/l2sessctl.1.gz"
install -m 0644 "$fw/debian/copyright" "$root/usr/share/doc/l2sessd/copyright"
mkdir -p "$root/usr/share/lintian/overrides"
install -m 0644 "$fw/debian/lintian-overrides" "$root/usr/share/lintian/overrides/l2sessd"
gzip -9n < "$fw/debian/changelog" > "$root/usr/share/doc/l2sessd/changelog.Debian.gz"
gzip -9n < "$here/docs/NODE.md" > "$root/usr/share/doc/l2sessd/NODE.md.gz"
chmod 0644 "$root"/usr/share/man/*/*.gz "$root"/usr/share/doc/l2sessd/*.gz
for s in postinst prerm postrm; do install -m 0755 "$fw/debian/$s" "$root/DEBIAN/$s"; done
echo /etc/l2sess/node.toml > "$root/DEBIAN/conffiles"

# Depends: what the binaries link, as dpkg-shlibdeps reads it for the architecture.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debian"
printf 'Source: l2sess\n\nPackage: l2sessd\nArchitecture: any\n' > "$work/debian/control"
depends=$(cd "$work" && DEB_HOST_ARCH=$arch DEB_HOST_MULTIARCH=$triplet dpkg-shlibdeps -O \
	-l"/usr/lib/$triplet" -l"/lib/$triplet" "$root/usr/sbin/l2sessd" "$root/usr/bin/l2sessctl" 2>/dev/null |
	sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "package-deb.sh: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: l2sessd
Version: $version
Architecture: $arch
Maintainer: l2sess developers <l2sess@example.org>
Installed-Size: $size
Depends: $depends
Section: net
Priority: optional
Description: post-quantum session layer for edge gateways (daemon)
 l2sessd keeps mutually authenticated sessions between gateways that know
 each other's DID: a hybrid X25519 + ML-KEM-768 handshake, QUIC with a
 TCP fallback, key rotation, and resumption after a restart without a new
 handshake; every delivered message is on the disk before it is
 acknowledged. l2sessctl drives it through its control socket.
CONTROL
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print0 | sort -z | xargs -0 md5sum |
	sed 's| \./| |' > DEBIAN/md5sums)
dpkg-deb --root-owner-group -Zxz --build "$root" "$out/l2sessd_${version}_$arch.deb" >/dev/null
echo "$out/l2sessd_${version}_$arch.deb"

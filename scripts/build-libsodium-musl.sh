#!/bin/bash
# libsodium for a static musl target (make cross: aarch64-linux-musl,
# mipsel-linux-musl), built with zig's C compiler (toolchains/zig/) from
# Debian's own source package, the same version and patches as the
# system's libsodium-dev: `apt-get source` is the only download. Installed
# into PREFIX (lib/libsodium.a, include/, lib/pkgconfig/libsodium.pc, which
# toolchains/zig-musl.cmake points pkg-config at).
#
# Trust: apt checks the suite's InRelease signature against Debian's archive
# keyring and every file it fetches (the .dsc, the upstream tarball, the
# Debian tarball) against the hashes that signed index lists; a file that
# does not match is refused. That is the check; dpkg-source only unpacks.
#
# Not --enable-minimal: a static link takes only the objects the program
# calls, so it would save nothing, and the full library keeps every call
# the project makes (crypto_aead_chacha20poly1305_ietf_*, crypto_sign_ed25519_*,
# crypto_scalarmult_curve25519*, randombytes_buf, sodium_*) beyond doubt.
#
# Cached: nothing is done when PREFIX already holds the library built from
# the same source version for the same target.
# Usage: build-libsodium-musl.sh TARGET PREFIX   (TARGET: aarch64-linux-musl | mipsel-linux-musl)
set -eu
TARGET=$1
PREFIX=$(realpath -m "$2")
here=$(cd "$(dirname "$0")" && pwd)
CC="$here/../toolchains/zig/$TARGET-cc"
[ -x "$CC" ] || { echo "build-libsodium-musl.sh: no compiler wrapper $CC" >&2; exit 2; }

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo

# A deb-src entry for bookworm, made from the deb entries apt already has
# (the same mirrors, suites and keyring), when no source index is set up.
if ! apt-cache showsrc libsodium 2>/dev/null | grep -q '^Package: libsodium$'; then
	echo "build-libsodium-musl.sh: adding deb-src entries for bookworm"
	apt-cache policy | awk '$3 ~ /^bookworm(-updates|-security)?\/main$/ { split($3, s, "/"); print $2, s[1] }' |
		sort -u | while read -r uri suite; do
			printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n' \
				"$uri" "$suite"
		done | $SUDO tee /etc/apt/sources.list.d/bookworm-src.sources >/dev/null
	$SUDO apt-get update -qq
fi
version=$(apt-cache showsrc libsodium | awk '$1 == "Version:" { print $2 }' | sort -V | tail -n 1)
[ -n "$version" ] || { echo "build-libsodium-musl.sh: apt knows no libsodium source" >&2; exit 1; }
stamp="libsodium $version $TARGET"
if [ -f "$PREFIX/lib/libsodium.a" ] && [ "$(cat "$PREFIX/.built" 2>/dev/null)" = "$stamp" ]; then
	exit 0
fi

"$here/install-deps.sh" musl
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get source -qq -o APT::Sandbox::User=root "libsodium=$version" >/dev/null)
src=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d -name 'libsodium-*')
log="$tmp/build.log"
cd "$src"
if [ ! -x configure ]; then # Debian's tarball is upstream's git tree: no configure
	"$here/install-deps.sh" autotools
	autoreconf -fi >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
fi
# PIC: the static library also goes into the shared libl2s.
echo "build-libsodium-musl.sh: building $stamp (a few minutes)"
if ! { ./configure --host="$TARGET" --prefix="$PREFIX" --disable-shared --enable-static --with-pic \
	CC="$CC" AR="$here/../toolchains/zig/$TARGET-ar" RANLIB="$here/../toolchains/zig/$TARGET-ranlib" \
	CFLAGS="-O2" && make -j "${JOBS:-2}" && rm -rf "$PREFIX" && make install; } >>"$log" 2>&1; then
	tail -n 40 "$log" >&2
	exit 1
fi
echo "$stamp" > "$PREFIX/.built"
echo "build-libsodium-musl.sh: $stamp in $PREFIX"

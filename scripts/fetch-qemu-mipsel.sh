#!/bin/bash
# qemu-mipsel from Debian's bookworm-backports qemu-user (10.x), unpacked
# into PREFIX inside the build tree, to run the mipsel musl tests (make
# cross). bookworm's qemu-user 7.2 hands a socket's SO_ERROR to the program
# as the host's number (ECONNREFUSED 111) where MIPS has its own (146): the
# μTCP test then sees a wrong errno that a real MIPS kernel never gives.
# 10.x translates it. The system's qemu-user stays as it is; this one is a
# static binary and needs nothing else.
# Usage: fetch-qemu-mipsel.sh PREFIX    (then PREFIX/qemu-mipsel)
set -eu
PREFIX=$1
[ -x "$PREFIX/qemu-mipsel" ] && exit 0

"$(dirname "$0")/add-backports.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root qemu-user/bookworm-backports)
dpkg -x "$tmp"/qemu-user_*.deb "$tmp/root"
mkdir -p "$PREFIX"
cp "$tmp/root/usr/bin/qemu-mipsel" "$PREFIX/qemu-mipsel.new"
mv "$PREFIX/qemu-mipsel.new" "$PREFIX/qemu-mipsel"
echo "fetch-qemu-mipsel.sh: $("$PREFIX/qemu-mipsel" --version | head -n 1) in $PREFIX"

#!/bin/bash
# Adds Debian's bookworm-backports suite to apt when it is not there yet, for
# the scripts that take a newer package from it into the build tree
# (fetch-ngtcp2-1.sh, fetch-qemu-mipsel.sh). Debian pins backports low, so
# adding the suite makes nothing install from it unasked.
set -eu
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
apt-cache policy | grep -q ' bookworm-backports/main ' && exit 0
echo "add-backports.sh: adding the bookworm-backports suite"
$SUDO tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
$SUDO apt-get update -qq

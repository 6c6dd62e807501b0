#!/bin/bash
# A minimal liboqs for the liboqs provider's checks (make liboqs-test) and
# bench column (make bench): ML-KEM-768 only, static, no OpenSSL, from the
# source tarball in ../shared/deps (not part of the project: CI has it, a
# checkout may not). Built Release (liboqs's SIMD code where the compiler
# targets it) with OQS_ENABLE_TEST_CONSTANT_TIME, which only makes liboqs
# mark the values it derives from public inputs (the matrix seed rho, ek)
# as defined for valgrind: a few no-op instructions outside valgrind.
# Reused while the tarball is the same one.
# Usage: build-liboqs.sh TARBALL DIR    (installs into DIR/prefix)
set -eu
TARBALL=$1
DIR=$(realpath -m "$2")
JOBS=${JOBS:-2}
name=$(basename "$TARBALL" .tar.xz)
if [ "$(cat "$DIR/.ready" 2>/dev/null)" = "$name" ]; then
	exit 0
fi
rm -rf "$DIR"
mkdir -p "$DIR"
tar -xJf "$TARBALL" -C "$DIR"
cmake -G Ninja -S "$DIR/$name" -B "$DIR/build" -DCMAKE_BUILD_TYPE=Release \
	-DCMAKE_INSTALL_PREFIX="$DIR/prefix" -DCMAKE_INSTALL_LIBDIR=lib \
	-DOQS_MINIMAL_BUILD=KEM_ml_kem_768 -DOQS_USE_OPENSSL=OFF -DBUILD_SHARED_LIBS=OFF \
	-DOQS_BUILD_ONLY_LIB=ON -DOQS_ENABLE_TEST_CONSTANT_TIME=ON >"$DIR/configure.log"
cmake --build "$DIR/build" -j "$JOBS" --target install >"$DIR/build.log"
rm -rf "${DIR:?}/$name" # the sources: the build keeps what it needs
echo "$name" >"$DIR/.ready"
echo "build-liboqs.sh: $name in $DIR/prefix"

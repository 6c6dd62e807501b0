#!/bin/bash
# The receive-path walk (scripts/walk/walk.py) of a source tree: builds its
# test_loop with -finstrument-functions and no inlining, runs it, and prints
# per kind of message the files a received message enters from the loop's
# on_message on. usage: scripts/walk/run.sh [TREE [BUILD_DIR]]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TREE=$(cd "${1:-$HERE/../..}" && pwd)
OUT=$(mkdir -p "${2:-$TREE/build/walk}" && cd "${2:-$TREE/build/walk}" && pwd)
cc -O2 -fPIC -c "$HERE/hooks.c" -o "$OUT/hooks.o"
# The crypto's inner loops (ML-KEM, SHA-3, BLAKE3) are left out: millions of calls, one file each.
cmake -S "$TREE" -B "$OUT/build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	-DCMAKE_C_FLAGS="-O0 -fno-inline -finstrument-functions -finstrument-functions-exclude-file-list=mlkem,fips202,blake3" \
	-DCMAKE_EXE_LINKER_FLAGS="$OUT/hooks.o -ldl -lpthread" >/dev/null
cmake --build "$OUT/build" --target test_loop -j "${JOBS:-2}" >/dev/null
start=$(nm "$OUT/build/test_loop" | awk '$3 == "on_message" { print $1 }')
(cd "$OUT/build" && WALK_START=$start WALK_OUT="$OUT/records" ./test_loop >/dev/null 2>&1) || echo "(test_loop failed under instrumentation; the walks it recorded are still read)"
python3 "$HERE/walk.py" "$OUT/build/test_loop" "$OUT/records"

#!/bin/bash
# The long simulator run (`make sim-long`): SEEDS seeds from FIRST in chunks
# of CHUNK, JOBS chunks at a time, each at low priority. Resumable: a chunk
# already recorded in $OUT/chunks.txt for the same sim binary is skipped, so
# a run cut off (a session's end) goes on where it stopped. Each chunk's
# result line is "first count failed slowest_ms bound_ms slowest_seed sha";
# failing seeds go to $OUT/failed.txt, each with its reproduction.
# Usage: sim-long.sh SIM_BINARY   (SEEDS, FIRST, CHUNK, JOBS, OUT from env)
set -u
SIM=$1
SEEDS=${SEEDS:-1000000}
FIRST=${FIRST:-1}
CHUNK=${CHUNK:-10000}
JOBS=${JOBS:-2}
OUT=${OUT:-build/sim-long}
mkdir -p "$OUT"
touch "$OUT/chunks.txt" "$OUT/failed.txt"
SHA=$(sha256sum "$SIM" | cut -c1-12)
# A copy, so that a rebuild during the run changes nothing under it.
[ "$SIM" -ef "$OUT/sim-$SHA" ] || cp "$SIM" "$OUT/sim-$SHA"
SIM=$OUT/sim-$SHA

chunk() {
	local first=$1 n=$2 log
	log=$(mktemp)
	nice -n 19 "$SIM" -n "$n" -s "$first" >"$log"
	grep "FAILED" "$log" >>"$OUT/failed.txt"
	awk -v f="$first" -v n="$n" -v sha="$SHA" '
		/ seeds from / { failed = $8 }
		/slowest re-establishment/ { ms = $7; bound = $11; seed = $15; sub(/\)/, "", seed) }
		END { print f, n, failed, ms, bound, seed, sha }' "$log" >>"$OUT/chunks.txt"
	rm -f "$log"
}

for ((f = FIRST; f < FIRST + SEEDS; f += CHUNK)); do
	n=$((FIRST + SEEDS - f < CHUNK ? FIRST + SEEDS - f : CHUNK))
	if grep -q "^$f $n [0-9]* .* $SHA\$" "$OUT/chunks.txt"; then
		continue
	fi
	while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do
		wait -n
	done
	chunk "$f" "$n" &
done
wait
awk -v sha="$SHA" '$7 == sha { n += $2; failed += $3; if ($4 > ms) { ms = $4; bound = $5; seed = $6 } }
	END { printf "sim-long: %d seeds, %d failed; slowest re-establishment %d ms of a %d ms bound (seed %d)\n", n, failed, ms, bound, seed }' \
	"$OUT/chunks.txt"

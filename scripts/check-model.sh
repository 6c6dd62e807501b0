#!/bin/bash
# Checks model/recovery.pml with SPIN (model/README.md): in each fault
# configuration, the safety run (assertions, invalid end states, coverage)
# and every LTL property, each an exhaustive search. Fails when a search
# finds an error, does not complete (depth or memory), or when a coverage
# point of the model is reached in no configuration.
#
# Usage: check-model.sh            the design (`make model`)
#        check-model.sh --flaws    reproduce the documented flaws: each
#                                  variant must FAIL its property; the
#                                  counterexamples go to $OUT/flaws/*.trail.txt
# Environment: MODEL_OUT (default build/model), MODEL_MEM_KB (default 4000000).
set -u
cd "$(dirname "$0")/.."
MODEL=$PWD/model/recovery.pml
OUT=${MODEL_OUT:-$PWD/build/model}
MEM_KB=${MODEL_MEM_KB:-4000000}
CC_FLAGS="-O2 -w -DCOLLAPSE"
PROPS="recover stable deliver"
NICE="nice -n 10"

# name | -D flags
CONFIGS=(
	"msg3|-DFAULTS=3 -DCRASHES=0 -DROTS=1"
	"crash1|-DFAULTS=1 -DCRASHES=1 -DROTS=1"
	"rot2|-DFAULTS=2 -DCRASHES=0 -DROTS=2"
)
# name | -D flags | what must fail (safety or an LTL property)
FLAWS=(
	"hs_collision|-DFAULTS=2 -DCRASHES=0 -DFLAW_HS_COLLISION|stable"
	"prev_keys|-DFAULTS=3 -DCRASHES=0 -DFLAW_PREV_KEYS|safety"
	"strict_once|-DFAULTS=2 -DCRASHES=0 -DSTRICT_ONCE|safety"
	"rotate_yield|-DFAULTS=3 -DCRASHES=0 -DROTS=2 -DFLAW_ROTATE_YIELD|safety"
)

command -v spin >/dev/null || { echo "check-model: spin is not installed (make deps)" >&2; exit 2; }

# run <dir> <label> <pan args...>: one search; prints a summary line, returns
# 0 when it completed without error, 1 on an error, 2 when incomplete.
run() {
	local dir=$1 label=$2 exe=$3
	shift 3
	local log=$dir/$label.out
	(ulimit -v "$MEM_KB"; cd "$dir" && $NICE "./$exe" "$@") >"$log" 2>&1
	local errors stored matched depth secs mem
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$log" | tail -1)
	stored=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$log" | tail -1)
	matched=$(sed -n 's/^ *\([0-9.e+]*\) states, matched.*/\1/p' "$log" | tail -1)
	depth=$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' "$log" | tail -1)
	secs=$(sed -n 's/^pan: elapsed time \([0-9.e+]*\) seconds.*/\1/p' "$log" | tail -1)
	mem=$(sed -n 's/^ *\([0-9.]*\).total actual memory usage.*/\1/p' "$log" | tail -1)
	printf '%-13s %-8s errors %-2s stored %-9s matched %-9s depth %-4s %5s s %6s MB\n' \
		"$(basename "$dir")" "$label" "${errors:-?}" "${stored:-?}" "${matched:-?}" "${depth:-?}" "${secs:-?}" "${mem:-?}"
	if [ "${errors:-1}" != 0 ]; then
		echo "  error found, see $log"
		return 1
	fi
	if grep -qE "out of memory|Search not completed|max search depth too small" "$log"; then
		echo "  incomplete search, see $log"
		return 2
	fi
	return 0
}

# build <dir> <defines>: pan_safety (with coverage) and pan_ltl
build() {
	local dir=$1 defs=$2
	mkdir -p "$dir"
	cp "$MODEL" "$dir/recovery.pml"
	(cd "$dir" && $NICE spin -a -DCOVERAGE $defs recovery.pml >spin_safety.log 2>&1 &&
		$NICE gcc $CC_FLAGS -DSAFETY -DNOCLAIM -o pan_safety pan.c &&
		$NICE spin -a $defs recovery.pml >spin_ltl.log 2>&1 &&
		$NICE gcc $CC_FLAGS -DNFAIR=3 -o pan_ltl pan.c) || { echo "check-model: build failed in $dir" >&2; exit 2; }
}

# Replays the trail of a failed search as the model's own printfs.
explain() {
	local dir=$1 defs=$2 out=$3
	(cd "$dir" && spin -t $defs recovery.pml 2>&1 |
		grep -vE "^ltl |never claim|only one claim|choose which|or use e.g|^Never claim|^\s*$" |
		sed '/^#processes/,$d') >"$out"
}

if [ "${1:-}" = "--flaws" ]; then
	fail=0
	for entry in "${FLAWS[@]}"; do
		IFS='|' read -r name defs what <<<"$entry"
		dir=$OUT/flaws/$name
		build "$dir" "$defs"
		if [ "$what" = safety ]; then
			# the same model without coverage printing, so that spin -t replays it
			(cd "$dir" && $NICE spin -a $defs recovery.pml >/dev/null && $NICE gcc $CC_FLAGS -DSAFETY -DNOCLAIM -o pan_safety pan.c)
			run "$dir" safety pan_safety -m1000000 -c1
		else
			run "$dir" "$what" pan_ltl -a -f -m1000000 -N "$what"
		fi
		rc=$?
		if [ $rc = 1 ]; then
			explain "$dir" "$defs" "$OUT/flaws/$name.trail.txt"
			echo "  flaw reproduced: $OUT/flaws/$name.trail.txt"
		else
			echo "  flaw $name NOT reproduced"
			fail=1
		fi
	done
	exit $fail
fi

fail=0
reached=""
for entry in "${CONFIGS[@]}"; do
	IFS='|' read -r name defs <<<"$entry"
	dir=$OUT/$name
	build "$dir" "$defs"
	run "$dir" safety pan_safety -m1000000 || fail=1
	reached="$reached $(sed -n 's/^REACHED \([0-9]*\)$/\1/p' "$dir/safety.out")"
	for prop in $PROPS; do
		run "$dir" "$prop" pan_ltl -a -m1000000 -N "$prop" || fail=1
	done
done

points=$(sed -n 's/^#define COVER_POINTS \([0-9]*\).*/\1/p' "$MODEL")
missing=""
for n in $(seq 1 "$points"); do
	echo "$reached" | tr ' ' '\n' | grep -qx "$n" || missing="$missing $n"
done
if [ -n "$missing" ]; then
	echo "check-model: coverage points never reached:$missing (see REACHED(n) in $MODEL)"
	fail=1
else
	echo "check-model: all $points coverage points reached"
fi
[ $fail = 0 ] && echo "check-model: no errors" || echo "check-model: FAILED (logs in $OUT)"
exit $fail

#!/usr/bin/env bash
# make bench: whole-process benchmarks of the tracking store at scale.
# Fixtures (100,000 runs with 20 params and 10 metrics; 10,000 finished runs
# with 10 metrics x 100 steps) are built once with git fast-import and
# cached in $MLGIT_BENCH_DIR (default /tmp/mlgit-bench). Figures go to
# stdout; docs/PERFORMANCE.md records them with this exact command.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MLGIT=${MLGIT:-$ROOT/bin/mlgit}
BENCH=${MLGIT_BENCH_DIR:-/tmp/mlgit-bench}
N=${MLGIT_BENCH_RUNS:-100000}
export MLGIT_NO_AUTO_GC=1
mkdir -p "$BENCH/bin"
go build -o "$BENCH/bin/mkfixture" "$ROOT/internal/benchfix/mkfixture"
go build -o "$BENCH/bin/timeit" "$ROOT/internal/benchfix/timeit"
T="$BENCH/bin/timeit"

fx="$BENCH/runs-$N"
if [ ! -f "$fx/.ready" ]; then
  echo "building fixture: $N runs (once; a few minutes)" >&2
  rm -rf "$fx"
  "$BENCH/bin/mkfixture" "$fx" "$N" >/dev/null
  touch "$fx/.ready"
fi
ID=$("$BENCH/bin/mkfixture" -id "$N")
cd "$fx"
echo "== tracking store, $N runs (20 params, 10 metrics each), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
"$T" -n 31 -label "mlgit run log --metric loss=0.31@7" -- "$MLGIT" run log --run "$ID" --metric loss=0.31@7
"$MLGIT" run flush >/dev/null 2>&1 || true
"$T" -n 31 -label "mlgit run show ID" -- "$MLGIT" run show "$ID"
"$MLGIT" run list --max 1 >/dev/null   # warm the index cache for this tip
"$T" -n 11 -label "mlgit run list --filter 'metrics.acc > 0.9' --order-by 'metrics.acc DESC' --max 50 (warm)" -- \
  "$MLGIT" run list --filter 'metrics.acc > 0.9' --order-by 'metrics.acc DESC' --max 50
# Cold: the first list after a clone, so in a fresh clone (one pack, as
# git clone makes it; the fixture itself collects loose objects from the
# writes above).
fresh=$(mktemp -d "$BENCH/fresh.XXXXXX")
git clone -q --no-local --no-checkout "$fx" "$fresh"
git -C "$fresh" branch -q mlgit origin/mlgit
"$T" -n 5 -warmup 0 -label "  same, cold in a fresh clone (no index cache: first run after clone)" -- \
  sh -c "cd '$fresh' && rm -rf .git/mlgit/index && exec \"$MLGIT\" run list --filter 'metrics.acc > 0.9' --order-by 'metrics.acc DESC' --max 50"
rm -rf "$fresh"

gx="$BENCH/growth-10000"
if [ ! -f "$gx/.ready" ]; then
  rm -rf "$gx"
  "$BENCH/bin/mkfixture" "$gx" 10000 20 10 100 >/dev/null
  git -C "$gx" gc -q
  touch "$gx/.ready"
fi
echo "== repository growth: 10,000 finished runs (20 params, 10 metrics x 100 steps), after git gc"
git -C "$gx" count-objects -vH | grep -E "size-pack|in-pack"

echo "== mlgit diff of two runs with 1,000 params and 100 metrics each (whole process)"
dx="$BENCH/diff-1000"
if [ ! -f "$dx/.ready" ]; then
  rm -rf "$dx" && mkdir -p "$dx" && git -C "$dx" init -q
  "$MLGIT" -C "$dx" init >/dev/null
  for r in a b; do
    id=$("$MLGIT" -C "$dx" run start --name "$r")
    awk -v r="$r" 'BEGIN { for (i = 0; i < 1000; i++) printf "--param\np%04d=%d\n", i, (r == "a" ? i : i + (i % 3)) }' > "$dx/params.$r"
    xargs -a "$dx/params.$r" "$MLGIT" -C "$dx" run log --run "$id" >/dev/null
    awk 'BEGIN { for (i = 0; i < 100; i++) printf "m%03d=%f@1\n", i, rand() }' | "$MLGIT" -C "$dx" run log --run "$id" --metrics-from - >/dev/null
    "$MLGIT" -C "$dx" run end --run "$id"
    echo "$id" > "$dx/id.$r"
  done
  touch "$dx/.ready"
fi
"$T" -n 21 -label "mlgit diff A B (1,000 params, 100 metrics)" -- "$MLGIT" -C "$dx" diff "$(cat "$dx/id.a")" "$(cat "$dx/id.b")"

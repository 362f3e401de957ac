#!/usr/bin/env bash
# Long metric histories (make bench-history): one run logs POINTS points of
# one key through `mlgit run log --metrics-from -` (a training curve,
# float32 values), once with the history kept in Git (no blob remote) and
# once with it in the blob store (blobs.remote set, so metrics.spillAbove
# defaults to 100,000 points: the first 100,000 stay in Git), and once
# with all of it in the blob store (metrics.spillAbove 1000); for each: logging rate (durable in the
# journal when the command returns), the checkpoint that commits it (run
# end), what the history costs in Git after git gc and in the blob cache,
# and `mlgit run metrics` of the key (whole process, output discarded).
#
#   MLGIT=bin/mlgit scripts/bench-history.sh
#   MLGIT_BENCH_POINTS=100000 scripts/bench-history.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MLGIT=${MLGIT:-$ROOT/bin/mlgit}
BENCH=${MLGIT_BENCH_DIR:-/var/tmp/mlgit-bench}
N=${MLGIT_BENCH_POINTS:-1000000}
export MLGIT_NO_AUTO_GC=1
mkdir -p "$BENCH/bin"
go build -o "$BENCH/bin/timeit" "$ROOT/internal/benchfix/timeit"
T="$BENCH/bin/timeit"

pts="$BENCH/history-$N.txt"
if [ ! -f "$pts" ]; then
  awk -v n="$N" 'BEGIN { srand(1); for (s = 0; s < n; s++) printf "loss=%.7g@%d\n", 0.05 + 2 * exp(-s / (n / 20)) + 0.02 * (rand() - 0.5), s }' >"$pts.tmp"
  mv "$pts.tmp" "$pts"
fi
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
work=$(mktemp -d "$BENCH/history.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "== one run, $N points of one key, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
for mode in git blobs allblobs; do
  d="$work/$mode"
  mkdir -p "$d" && git -C "$d" init -q && "$MLGIT" -C "$d" init >/dev/null
  if [ "$mode" != git ]; then
    mkdir -p "$work/remote"
    "$MLGIT" -C "$d" config set blobs.remote "$work/remote" >/dev/null
  fi
  if [ "$mode" = allblobs ]; then
    "$MLGIT" -C "$d" config set metrics.spillAbove 1000 >/dev/null
  fi
  id=$("$MLGIT" -C "$d" run start)
  t0=$(now)
  "$MLGIT" -C "$d" run log --run "$id" --metrics-from - <"$pts" >/dev/null
  t1=$(now)
  "$MLGIT" -C "$d" run end --run "$id" >/dev/null
  t2=$(now)
  git -C "$d" gc -q
  git_kib=$(git -C "$d" count-objects -v | awk '/^size-pack:/ { print $2 }')
  cache_kib=$( (du -sk "$d/.git/mlgit/blobs" 2>/dev/null || echo 0) | cut -f1)
  printf '  %-6s run log --metrics-from -  %s s (%.0f points/s)   run end (checkpoint) %s s   Git after gc %s KiB   blob cache %s KiB\n' \
    "$mode" "$(secs "$t0" "$t1")" "$(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN { print n / (b - a) }')" "$(secs "$t1" "$t2")" "$git_kib" "${cache_kib:-0}"
  "$T" -n 11 -label "  $mode   mlgit run metrics ID loss >/dev/null" -- "$MLGIT" -C "$d" run metrics "$id" loss
  "$T" -n 11 -label "  $mode   mlgit run metrics ID loss --json >/dev/null" -- "$MLGIT" -C "$d" run metrics "$id" loss --json
done

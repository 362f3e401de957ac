#!/usr/bin/env bash
# Partial clones (make bench-sync runs it after bench-sync.sh): a remote of
# RUNS runs x KEYS metrics x STEPS steps (the benchfix fixture, built once),
# cloned over file:// (git's real upload-pack) in full, with
# --filter=blob:none and with --filter=tree:0; then, in each partial clone,
# the first mlgit run list (the run index fetches the run manifests), a
# second one (the index cache: nothing fetched), and one run's history
# (mlgit run metrics: its segments). Each figure is the median of ROUNDS
# fresh clones; bytes are the growth of .git/objects, fetches the packs
# fetched into it, plus what the blob cache got (history blobs).
#
# With MLGIT_BENCH_SEGMENT (bytes) the histories are training curves cut
# into segments of that size, as checkpoints leave them; with
# MLGIT_BENCH_SPILL (points) too, the segments past that many points of a
# run's history are kept in a blob store beside the remote, as mlgit does
# past metrics.spillAbove (the blob store's size is printed with the
# remote's), and run metrics fetches them from it.
#
#   MLGIT=bin/mlgit scripts/bench-partial.sh
#   MLGIT_BENCH_PARTIAL="1000 10 10000" scripts/bench-partial.sh   # RUNS KEYS STEPS
#   MLGIT_BENCH_PARTIAL="1000 10 10000" MLGIT_BENCH_SEGMENT=65536 MLGIT_BENCH_SPILL=10000 scripts/bench-partial.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MLGIT=${MLGIT:-$ROOT/bin/mlgit}
BENCH=${MLGIT_BENCH_DIR:-/var/tmp/mlgit-bench}
read -r RUNS KEYS STEPS <<<"${MLGIT_BENCH_PARTIAL:-1000 10 1000}"
ROUNDS=${MLGIT_BENCH_ROUNDS:-3}
export MLGIT_NO_AUTO_GC=1 GIT_TERMINAL_PROMPT=0
mkdir -p "$BENCH/bin"
go build -o "$BENCH/bin/mkfixture" "$ROOT/internal/benchfix/mkfixture"

SEG=${MLGIT_BENCH_SEGMENT:-}
SPILL=${MLGIT_BENCH_SPILL:-}
fx="$BENCH/partial-${RUNS}x${KEYS}x${STEPS}${SEG:+-seg$SEG}${SPILL:+-spill$SPILL}"
if [ ! -f "$fx/.ready" ]; then
  echo "building fixture: $RUNS runs x $KEYS metrics x $STEPS steps (once; minutes)" >&2
  rm -rf "$fx"
  extra=()
  [ -n "$SEG" ] && extra+=("$SEG")
  [ -n "$SPILL" ] && extra+=("$SPILL" "$fx/blobs")
  "$BENCH/bin/mkfixture" "$fx/src" "$RUNS" 10 "$KEYS" "$STEPS" "${extra[@]}" >"$fx.id"
  git clone -q --bare --no-local "$fx/src" "$fx/remote.git"
  git -C "$fx/remote.git" config uploadpack.allowFilter true
  git -C "$fx/remote.git" config uploadpack.allowAnySHA1InWant true
  rm -rf "$fx/src"
  mv "$fx.id" "$fx/run-id"
  touch "$fx/.ready"
fi
run=$(cat "$fx/run-id")
url="file://$fx/remote.git"
work=$(mktemp -d "$BENCH/partial.XXXXXX")
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }
# what a clone holds: Git's objects and the blob cache (history blobs)
objbytes() { du -sbc "$1/.git/objects" $(ls -d "$1/.git/mlgit/blobs" 2>/dev/null) | tail -1 | cut -f1; }
fetches() { find "$1/.git/objects/pack" -name '*.promisor' | wc -l; }
# median of the numbers on stdin
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { print b - a }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

blobs=""
[ -d "$fx/blobs" ] && blobs=", history blobs $(du -sh --apparent-size "$fx/blobs" | cut -f1) (past $SPILL points a run)"
echo "== partial clones: remote of $RUNS runs x $KEYS metrics x $STEPS steps${SEG:+ in $SEG-byte segments} ($(du -sh "$fx/remote.git" | cut -f1) packed$blobs), file://, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), median of $ROUNDS"
# measure NAME FILTER: ROUNDS fresh clones; prints one line per step.
measure() {
  local name=$1 filter=$2 i d t0 t1 b0 f0
  : >"$work/$name.tsv"
  for i in $(seq 1 "$ROUNDS"); do
    d="$work/$name-$i"
    t0=$(now)
    git clone -q --no-checkout ${filter:+--filter=$filter} -b mlgit "$url" "$d"
    t1=$(now)
    printf 'clone\t%s\t%s\t0\n' "$(secs "$t0" "$t1")" "$(objbytes "$d")" >>"$work/$name.tsv"
    for step in "run list" "run list again" "run metrics"; do
      case $step in
        "run metrics") set -- run metrics "$run" acc ;;
        *) set -- run list --max 10 ;;
      esac
      b0=$(objbytes "$d") f0=$(fetches "$d")
      t0=$(now)
      "$MLGIT" -C "$d" "$@" >/dev/null 2>&1
      t1=$(now)
      printf '%s\t%s\t%s\t%s\n' "$step" "$(secs "$t0" "$t1")" "$(($(objbytes "$d") - b0))" "$(($(fetches "$d") - f0))" >>"$work/$name.tsv"
    done
    rm -rf "$d"
  done
  for step in clone "run list" "run list again" "run metrics"; do
    local s b f
    s=$(awk -F'\t' -v k="$step" '$1 == k { print $2 }' "$work/$name.tsv" | median)
    b=$(awk -F'\t' -v k="$step" '$1 == k { print $3 }' "$work/$name.tsv" | median)
    f=$(awk -F'\t' -v k="$step" '$1 == k { print $4 }' "$work/$name.tsv" | median)
    printf '  %-10s %-16s %8.2f s  %12s  %s fetches\n' "$name" "$step" "$s" "$(mib "$b")" "$f"
  done
}
measure full ""
measure blob:none blob:none
measure tree:0 tree:0

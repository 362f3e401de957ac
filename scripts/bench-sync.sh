#!/usr/bin/env bash
# make bench-sync: sharing benchmarks, whole processes on loopback.
#  1. mlgit push / mlgit pull of one new finished run against a bare remote
#     that holds the 100,000-run fixture of scripts/bench.sh (built once);
#     bytes sent are git's pack size, from mlgit push --json.
#  2. four clones x 50 runs, all pushing to one bare remote at the same time
#     (a push after every run): wall time, and every run present once.
# Figures go to stdout; docs/PERFORMANCE.md records them with this command.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MLGIT=${MLGIT:-$ROOT/bin/mlgit}
BENCH=${MLGIT_BENCH_DIR:-/tmp/mlgit-bench}
N=${MLGIT_BENCH_RUNS:-100000}
export MLGIT_NO_AUTO_GC=1 GIT_TERMINAL_PROMPT=0
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
work=$(mktemp -d "$BENCH/sync.XXXXXX")
trap 'rm -rf "$work"' EXIT
# The remote and two clones (hard-linked object stores: quick to make).
git clone -q --bare "$fx" "$work/remote.git"
for c in a b; do
  git clone -q --no-checkout "$work/remote.git" "$work/$c"
  git -C "$work/$c" branch -q mlgit origin/mlgit
  git -C "$work/$c" config user.name "bench $c" && git -C "$work/$c" config user.email "$c@bench"
done
export MLGIT_BLOB_REMOTE="$work/blobs"
echo "== sharing: remote with $N runs ($(git -C "$work/remote.git" rev-list --count mlgit) commits), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
"$T" -n 11 -label "mlgit push (one new finished run)" \
  -prepare "'$MLGIT' -C '$work/a' run exec --name bench -- true" -- "$MLGIT" -C "$work/a" push
"$MLGIT" -C "$work/a" run exec --name bench-bytes -- true
"$MLGIT" -C "$work/a" push --json | sed -n 's/.*"bytes": \([0-9]*\).*/  bytes sent by that push: \1/p'
"$MLGIT" -C "$work/b" pull >/dev/null
"$T" -n 11 -label "mlgit pull (one new run on the remote)" \
  -prepare "'$MLGIT' -C '$work/a' run exec --name bench -- true && '$MLGIT' -C '$work/a' push >/dev/null" -- "$MLGIT" -C "$work/b" pull
"$T" -n 11 -label "  reference: git push of one new commit (same remote)" \
  -prepare "git -C '$work/b' commit-tree -p mlgit -m x mlgit^{tree} | xargs git -C '$work/b' update-ref refs/heads/mlgit" -- git -C "$work/b" push -q origin mlgit

echo "== 4 clones x 50 runs, each pushing after every run, to one bare remote"
c4="$work/c4"
mkdir -p "$c4"
git init -q --bare "$c4/remote.git"
git init -q "$c4/seed" && git -C "$c4/seed" remote add origin "$c4/remote.git"
"$MLGIT" -C "$c4/seed" init >/dev/null && "$MLGIT" -C "$c4/seed" push >/dev/null
for i in 1 2 3 4; do
  git init -q "$c4/c$i" && git -C "$c4/c$i" remote add origin "$c4/remote.git"
  "$MLGIT" -C "$c4/c$i" pull >/dev/null
done
start=$(date +%s.%N)
for i in 1 2 3 4; do
  (for j in $(seq 1 50); do
     "$MLGIT" -C "$c4/c$i" run exec --name "c$i-r$j" -- true
     "$MLGIT" -C "$c4/c$i" push >/dev/null
   done) &
done
wait
end=$(date +%s.%N)
runs=$(git -C "$c4/remote.git" ls-tree -r --name-only mlgit runs | grep -c 'run.yaml$')
names=$(git -C "$c4/remote.git" grep -h '^name:' mlgit -- runs | sort -u | wc -l)
awk -v s="$start" -v e="$end" -v r="$runs" -v n="$names" 'BEGIN { printf "  wall time %.1f s for 200 runs and 200 pushes; runs on the remote: %d (%d distinct names)\n", e - s, r, n }'
[ "$runs" = 200 ] && [ "$names" = 200 ] || { echo "LOST RUNS" >&2; exit 1; }
git -C "$c4/remote.git" fsck --strict --no-dangling >/dev/null 2>&1 && echo "  git fsck --strict: ok"

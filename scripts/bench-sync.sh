#!/usr/bin/env bash
# make bench-sync: sharing benchmarks, whole processes on loopback.
#  1. mlgit push / mlgit pull of one new finished run against a bare remote
#     that holds the 100,000-run fixture of scripts/bench.sh (built once);
#     bytes sent are git's pack size, from mlgit push --json.
#  2. four clones x 50 runs, all pushing to one bare remote at the same time
#     (a push after every run): wall time, and every run present once.
#  3. pushes per minute one bare remote takes, over a path and over ssh.
# MLGIT_BENCH_SYNC_PART=push-rate runs only 3.
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

work=$(mktemp -d "$BENCH/sync.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [ "${MLGIT_BENCH_SYNC_PART:-all}" = all ]; then
fx="$BENCH/runs-$N"
if [ ! -f "$fx/.ready" ]; then
  echo "building fixture: $N runs (once; a few minutes)" >&2
  rm -rf "$fx"
  "$BENCH/bin/mkfixture" "$fx" "$N" >/dev/null
  touch "$fx/.ready"
fi
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

fi

# 3. How many pushes per minute one bare remote takes, over a local path
#    and over ssh (the system's sshd on loopback with a throwaway key, as
#    cmd/mlgit/ssh_test.go starts it): P clones (1, then 4) each loop
#    "mlgit run exec, mlgit push" for MLGIT_BENCH_PUSH_SECONDS (30), one
#    new commit per push. Pushes/min counts the pushes that succeeded; the
#    latency is that of mlgit push alone (fetch, re-apply and retries when
#    another clone got in first).
D=${MLGIT_BENCH_PUSH_SECONDS:-30}
push_rate() { # label url pushers
  local label=$1 url=$2 p=$3 d="$work/rate-$RANDOM"
  mkdir -p "$d"
  git init -q "$d/seed" && git -C "$d/seed" remote add origin "$url"
  "$MLGIT" -C "$d/seed" init >/dev/null && "$MLGIT" -C "$d/seed" push >/dev/null 2>&1
  for i in $(seq 1 "$p"); do
    git init -q "$d/c$i" && git -C "$d/c$i" remote add origin "$url"
    "$MLGIT" -C "$d/c$i" pull >/dev/null
  done
  local end=$((SECONDS + D)) pids=()
  for i in $(seq 1 "$p"); do
    (n=0; : >"$d/lat$i"
     while [ $SECONDS -lt $end ]; do
       "$MLGIT" -C "$d/c$i" run exec --name "c$i-$n" -- true 2>/dev/null
       s=$(date +%s%N)
       if "$MLGIT" -C "$d/c$i" push >/dev/null; then
         echo $((($(date +%s%N) - s) / 1000000)) >>"$d/lat$i"
       fi
       n=$((n + 1))
     done) &
    pids+=($!)
  done
  wait "${pids[@]}"
  # Reference: one connection to the remote (git ls-remote), median of 3.
  local ref
  ref=$(for _ in 1 2 3; do s=$(date +%s%N); git ls-remote "$url" >/dev/null; echo $((($(date +%s%N) - s) / 1000000)); done | sort -n | sed -n 2p)
  cat "$d"/lat* | sort -n | awk -v l="$label" -v p="$p" -v d="$D" -v ref="$ref" '
    { a[NR] = $1; s += $1 }
    END { printf "  %-22s %d %-7s %6.1f pushes/min  push p50 %d ms, p90 %d ms, mean %d ms  (git ls-remote: %d ms)\n", l, p, (p == 1 ? "pusher" : "pushers"), NR * 60 / d, a[int((NR + 1) / 2)], a[int(NR * 0.9 + 0.5)], s / NR, ref }'

}
echo "== pushes per minute to one bare remote, ${D} s per row, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
for p in 1 4; do
  git init -q --bare "$work/rate-path-$p.git"
  push_rate "path" "$work/rate-path-$p.git" "$p"
done
if command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ]; then
  SSHD=$(command -v sshd || echo /usr/sbin/sshd)
  k="$work/ssh" && mkdir -p "$k"
  mkdir -p /run/sshd 2>/dev/null || true # privilege separation folder, when root
  ssh-keygen -q -t ed25519 -N "" -f "$k/host" && ssh-keygen -q -t ed25519 -N "" -f "$k/user"
  cp "$k/user.pub" "$k/authorized_keys" && chmod 600 "$k/authorized_keys"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$k/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $k/host
AuthorizedKeysFile $k/authorized_keys
PidFile $k/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
AcceptEnv GIT_PROTOCOL
MaxStartups 100
CONF
  "$SSHD" -D -e -f "$k/sshd_config" 2>"$k/sshd.log" &
  sshd_pid=$!
  trap 'kill $sshd_pid 2>/dev/null; rm -rf "$work"' EXIT
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
  export GIT_SSH_COMMAND="ssh -i $k/user -p $port -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
  for p in 1 4; do
    git init -q --bare "$work/rate-ssh-$p.git"
    push_rate "ssh (loopback sshd)" "ssh://$(id -un)@127.0.0.1:$port$work/rate-ssh-$p.git" "$p"
  done
  unset GIT_SSH_COMMAND
else
  echo "  ssh: skipped (install openssh-server for sshd)"
fi

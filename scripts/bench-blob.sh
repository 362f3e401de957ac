#!/usr/bin/env bash
# bench-blob.sh: the blob store benchmarks of docs/PERFORMANCE.md (section "Blob store and artifacts"), with
# mlgit measured side by side with git lfs and cp in one run, on the same
# files and the same machine state:
#
#   1. mlgit run artifact add  vs  git lfs track + git add (and + git commit)
#      vs  cp (and cp+sync)
#      of random float32 weights (incompressible) and of a compressible CSV:
#      throughput, ratios, stored size
#   2. dedup: a second version with three rewritten regions (10% in total)
#      and 1 MiB inserted in the middle: bytes newly stored
#   3. mlgit run artifact get from the local cache: throughput
#   4. mlgit blob push / pull to and from a local versitygw (S3): throughput
#      and peak memory, also for a 4 GiB file
#   5. mlgit blob push of 10,000 files the remote already has
#
# Usage: scripts/bench-blob.sh            (MLGIT=path/to/mlgit, default: mlgit in PATH)
# Sizes and rounds come from the environment (defaults are the sizes of the targets in docs/PERFORMANCE.md):
#   BENCH_BLOB_MIB=1024      size of the main files, MiB
#   BENCH_BLOB_BIG_MIB=4096  size of the peak-memory file, MiB (0 skips it)
#   BENCH_BLOB_FILES=10000   number of small files for the skip benchmark
#   BENCH_BLOB_ROUNDS=3      rounds of each timed comparison (medians reported)
#   BENCH_BLOB_DIR=/tmp      where the scratch folder goes (needs ~4x the sizes)
#   BENCH_BLOB_KEEP=1        keep the scratch folder
#   BENCH_BLOB_ONLY="add get" run only some parts (add dedup get s3 files)
#   BENCH_BLOB_ADD_DATA=float32  add part: only some data (float32 csv)
#   MLGIT_REF=path/to/mlgit  add part: also time this other mlgit binary (an
#                            older build, say) in the same rounds, alternating
#                            which of the two goes first, for an A/B that does
#                            not depend on the machine's load
# git-lfs (Debian package git-lfs) and versitygw (go install
# github.com/versity/versitygw/cmd/versitygw@v1.8.0) are used when present;
# the script says so and skips their parts when they are missing.
set -euo pipefail

MLGIT=${MLGIT:-mlgit}
MIB=${BENCH_BLOB_MIB:-1024}
BIG_MIB=${BENCH_BLOB_BIG_MIB:-4096}
NFILES=${BENCH_BLOB_FILES:-10000}
ROUNDS=${BENCH_BLOB_ROUNDS:-3}
ONLY=" ${BENCH_BLOB_ONLY:-add dedup get s3 files} "
want() { [[ "$ONLY" == *" $1 "* ]]; }
ADD_DATA=" ${BENCH_BLOB_ADD_DATA:-float32 csv} "
REF=${MLGIT_REF:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
command -v "$MLGIT" >/dev/null || { echo "bench-blob: $MLGIT not found (build it: make build; MLGIT=\$PWD/bin/mlgit)" >&2; exit 2; }
MLGIT=$(command -v "$MLGIT")
if [ -n "$REF" ]; then
	command -v "$REF" >/dev/null || { echo "bench-blob: MLGIT_REF=$REF not found" >&2; exit 2; }
	REF=$(command -v "$REF")
fi
[ -x /usr/bin/time ] || { echo "bench-blob: /usr/bin/time is needed (Debian package time)" >&2; exit 2; }
WORK=$(mktemp -d "${BENCH_BLOB_DIR:-${TMPDIR:-/tmp}}/mlgit-bench-blob.XXXXXX")
VGW_PID=""
cleanup() {
	if [ -n "$VGW_PID" ]; then kill "$VGW_PID" 2>/dev/null || true; wait "$VGW_PID" 2>/dev/null || true; fi
	if [ -z "${BENCH_BLOB_KEEP:-}" ]; then rm -rf "$WORK"; else echo "kept $WORK" >&2; fi
}
trap cleanup EXIT

# Hermetic Git: nothing from the user's configuration.
export HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/home/.config" GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
export MLGIT_NO_AUTO_GC=1
unset GIT_DIR GIT_WORK_TREE MLGIT_BLOB_REMOTE MLGIT_RUN_ID MLGIT_REPO || true
mkdir -p "$HOME"

HAVE_LFS=1
if ! git lfs version >/dev/null 2>&1; then
	HAVE_LFS=""
	echo "NOTE: git-lfs is not installed (Debian: apt-get install -y git-lfs); the git lfs columns are skipped." >&2
fi
VGW=$(command -v versitygw || true)
[ -z "$VGW" ] && [ -x "$(go env GOPATH 2>/dev/null)/bin/versitygw" ] && VGW="$(go env GOPATH)/bin/versitygw"
[ -z "$VGW" ] && echo "NOTE: versitygw is not installed (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0); the S3 benchmarks are skipped." >&2

# ---- helpers

log() { printf '%s\n' "$*" >&2; }
# timed OUT CMD...: runs CMD, writes "seconds maxrss_kib user_s sys_s" to OUT.
timed() { local out=$1; shift; /usr/bin/time -f '%e %M %U %S' -o "$out" "$@"; }
secs() { cut -d' ' -f1 "$1"; }
cpu() { awk '{printf "%.2f", $3 + $4}' "$1"; } # user + system CPU seconds
rss_mib() { awk '{printf "%.0f", $2/1024}' "$1"; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN {if (s > 0) printf "%.0f", b/s/1e6; else print "inf"}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a/b; else print "n/a"}'; }
mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b/1048576}'; }
du_b() { if [ -e "$1" ]; then du -sb "$1" | cut -f1; else echo 0; fi; }
settle() { sync; sleep 1; }

new_mlgit_repo() { # DIR [MLGIT] -> prints a run id
	local bin=${2:-$MLGIT}
	rm -rf "$1" && mkdir -p "$1" && git -C "$1" init -q -b main && (cd "$1" && "$bin" init >/dev/null && "$bin" run start)
}
new_lfs_repo() { # DIR
	rm -rf "$1" && mkdir -p "$1" && git -C "$1" init -q -b main && git -C "$1" lfs install --local >/dev/null
}

# The data generator: a small Go program (standard library only).
GEN="$WORK/gen/gen"
mkdir -p "$WORK/gen"
cat > "$WORK/gen/main.go" <<'EOF'
// gen writes benchmark data: float32 weights, a compressible CSV, an
// edited copy of a file, or a folder of small files.
package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	switch args[0] {
	case "float32": // float32 OUT BYTES SEED: N(0, 0.02) weights, little endian
		n, _ := strconv.ParseInt(args[2], 10, 64)
		seed, _ := strconv.ParseUint(args[3], 10, 64)
		return write(args[1], func(w *bufio.Writer) {
			r := rand.New(rand.NewPCG(seed, 1))
			var b [4]byte
			for i := int64(0); i+4 <= n; i += 4 {
				binary.LittleEndian.PutUint32(b[:], math.Float32bits(float32(r.NormFloat64()*0.02)))
				w.Write(b[:])
			}
		})
	case "csv": // csv OUT BYTES SEED: a transactions table
		n, _ := strconv.ParseInt(args[2], 10, 64)
		seed, _ := strconv.ParseUint(args[3], 10, 64)
		return write(args[1], func(w *bufio.Writer) {
			r := rand.New(rand.NewPCG(seed, 2))
			countries := []string{"DE", "FR", "US", "GB", "IN", "BR", "JP", "NL", "SE", "ES"}
			plans := []string{"free", "basic", "pro", "enterprise"}
			written, _ := w.WriteString("id,ts,user_id,country,plan,amount,score,churned\n")
			total := int64(written)
			ts := int64(1700000000)
			for id := 0; total < n; id++ {
				ts += int64(r.IntN(30))
				line := fmt.Sprintf("%d,%d,%d,%s,%s,%.2f,%.4f,%d\n", id, ts, r.IntN(200000),
					countries[r.IntN(len(countries))], plans[r.IntN(len(plans))], r.Float64()*500, r.Float64(), r.IntN(2))
				if total+int64(len(line)) > n {
					line = line[:n-total]
				}
				w.WriteString(line)
				total += int64(len(line))
			}
		})
	case "edit": // edit SRC OUT SEED: rewrite 3 regions (10% in total), insert 1 MiB in the middle
		src, err := os.ReadFile(args[1])
		if err != nil {
			return err
		}
		seed, _ := strconv.ParseUint(args[3], 10, 64)
		r := rand.New(rand.NewPCG(seed, 3))
		n := len(src)
		region := n / 30 // three regions of 1/30 each: 10%
		for _, start := range []int{n / 10, n * 4 / 10, n * 8 / 10} {
			for i := start; i < start+region && i < n; i++ {
				src[i] = byte(r.Uint32())
			}
		}
		ins := make([]byte, 1<<20)
		for i := range ins {
			ins[i] = byte(r.Uint32())
		}
		mid := n / 2
		return write(args[2], func(w *bufio.Writer) {
			w.Write(src[:mid])
			w.Write(ins)
			w.Write(src[mid:])
		})
	case "files": // files DIR N: N small files (200 B to 20 KiB)
		n, _ := strconv.Atoi(args[2])
		r := rand.New(rand.NewPCG(4, 4))
		for i := 0; i < n; i++ {
			sub := filepath.Join(args[1], fmt.Sprintf("shard-%03d", i%100))
			if err := os.MkdirAll(sub, 0o755); err != nil {
				return err
			}
			b := make([]byte, 200+r.IntN(20<<10))
			for j := range b {
				b[j] = byte(r.Uint32())
			}
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%05d.bin", i)), b, 0o644); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown mode %q", args[0])
}

func write(path string, fill func(w *bufio.Writer)) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fill(w)
	if err := w.Flush(); err != nil {
		return err
	}
	var _ io.Writer = w
	return f.Close()
}
EOF
(cd "$WORK/gen" && GOWORK=off GOFLAGS= go mod init gen >/dev/null 2>&1 && GOWORK=off GOFLAGS= go build -o gen .)

BYTES=$((MIB * 1048576))
DATA="$WORK/data"
mkdir -p "$DATA"
log "generating data ($MIB MiB float32, $MIB MiB CSV, an edited copy) in $WORK"
"$GEN" float32 "$DATA/weights.bin" "$BYTES" 1
"$GEN" csv "$DATA/table.csv" "$BYTES" 1
"$GEN" edit "$DATA/weights.bin" "$DATA/weights-v2.bin" 2

RESULTS="$WORK/results.md"
out() { printf '%s\n' "$*" | tee -a "$RESULTS"; }

out "# mlgit blob benchmarks"
out ""
out "$(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/Mem:/{print $2}') GiB RAM; $("$MLGIT" --version); $(git --version)${HAVE_LFS:+; $(git lfs version | cut -d' ' -f1)}"
out "Load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other processes on the machine compete for the CPUs)."
out "Sizes: $MIB MiB per file, $BIG_MIB MiB for peak memory, $NFILES small files; $ROUNDS rounds, medians. Page cache warm (files just written), \`sync\` before each timed command."
out ""

# ---- 1. add: mlgit vs git lfs vs cp

add_compare() { # NAME FILE EXT
	local name=$1 file=$2 ext=$3 r
	local tm=() tr=() tl=() tlc=() tc=() ts=() cm=() cr=() sm=0 sl=0
	for r in $(seq "$ROUNDS"); do
		local M="$WORK/add-m" L="$WORK/add-l" R="$WORK/add-r"
		local id; id=$(new_mlgit_repo "$M")
		if [ -n "$REF" ] && [ $((r % 2)) = 0 ]; then # even rounds: the reference first
			local rid; rid=$(new_mlgit_repo "$R" "$REF")
			settle
			timed "$WORK/t" "$REF" -C "$R" run artifact add --run "$rid" "$file"
			tr+=("$(secs "$WORK/t")"); cr+=("$(cpu "$WORK/t")"); rm -rf "$R"
		fi
		settle
		timed "$WORK/t" "$MLGIT" -C "$M" run artifact add --run "$id" "$file"
		tm+=("$(secs "$WORK/t")"); cm+=("$(cpu "$WORK/t")"); sm=$(du_b "$M/.git/mlgit/blobs")
		if [ -n "$REF" ] && [ $((r % 2)) = 1 ]; then
			local rid; rid=$(new_mlgit_repo "$R" "$REF")
			settle
			timed "$WORK/t" "$REF" -C "$R" run artifact add --run "$rid" "$file"
			tr+=("$(secs "$WORK/t")"); cr+=("$(cpu "$WORK/t")"); rm -rf "$R"
		fi
		if [ -n "$HAVE_LFS" ]; then
			new_lfs_repo "$L"
			ln "$file" "$L/data.$ext"
			settle
			timed "$WORK/t" sh -c "cd '$L' && git lfs track '*.$ext' >/dev/null && git add .gitattributes 'data.$ext'"
			tl+=("$(secs "$WORK/t")"); sl=$(du_b "$L/.git/lfs/objects")
			# The commit that records the pointer (git lfs runs its
			# pre-commit work here), timed on its own and added.
			timed "$WORK/t" git -C "$L" commit -q -m data
			tlc+=("$(awk -v a="${tl[-1]}" -v b="$(secs "$WORK/t")" 'BEGIN {printf "%.2f", a + b}')")
			rm -rf "$L"
		fi
		settle
		timed "$WORK/t" cp "$file" "$WORK/cp.out"
		tc+=("$(secs "$WORK/t")"); rm -f "$WORK/cp.out"
		settle
		timed "$WORK/t" sh -c "cp '$file' '$WORK/cp.out' && sync '$WORK/cp.out'"
		ts+=("$(secs "$WORK/t")"); rm -f "$WORK/cp.out"
		local line="$name round $r: mlgit ${tm[-1]}s (CPU ${cm[-1]}s)${REF:+, reference mlgit ${tr[-1]}s (CPU ${cr[-1]}s)}${HAVE_LFS:+, lfs ${tl[-1]}s (with commit ${tlc[-1]}s)}, cp ${tc[-1]}s, cp+sync ${ts[-1]}s (load $(cut -d' ' -f1 /proc/loadavg))"
		log "  $line"
		ROUND_LINES+=("$line")
		[ "$r" = "$ROUNDS" ] || rm -rf "$M"
	done
	local m l lc c s
	m=$(printf '%s\n' "${tm[@]}" | median); c=$(printf '%s\n' "${tc[@]}" | median); s=$(printf '%s\n' "${ts[@]}" | median)
	if [ -n "$HAVE_LFS" ]; then
		l=$(printf '%s\n' "${tl[@]}" | median); lc=$(printf '%s\n' "${tlc[@]}" | median)
	else l="" lc=""; fi
	local lcell="n/a" lccell="n/a" lratio="n/a" lcratio="n/a" lstored="n/a"
	if [ -n "$l" ]; then
		lcell="$l s ($(mbps "$BYTES" "$l") MB/s)"; lratio="$(ratio "$l" "$m")×"; lstored="$(mib "$sl") MiB"
		lccell="$lc s ($(mbps "$BYTES" "$lc") MB/s)"; lcratio="$(ratio "$lc" "$m")×"
	fi
	out "| $name | $m s ($(mbps "$BYTES" "$m") MB/s) | $lcell | $lccell | $c s ($(mbps "$BYTES" "$c") MB/s) | $s s ($(mbps "$BYTES" "$s") MB/s) | $lratio | $lcratio | $(ratio "$c" "$m")× | $(mib "$sm") MiB | $lstored |"
	ADD_RATIO[$name]=${l:+$(ratio "$l" "$m")}
	ADD_SECS[$name]=$m
	if [ -n "$REF" ]; then
		local rm_ mc rc; rm_=$(printf '%s\n' "${tr[@]}" | median)
		mc=$(printf '%s\n' "${cm[@]}" | median); rc=$(printf '%s\n' "${cr[@]}" | median)
		REF_LINES+=("| $name | $m s | $rm_ s | $(ratio "$rm_" "$m")× | $mc s | $rc s |${lc:+ $lc s |}")
	fi
}
declare -A ADD_RATIO ADD_SECS
ROUND_LINES=() REF_LINES=()
if want add; then
log "1. add"
out "## Add $MIB MiB: mlgit run artifact add vs git lfs track + git add (+ git commit) vs cp"
out ""
out "| data | mlgit add | git lfs add | git lfs add + commit | cp | cp + sync | mlgit speed vs lfs add | vs lfs add + commit | vs cp | mlgit stored | lfs stored |"
out "|---|---|---|---|---|---|---|---|---|---|---|"
[[ "$ADD_DATA" == *" float32 "* ]] && add_compare "float32 weights" "$DATA/weights.bin" bin
[[ "$ADD_DATA" == *" csv "* ]] && add_compare "CSV" "$DATA/table.csv" csv
out ""
out "Speed ratios are time(other) / time(mlgit): above 1 means mlgit is faster. mlgit's add is durable when it returns (every object fsynced); git lfs and cp leave the data in the page cache; cp + sync is the durable copy."
out ""
if [ -n "$REF" ]; then
	out "### A/B: this mlgit against the reference $("$REF" --version) (same rounds, alternating order)"
	out ""
	out "| data | mlgit add | reference add | reference / mlgit | mlgit CPU | reference CPU |${HAVE_LFS:+ git lfs add + commit |}"
	out "|---|---|---|---|---|---|${HAVE_LFS:+---|}"
	for x in "${REF_LINES[@]}"; do out "$x"; done
	out ""
fi
out "Rounds:"
out ""
for x in "${ROUND_LINES[@]}"; do out "- $x"; done
out ""
fi

# ---- 2. dedup and 3. get (in the repository of the last float32 round... rebuilt here)

M="$WORK/dedup"
id=$(new_mlgit_repo "$M")
"$MLGIT" -C "$M" run artifact add --run "$id" "$DATA/weights.bin" --as v1 2>/dev/null
DEDUP_PCT="" GET_MBPS=""
if want dedup; then
log "2. dedup"
before=$(du_b "$M/.git/mlgit/blobs")
settle
timed "$WORK/t" "$MLGIT" -C "$M" run artifact add --run "$id" "$DATA/weights-v2.bin" --as v2 2>/dev/null
after=$(du_b "$M/.git/mlgit/blobs")
v2=$(stat -c %s "$DATA/weights-v2.bin")
newb=$((after - before))
lfsnew="n/a"
if [ -n "$HAVE_LFS" ]; then
	L="$WORK/dedup-l"; new_lfs_repo "$L"; ln "$DATA/weights.bin" "$L/v1.bin"; ln "$DATA/weights-v2.bin" "$L/v2.bin"
	(cd "$L" && git lfs track '*.bin' >/dev/null && git add .gitattributes v1.bin)
	lb=$(du_b "$L/.git/lfs/objects"); (cd "$L" && git add v2.bin); la=$(du_b "$L/.git/lfs/objects")
	lfsnew="$(mib $((la - lb))) MiB ($(awk -v a=$((la - lb)) -v b="$v2" 'BEGIN{printf "%.1f", 100*a/b}')%)"
	rm -rf "$L"
fi
DEDUP_PCT=$(awk -v a="$newb" -v b="$v2" 'BEGIN{printf "%.1f", 100*a/b}')
out "## Dedup: second version with 3 rewritten regions (10%) and 1 MiB inserted in the middle"
out ""
out "| | mlgit | git lfs |"
out "|---|---|---|"
out "| new bytes stored for v2 ($(mib "$v2") MiB) | $(mib "$newb") MiB ($DEDUP_PCT%) | $lfsnew |"
out "| time to add v2 | $(secs "$WORK/t") s | |"
out ""
fi

if want get; then
log "3. get"
tg=(); tc=(); rg=()
for r in $(seq "$ROUNDS"); do
	rm -rf "$WORK/got"; settle
	timed "$WORK/t" "$MLGIT" -C "$M" run artifact get "$id" v1 -o "$WORK/got" 2>/dev/null
	tg+=("$(secs "$WORK/t")"); rg+=("$(rss_mib "$WORK/t")")
	cmp -s "$WORK/got/v1/weights.bin" "$DATA/weights.bin" || { echo "bench-blob: get returned different bytes" >&2; exit 1; }
	rm -rf "$WORK/got"; settle
	timed "$WORK/t" cp "$DATA/weights.bin" "$WORK/cp.out"; tc+=("$(secs "$WORK/t")"); rm -f "$WORK/cp.out"
	log "  get round $r: mlgit ${tg[-1]}s, cp ${tc[-1]}s"
done
g=$(printf '%s\n' "${tg[@]}" | median); c=$(printf '%s\n' "${tc[@]}" | median)
GET_MBPS=$(mbps "$BYTES" "$g")
out "## Get $MIB MiB from the local cache (every byte verified)"
out ""
out "| mlgit run artifact get | cp of the same file | peak memory |"
out "|---|---|---|"
out "| $g s ($GET_MBPS MB/s) | $c s ($(mbps "$BYTES" "$c") MB/s) | $(printf '%s\n' "${rg[@]}" | median) MiB |"
out ""
fi
rm -rf "$M"

# ---- 4. push / pull with versitygw, 5. 10,000 present files

PUSH_OK="" SKIP_SECS=""
if [ -n "$VGW" ] && { want s3 || want files; }; then
	log "4. push/pull to versitygw"
	mkdir -p "$WORK/s3/bench"
	PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 17070)
	export AWS_ACCESS_KEY_ID=benchaccess AWS_SECRET_ACCESS_KEY=benchsecret0123456789 AWS_REGION=us-east-1
	"$VGW" --port "127.0.0.1:$PORT" --access "$AWS_ACCESS_KEY_ID" --secret "$AWS_SECRET_ACCESS_KEY" --region us-east-1 --quiet posix "$WORK/s3" >"$WORK/vgw.log" 2>&1 &
	VGW_PID=$!
	for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
	S3="s3://bench/%s?endpoint=http://127.0.0.1:$PORT&path-style=true"

	push_pull() { # LABEL FILE BYTES PREFIX
		local label=$1 file=$2 bytes=$3 prefix=$4 P="$WORK/pp"
		local id; id=$(new_mlgit_repo "$P")
		timed "$WORK/ta" "$MLGIT" -C "$P" run artifact add --run "$id" "$file"
		local url; url=$(printf "$S3" "$prefix")
		settle
		timed "$WORK/tp" "$MLGIT" -C "$P" blob push --remote "$url" 2>/dev/null
		mv "$P/.git/mlgit/blobs" "$WORK/cache-moved" && rm -rf "$WORK/cache-moved"
		settle
		timed "$WORK/tl" "$MLGIT" -C "$P" blob pull --remote "$url" 2>/dev/null
		settle
		timed "$WORK/tg" "$MLGIT" -C "$P" run artifact get "$id" -o "$WORK/pp-got" 2>/dev/null
		cmp -s "$WORK/pp-got/$(basename "$file")" "$file" || { echo "bench-blob: pulled bytes differ" >&2; exit 1; }
		rm -rf "$WORK/pp-got" "$P"
		out "| $label | $(secs "$WORK/tp") s ($(mbps "$bytes" "$(secs "$WORK/tp")") MB/s), $(rss_mib "$WORK/tp") MiB | $(secs "$WORK/tl") s ($(mbps "$bytes" "$(secs "$WORK/tl")") MB/s), $(rss_mib "$WORK/tl") MiB | add $(rss_mib "$WORK/ta") MiB, get $(rss_mib "$WORK/tg") MiB |"
		PEAK=$(printf '%s\n' "$(rss_mib "$WORK/ta")" "$(rss_mib "$WORK/tp")" "$(rss_mib "$WORK/tl")" "$(rss_mib "$WORK/tg")" | sort -n | tail -1)
	}
	BIG_PEAK=""
	if want s3; then
	out "## Push and pull with a local versitygw (S3 API over 127.0.0.1)"
	out ""
	out "| file | push (time, MB/s, peak RSS) | pull into an empty cache | peak RSS of add, get |"
	out "|---|---|---|---|"
	push_pull "$MIB MiB float32" "$DATA/weights.bin" "$BYTES" w1
	if [ "$BIG_MIB" -gt 0 ]; then
		log "   generating $BIG_MIB MiB"
		"$GEN" float32 "$DATA/big.bin" $((BIG_MIB * 1048576)) 9
		push_pull "$BIG_MIB MiB float32" "$DATA/big.bin" $((BIG_MIB * 1048576)) w4
		BIG_PEAK=$PEAK
		rm -f "$DATA/big.bin"
	fi
	out ""
	fi

	if want files; then
	log "5. $NFILES files already on the remote"
	F="$WORK/files"
	"$GEN" files "$F" "$NFILES"
	P="$WORK/skip"; id=$(new_mlgit_repo "$P")
	timed "$WORK/ta" "$MLGIT" -C "$P" run artifact add --run "$id" "$F/." 2>/dev/null
	url=$(printf "$S3" many)
	timed "$WORK/tp1" "$MLGIT" -C "$P" blob push --remote "$url" 2>/dev/null
	"$MLGIT" -C "$P" run flush >/dev/null 2>&1
	ts=()
	for r in $(seq "$ROUNDS"); do
		timed "$WORK/tp2" "$MLGIT" -C "$P" blob push --remote "$url" 2>/dev/null
		ts+=("$(secs "$WORK/tp2")")
	done
	SKIP_SECS=$(printf '%s\n' "${ts[@]}" | median)
	timed "$WORK/tp3" "$MLGIT" -C "$P" blob push --remote "$WORK/local-remote" 2>/dev/null
	tl=()
	for r in $(seq "$ROUNDS"); do
		timed "$WORK/tp4" "$MLGIT" -C "$P" blob push --remote "$WORK/local-remote" 2>/dev/null
		tl+=("$(secs "$WORK/tp4")")
	done
	out "## $NFILES small artifact files (200 B to 20 KiB)"
	out ""
	out "| add | first push to S3 | push when all are on S3 | push when all are in a local-folder remote |"
	out "|---|---|---|---|"
	out "| $(secs "$WORK/ta") s | $(secs "$WORK/tp1") s | $SKIP_SECS s | $(printf '%s\n' "${tl[@]}" | median) s |"
	out ""
	rm -rf "$P" "$F"
	PUSH_OK=1
	fi
fi

# ---- targets

check() { # NAME OK DETAIL
	if [ "$2" = 1 ]; then out "- [x] $1: $3"; else out "- [ ] **missed** $1: $3"; fi
}
out "## Targets"
out ""
r=${ADD_RATIO["float32 weights"]:-}
if [ -n "$r" ]; then check "add of float32 weights at least 2.5x git lfs" "$(awk -v r="$r" 'BEGIN{print (r >= 2.5)}')" "${r}x"; fi
[ -n "$DEDUP_PCT" ] && check "dedup stores at most 15% of the second version" "$(awk -v p="$DEDUP_PCT" 'BEGIN{print (p <= 15)}')" "$DEDUP_PCT%"
[ -n "$GET_MBPS" ] && check "get at least 700 MB/s from the local cache" "$(awk -v m="$GET_MBPS" 'BEGIN{print (m >= 700)}')" "$GET_MBPS MB/s"
[ -n "${BIG_PEAK:-}" ] && check "peak memory at most 256 MB for a $BIG_MIB MiB file (add, push, pull, get)" "$(awk -v m="$BIG_PEAK" 'BEGIN{print (m*1.048576 <= 256)}')" "$BIG_PEAK MiB"
if [ -n "$PUSH_OK" ]; then
	check "push of $NFILES files already on the remote in at most 1 s" "$(awk -v s="$SKIP_SECS" 'BEGIN{print (s <= 1)}')" "$SKIP_SECS s"
fi
out ""
out "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
log "results: $RESULTS"

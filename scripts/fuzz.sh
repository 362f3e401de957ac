#!/usr/bin/env bash
# make fuzz: run every fuzz target in the tree (each `func FuzzXxx(f *testing.F)`
# in a _test.go file) for FUZZTIME each, one after the other. Targets are
# found by reading the sources, so a new one is run without editing the
# Makefile. Runs them all, then fails if any failed; a failing input is
# written by go test to the package's testdata/fuzz/<Target>/.
#
#   scripts/fuzz.sh [-l] [REGEXP]
#     -l       list the targets (package and name) and exit
#     REGEXP   run only the targets whose "package/Name" matches (grep -E)
#   FUZZTIME   how long each target runs (default 10s; go test's -fuzztime
#              syntax, so 1000x means 1,000 inputs)
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-10s}

list=0
if [ "${1:-}" = -l ]; then list=1; shift; fi
filter=${1:-}

# "./dir Name" per target, sorted; skips vendored and browser-module folders.
targets=$(grep -rE --include='*_test.go' --exclude-dir=node_modules --exclude-dir=vendor \
            --exclude-dir=testdata --exclude-dir=.git \
            '^func Fuzz[A-Za-z0-9_]*\(' . |
  sed -E 's#^(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*#\1 \2#' | sort -u)
if [ -n "$filter" ]; then
  targets=$(printf '%s\n' "$targets" | awk '{print $1"/"$2, $0}' | grep -E -- "$filter" | cut -d' ' -f2- || true)
fi
if [ -z "$targets" ]; then
  echo "fuzz: no fuzz target${filter:+ matches $filter}" >&2
  exit 1
fi
if [ "$list" = 1 ]; then printf '%s\n' "$targets"; exit 0; fi

n=$(printf '%s\n' "$targets" | wc -l)
echo "fuzz: $n targets, $FUZZTIME each"
failed=()
while read -r dir name; do
  echo "== $dir $name"
  if ! "$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$dir/"; then
    failed+=("$dir $name")
  fi
done <<<"$targets"

if [ ${#failed[@]} -gt 0 ]; then
  printf 'fuzz: FAILED %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "fuzz: all $n targets passed"

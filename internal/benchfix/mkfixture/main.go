// Command mkfixture creates a benchmark repository: mkfixture DIR RUNS
// [PARAMS METRICS STEPS [SEGMENT_BYTES [SPILL_ABOVE BLOB_DIR]]]. It prints
// one run id; mkfixture -id RUNS prints that id without building anything.
// SEGMENT_BYTES writes histories step-major in segments of at most that
// size (benchfix.Spec); "max" is the 4 MiB a checkpoint writes at most.
// SPILL_ABOVE and BLOB_DIR keep the segments past SPILL_ABOVE points of a
// run's history in the folder blob store BLOB_DIR, as mlgit does.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"

	"github.com/mlgit/mlgit/internal/benchfix"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-id" {
		n, _ := strconv.Atoi(os.Args[2])
		fmt.Println(benchfix.RunID(1, n/2))
		return
	}
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: mkfixture DIR RUNS [PARAMS METRICS STEPS [SEGMENT_BYTES|max [SPILL_ABOVE BLOB_DIR]]]")
		os.Exit(2)
	}
	dir := os.Args[1]
	n, _ := strconv.Atoi(os.Args[2])
	spec := benchfix.Spec{Runs: n, Params: 20, Metrics: 10, Steps: 1, Seed: 1}
	if len(os.Args) >= 6 {
		spec.Params, _ = strconv.Atoi(os.Args[3])
		spec.Metrics, _ = strconv.Atoi(os.Args[4])
		spec.Steps, _ = strconv.Atoi(os.Args[5])
	}
	if len(os.Args) >= 7 {
		if os.Args[6] == "max" {
			spec.SegmentBytes = benchfix.SegmentMax
		} else {
			spec.SegmentBytes, _ = strconv.Atoi(os.Args[6])
		}
	}
	if len(os.Args) >= 9 {
		spec.SpillAbove, _ = strconv.ParseInt(os.Args[7], 10, 64)
		spec.BlobDir = os.Args[8]
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		panic(err)
	}
	if out, err := exec.Command("git", "-C", dir, "init", "-q", "-b", "main").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "%s", out)
		os.Exit(1)
	}
	ids, err := benchfix.Build(dir, spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ids[len(ids)/2])
}

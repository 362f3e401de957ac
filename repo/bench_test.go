package repo

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/mlgit/mlgit/internal/benchfix"
	"github.com/mlgit/mlgit/manifest"
)

// fixture returns a repository with n runs (20 params, 10 metrics), built
// once with git fast-import and cached in $MLGIT_BENCH_DIR (default
// <tmp>/mlgit-bench) between benchmark runs.
func fixture(b *testing.B, n int) (string, []string) {
	b.Helper()
	root := os.Getenv("MLGIT_BENCH_DIR")
	if root == "" {
		root = filepath.Join(os.TempDir(), "mlgit-bench")
	}
	dir := filepath.Join(root, fmt.Sprintf("runs-%d", n))
	spec := benchfix.Spec{Runs: n, Params: 20, Metrics: 10, Steps: 1, Seed: 1}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = benchfix.RunID(spec.Seed, i)
	}
	if _, err := os.Stat(filepath.Join(dir, ".ready")); err == nil {
		return dir, ids
	}
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	if out, err := exec.Command("git", "-C", dir, "init", "-q", "-b", "main").CombinedOutput(); err != nil {
		b.Fatalf("%v: %s", err, out)
	}
	if _, err := benchfix.Build(dir, spec); err != nil {
		b.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, ".ready"), nil, 0o644)
	return dir, ids
}

// BenchmarkLogBatchJournal: metric points per second through the journal
// from one process, each batch durable (fsynced) before LogBatch returns.
func BenchmarkLogBatchJournal(b *testing.B) {
	os.Setenv("MLGIT_NO_AUTO_GC", "1")
	dir := b.TempDir()
	exec.Command("git", "-C", dir, "init", "-q").Run()
	r, _, err := Init(dir, Options{}, false)
	if err != nil {
		b.Fatal(err)
	}
	run, err := r.CreateRun(RunSpec{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	// Keep the benchmark about logging: no checkpoint inside the loop.
	saved := CheckpointMaxBytes
	CheckpointMaxBytes = 1 << 40
	defer func() { CheckpointMaxBytes = saved }()
	const batch = 100_000
	points := make([]manifest.MetricPoint, batch)
	for i := range points {
		points[i] = manifest.MetricPoint{Key: "loss", Value: 1 / float64(i+1), Step: int64(i), Timestamp: 1700000000000 + int64(i)}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := r.LogBatch(run.ID, Batch{Metrics: points}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "points/s")
	// Leave the repository clean for the next benchmark.
	os.RemoveAll(r.journalDir())
}

// BenchmarkCheckpointOneRun: a checkpoint commit that folds one metric
// point of one run, on branches with 1,000 and 100,000 runs. The cost must
// not depend on the number of runs.
func BenchmarkCheckpointOneRun(b *testing.B) {
	os.Setenv("MLGIT_NO_AUTO_GC", "1")
	for _, n := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("runs=%d", n), func(b *testing.B) {
			dir, ids := fixture(b, n)
			r, err := Open(dir, Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			id := ids[n/2]
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				if _, err := r.LogBatch(id, Batch{Metrics: []manifest.MetricPoint{{Key: "loss", Value: float64(i), Step: int64(i), Timestamp: 1}}}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				res, err := r.Checkpoint()
				if err != nil || res.Commit == "" {
					b.Fatalf("checkpoint: %+v %v", res, err)
				}
			}
		})
	}
}

package repo

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/mlgit/mlgit/manifest"
)

// BenchmarkCheckpointBesideDirtyWriter: a checkpoint of a few journaled
// points while another program has MLGIT_BENCH_DIRTY_MIB (default 256) of
// written, not yet synced data on the same file system (a training job
// saving a model). A checkpoint that syncs the whole file system waits
// for all of it, holding the pending lock; one that syncs what its commit
// needs does not.
//
//	TMPDIR=/var/tmp go test -run '^$' -bench CheckpointBesideDirtyWriter -benchtime 5x ./repo/
func BenchmarkCheckpointBesideDirtyWriter(b *testing.B) {
	mib := 256
	if v := os.Getenv("MLGIT_BENCH_DIRTY_MIB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			b.Fatalf("MLGIT_BENCH_DIRTY_MIB=%q: want a number of MiB", v)
		}
		mib = n
	}
	r, dir := newTestRepo(b)
	run, err := r.CreateRun(RunSpec{Name: "dirty"})
	if err != nil {
		b.Fatal(err)
	}
	big := filepath.Join(filepath.Dir(dir), "model.bin")
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		f, err := os.Create(big)
		if err != nil {
			b.Fatal(err)
		}
		for m := 0; m < mib; m++ {
			chunk[0] = byte(m + i)
			if _, err := f.Write(chunk); err != nil {
				b.Fatal(err)
			}
		}
		f.Close()
		if _, err := r.LogBatch(run.ID, Batch{Metrics: []manifest.MetricPoint{{Key: "loss", Value: float64(i), Step: int64(i), Timestamp: 1}}}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := r.Checkpoint(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	os.Remove(big)
}

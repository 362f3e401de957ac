package repo

import (
	"context"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/layout"
)

func setSpill(t *testing.T, r *Repo, n int64) {
	t.Helper()
	_, err := r.Update(func(tx *Tx) error {
		cfg := manifest.NewConfig()
		cfg.Metrics.SpillAbove = n
		tx.Write(layout.Config, cfg.Encode())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestHistoryBlobReads: a run whose history went partly to the blob store
// reads the same through MetricHistory (get-history, run metrics) and
// MetricHistoryColumns (the UI's charts), with pending journal points
// after the spilled segment; without the blob in the cache the read says
// what to do, and with a blob remote it fetches the blob into the cache.
func TestHistoryBlobReads(t *testing.T) {
	r, _ := newTestRepo(t)
	setSpill(t, r, 1000)
	run, err := r.CreateRun(RunSpec{Name: "long"})
	if err != nil {
		t.Fatal(err)
	}
	var want []manifest.MetricPoint
	logSteps := func(from, to int) {
		t.Helper()
		var b Batch
		for s := from; s < to; s++ {
			b.Metrics = append(b.Metrics,
				manifest.MetricPoint{Key: "loss", Step: int64(s), Timestamp: int64(1000 + s), Value: 1 / float64(s+1)},
				manifest.MetricPoint{Key: "acc", Step: int64(s), Timestamp: int64(1000 + s), Value: math.Sqrt(float64(s))})
		}
		want = append(want, b.Metrics...)
		if _, err := r.LogBatch(run.ID, b); err != nil {
			t.Fatal(err)
		}
	}
	logSteps(0, 300) // 600 points: Git
	if _, err := r.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	logSteps(300, 1300) // 2,600 in all: the blob store
	if _, err := r.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	logSteps(1300, 1310) // pending in the journal
	check := func() {
		t.Helper()
		cols, err := r.MetricHistoryColumns(run.ID, func(string) bool { return true })
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"loss", "acc"} {
			pts, err := r.MetricHistory(run.ID, key)
			if err != nil {
				t.Fatal(err)
			}
			var exp []manifest.MetricPoint
			for _, p := range want {
				if p.Key == key {
					exp = append(exp, p)
				}
			}
			c := cols[key]
			if len(pts) != len(exp) || c.Len() != len(exp) {
				t.Fatalf("%s: %d points, %d columns, want %d", key, len(pts), c.Len(), len(exp))
			}
			for i, p := range exp {
				if pts[i] != p || c.Steps[i] != p.Step || c.Timestamps[i] != p.Timestamp || c.Values[i] != p.Value {
					t.Fatalf("%s point %d = %+v / (%d %d %v), want %+v", key, i, pts[i], c.Steps[i], c.Timestamps[i], c.Values[i], p)
				}
			}
		}
	}
	check()
	var ptr *manifest.MetricBlob
	r.View(func(tx *Tx) error {
		if _, ok, _ := tx.Read(layout.Segment(run.ID, 2)); ok {
			t.Error("segment 2 is in Git")
		}
		data, ok, err := tx.Read(layout.SegmentBlob(run.ID, 2))
		if !ok || err != nil {
			t.Fatalf("no pointer for segment 2: %v", err)
		}
		ptr, err = manifest.DecodeMetricBlob(data)
		return err
	})
	if ptr == nil || ptr.Points != 2000 || ptr.Metrics["acc"].MaxStep != 1299 {
		t.Fatalf("pointer %+v", ptr)
	}

	// blob push/pull of the run move its history blob.
	refs, err := r.RunArtifactRefs(run.ID)
	if err != nil || len(refs) != 1 || refs[0].Digest != ptr.Digest || refs[0].Owner != "run "+run.ID {
		t.Fatalf("RunArtifactRefs = %+v, %v; want the history blob %s", refs, err, ptr.Digest)
	}

	// Move the cache aside: reads fail and say what to do.
	moved := r.BlobCacheDir() + ".moved"
	if err := os.Rename(r.BlobCacheDir(), moved); err != nil {
		t.Fatal(err)
	}
	if _, err := r.MetricHistory(run.ID, "loss"); err == nil || !strings.Contains(err.Error(), "not in the local blob cache") {
		t.Fatalf("read without the blob: %v", err)
	}
	// With the old cache as the blob remote, the blob comes back.
	opened := 0
	r.SetBlobRemote(func(context.Context) (blob.Store, error) { opened++; return blob.NewLocal(moved) })
	check()
	check()
	if opened != 1 {
		t.Fatalf("blob remote opened %d times", opened)
	}
	d, _ := blob.ParseDigest(ptr.Digest)
	local, _ := blob.NewLocal(r.BlobCacheDir())
	if err := blob.Verify(context.Background(), local, d); err != nil {
		t.Fatalf("the fetched blob is not in the cache: %v", err)
	}
}

// TestLongSegmentParsedInPieces: a segment of several MiB is parsed in
// pieces cut at line ends and joined in order, giving what the one-piece
// reader gives.
func TestLongSegmentParsedInPieces(t *testing.T) {
	text := []byte(strings.Repeat("loss\t1\t2\t0.5\nacc\t1\t2\t0.25\n", 1000))
	for n := 1; n <= 8; n++ {
		got := splitLines(text, n, 1000)
		if len(got) < 1 || len(got) > n || (n > 1 && len(text) >= 2000*n && len(got) != n) {
			t.Fatalf("splitLines(%d) made %d pieces", n, len(got))
		}
		var joined []byte
		for _, p := range got {
			if len(p) < 1000 || p[len(p)-1] != '\n' {
				t.Fatalf("splitLines(%d): a piece of %d bytes", n, len(p))
			}
			joined = append(joined, p...)
		}
		if string(joined) != string(text) {
			t.Fatalf("splitLines(%d) lost bytes", n)
		}
	}
	r, _ := newTestRepo(t)
	run, err := r.CreateRun(RunSpec{Name: "long"})
	if err != nil {
		t.Fatal(err)
	}
	var b Batch
	for s := 0; s < 60_000; s++ {
		b.Metrics = append(b.Metrics,
			manifest.MetricPoint{Key: "loss", Step: int64(s), Timestamp: int64(1_700_000_000_000 + s), Value: 1 / float64(s+1)},
			manifest.MetricPoint{Key: "acc", Step: int64(s), Timestamp: int64(1_700_000_000_000 + s), Value: math.Sqrt(float64(s))})
	}
	if _, err := r.LogBatch(run.ID, b); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	cols, err := r.MetricHistoryColumns(run.ID, func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"loss", "acc"} {
		pts, err := r.MetricHistory(run.ID, key)
		if err != nil {
			t.Fatal(err)
		}
		c := cols[key]
		if len(pts) != 60_000 || c.Len() != len(pts) {
			t.Fatalf("%s: %d points, %d in columns", key, len(pts), c.Len())
		}
		for i, p := range pts {
			if c.Steps[i] != p.Step || c.Timestamps[i] != p.Timestamp || c.Values[i] != p.Value {
				t.Fatalf("%s point %d differs", key, i)
			}
		}
	}
}

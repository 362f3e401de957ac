package repo

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/mlgit/mlgit/internal/crashfs"
	"github.com/mlgit/mlgit/manifest"
)

// TestPowerLossExactlyOnce cuts the power at every durability point of a
// live store's writes and checkpoints (package crashfs keeps, at each
// fsync, only what POSIX makes durable) and opens the store as the next
// process would: every write acknowledged before the cut is there exactly
// once, every other write at most once, before and after a checkpoint,
// and git fsck finds the repository sound.
func TestPowerLossExactlyOnce(t *testing.T) {
	r, dir := newTestRepo(t)
	if err := r.StartLive(LiveOptions{}); err != nil {
		t.Fatal(err)
	}
	run, err := r.CreateRun(RunSpec{Name: "powerloss"})
	if err != nil {
		t.Fatal(err)
	}
	id := run.ID
	// acked[w] is the first crash point at which write w is acknowledged;
	// -1 until it is.
	const writes = 11
	acked := make([]int, writes)
	for i := range acked {
		acked[i] = -1
	}
	write := func(rec *crashfs.Recorder, w int) {
		t.Helper()
		b := Batch{Params: []KV{{"p" + strconv.Itoa(w), strconv.Itoa(w)}}}
		for j := 0; j < 3; j++ {
			b.Metrics = append(b.Metrics, manifest.MetricPoint{Key: "loss", Value: float64(w), Step: int64(10*w + j), Timestamp: int64(1000 + w)})
		}
		if _, err := r.LogBatch(id, b); err != nil {
			t.Fatal(err)
		}
		acked[w] = 0
		if rec != nil {
			acked[w] = rec.Points() - 1
		}
	}
	checkpoint := func() {
		t.Helper()
		if _, err := r.Checkpoint(); err != nil {
			t.Fatal(err)
		}
	}
	// Journaled before the recording starts: durable from the start.
	for w := 0; w < 2; w++ {
		write(nil, w)
	}
	rec, err := crashfs.Start(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkpoint() // folds writes 0-1
	for w := 2; w < 5; w++ {
		write(rec, w) // reuses the files the checkpoint parked as spares
	}
	checkpoint()
	for w := 5; w < 7; w++ {
		write(rec, w)
	}
	if _, err := r.UpdateRun(id, RunUpdate{Status: manifest.StatusFinished}); err != nil { // commits at once: no commit delay
		t.Fatal(err)
	}
	for w := 7; w < 9; w++ {
		write(rec, w)
	}
	// Another process (mlgit run flush) folds the server's files.
	other, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	other.Close()
	for w := 9; w < writes; w++ {
		write(rec, w)
	}
	checkpoint()
	if err := rec.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := r.StopLive(); err != nil {
		t.Fatal(err)
	}
	n := rec.Points()
	if n < 20 {
		t.Fatalf("only %d durability points recorded", n)
	}
	base := t.TempDir()
	for k := 0; k < n; k++ {
		crashed := filepath.Join(base, strconv.Itoa(k))
		if err := rec.Materialize(k, crashed); err != nil {
			t.Fatal(err)
		}
		where := fmt.Sprintf("power cut after %d (%s)", k, rec.Label(k))
		r2, err := Open(crashed, Options{})
		if err != nil {
			t.Fatalf("%s: open: %v", where, err)
		}
		verify := func(when string) {
			t.Helper()
			hist, err := r2.MetricHistory(id, "loss")
			if err != nil {
				t.Fatalf("%s, %s: history: %v", where, when, err)
			}
			seen := map[int64]int{}
			for _, p := range hist {
				seen[p.Step]++
			}
			doc, err := r2.GetRun(id)
			if err != nil {
				t.Fatalf("%s, %s: %v", where, when, err)
			}
			for w := 0; w < writes; w++ {
				ack := acked[w] >= 0 && acked[w] <= k
				for j := 0; j < 3; j++ {
					c := seen[int64(10*w+j)]
					if c > 1 || (ack && c != 1) {
						t.Fatalf("%s, %s: write %d (acknowledged: %v): point %d present %d times", where, when, w, ack, 10*w+j, c)
					}
				}
				if _, ok := doc.Params["p"+strconv.Itoa(w)]; ack && !ok {
					t.Fatalf("%s, %s: acknowledged param of write %d lost", where, when, w)
				}
			}
		}
		verify("on open")
		if _, err := r2.Checkpoint(); err != nil {
			t.Fatalf("%s: checkpoint after the loss: %v", where, err)
		}
		verify("after a checkpoint")
		r2.Close()
		if out, err := exec.Command("git", "-C", crashed, "fsck", "--strict", "--no-dangling").CombinedOutput(); err != nil {
			t.Fatalf("%s: git fsck: %v\n%s", where, err, out)
		}
	}
	t.Logf("%d power cuts, every acknowledged write exactly once", n)
}

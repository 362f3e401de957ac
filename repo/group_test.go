package repo

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
	"github.com/mlgit/mlgit/repo/journal"
)

// liveTestRepo is newTestRepo made live; StopLive runs at cleanup.
func liveTestRepo(t *testing.T, o LiveOptions) (*Repo, string) {
	t.Helper()
	r, dir := newTestRepo(t)
	if err := r.StartLive(o); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.StopLive() })
	return r, dir
}

// slowFsync makes every journal file cost d more, as on a slow disk, and
// counts the files.
func slowFsync(t *testing.T, d time.Duration) *atomic.Int64 {
	var n atomic.Int64
	journal.SyncHook = func() {
		n.Add(1)
		time.Sleep(d)
	}
	t.Cleanup(func() { journal.SyncHook = nil })
	return &n
}

// TestGroupCommit: 32 goroutines log 40 writes each at the same time. They
// must share fsyncs (far fewer journal files than writes), and after a
// checkpoint every write is on the branch exactly once.
func TestGroupCommit(t *testing.T) {
	for _, live := range []bool{false, true} {
		t.Run(fmt.Sprintf("live=%v", live), func(t *testing.T) {
			var r *Repo
			if live {
				r, _ = liveTestRepo(t, LiveOptions{})
			} else {
				r, _ = newTestRepo(t)
			}
			run, err := r.CreateRun(RunSpec{Name: "g"})
			if err != nil {
				t.Fatal(err)
			}
			files := slowFsync(t, 2*time.Millisecond)
			before := r.JournalStats()
			const workers, n = 32, 40
			var wg sync.WaitGroup
			start := make(chan struct{})
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					<-start
					for i := 0; i < n; i++ {
						step := int64(w*n + i)
						_, err := r.LogBatch(run.ID, Batch{
							Metrics: []manifest.MetricPoint{{Key: "m", Value: float64(step), Step: step, Timestamp: 1}},
							Params:  []KV{{fmt.Sprintf("p%d_%d", w, i), strconv.Itoa(i)}},
						})
						if err != nil {
							t.Error(err)
							return
						}
					}
				}(w)
			}
			close(start)
			wg.Wait()
			st := r.JournalStats()
			writes, fsyncs := st.Appends-before.Appends, st.Files-before.Files
			if writes != workers*n || fsyncs != files.Load() {
				t.Fatalf("stats: %d writes in %d files, hook saw %d files", writes, fsyncs, files.Load())
			}
			if fsyncs*4 > writes {
				t.Fatalf("%d writes took %d journal files (fsyncs): no group commit", writes, fsyncs)
			}
			t.Logf("%d writes, %d fsyncs", writes, fsyncs)
			if _, err := r.Checkpoint(); err != nil {
				t.Fatal(err)
			}
			hist, err := r.MetricHistory(run.ID, "m")
			if err != nil {
				t.Fatal(err)
			}
			checkExactlyOnce(t, "group commit", hist, workers*n, workers*n)
			got, err := r.GetRun(run.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Params) != workers*n {
				t.Fatalf("%d params, want %d", len(got.Params), workers*n)
			}
		})
	}
}

// TestLiveSeesOtherProcess: a live Repo sees what another process
// journals and commits (its next request, without restart): params,
// metrics, a param conflict refused, a run created there, a checkpoint.
func TestLiveSeesOtherProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	r, dir := liveTestRepo(t, LiveOptions{Index: true})
	run, err := r.CreateRun(RunSpec{Name: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	// Something of ours pending, then the other process writes.
	if _, err := r.LogBatch(run.ID, Batch{Params: []KV{{"mine", "1"}}}); err != nil {
		t.Fatal(err)
	}
	cmd := workerCmd(t, "stress", dir, "MLGIT_TEST_OWN="+run.ID, "MLGIT_TEST_N=5")
	if out, err := cmd.Output(); err != nil || strings.Count(string(out), "ack ") != 5 {
		t.Fatalf("worker: %v %s", err, out)
	}
	got, err := r.GetRun(run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Params["p4"] != "4" || got.Params["mine"] != "1" || got.Metrics["m"].Value != 4 {
		t.Fatalf("live view: params %v metrics %v", got.Params, got.Metrics)
	}
	if _, err := r.LogBatch(run.ID, Batch{Params: []KV{{"p3", "other"}}}); err == nil {
		t.Fatal("changing a param another process logged was accepted")
	}
	// The other process checkpoints: the live view moves to the new tip
	// and still sees everything once.
	other, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	hist, err := r.MetricHistory(run.ID, "m")
	if err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, "after the other checkpoint", hist, 5, 5)
	created, err := other.CreateRun(RunSpec{Name: "theirs"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.LogBatch(created.ID, Batch{Tags: []KV{{"seen", "yes"}}}); err != nil {
		t.Fatalf("run created by another process: %v", err)
	}
	page, err := r.SearchRuns(RunSearch{Filter: "tags.seen = 'yes'"})
	if err != nil || len(page.Runs) != 1 || page.Runs[0].ID != created.ID {
		t.Fatalf("search: %+v %v", page, err)
	}
}

// TestLiveReadsDuringCheckpoints: while writers log and checkpoints run
// (the live Repo's own, in the background, and another Repo's, as
// another process would), readers never see a point twice or lose one
// they saw: the pending lock orders them.
func TestLiveReadsDuringCheckpoints(t *testing.T) {
	if testing.Short() {
		t.Skip("stress test")
	}
	old := CheckpointMaxFiles
	CheckpointMaxFiles = 4
	t.Cleanup(func() { CheckpointMaxFiles = old })
	r, dir := liveTestRepo(t, LiveOptions{})
	other, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	run, err := r.CreateRun(RunSpec{Name: "ckpt"})
	if err != nil {
		t.Fatal(err)
	}
	var acked atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the writer: steps in order
		defer wg.Done()
		for i := 0; i < 600; i++ {
			if _, err := r.LogBatch(run.ID, Batch{Metrics: []manifest.MetricPoint{{Key: "m", Step: int64(i), Value: 1}}}); err != nil {
				t.Error(err)
				break
			}
			acked.Store(int64(i + 1))
		}
		close(stop)
	}()
	wg.Add(1)
	go func() { // another process's checkpoints
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := other.Checkpoint(); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(3 * time.Millisecond)
		}
	}()
	reads := 0
	for done := false; !done; reads++ {
		select {
		case <-stop:
			done = true
		default:
		}
		floor := acked.Load()
		for _, rr := range []*Repo{r, other} {
			hist, err := rr.MetricHistory(run.ID, "m")
			if err != nil {
				t.Fatal(err)
			}
			seen := map[int64]bool{}
			for _, p := range hist {
				if seen[p.Step] {
					t.Fatalf("read %d: step %d seen twice", reads, p.Step)
				}
				seen[p.Step] = true
			}
			for s := int64(0); s < floor; s++ {
				if !seen[s] {
					t.Fatalf("read %d: acknowledged step %d missing (%d points)", reads, s, len(hist))
				}
			}
		}
		got, err := r.GetRun(run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if m := got.Metrics["m"]; floor > 0 && m.Step < floor-1 {
			t.Fatalf("read %d: latest step %d, acknowledged %d", reads, m.Step, floor)
		}
	}
	wg.Wait()
	t.Logf("%d reads", reads)
}

// once the lock is free it moves to the new tip.
func TestLiveDoesNotWaitForCheckpoint(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs inotify")
	}
	r, dir := liveTestRepo(t, LiveOptions{})
	run, err := r.CreateRun(RunSpec{Name: "w"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	before, _ := r.Tip()
	l, err := gitobj.LockFile(r.pendingLockPath(), true, true, gitobj.LockTimeout)
	if err != nil {
		t.Fatal(err)
	}
	// The branch moves while the lock is held, as in a checkpoint.
	if _, err := other.CreateExperiment("moved", "", nil); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := 0; i < 5; i++ {
		if _, err := r.LogBatch(run.ID, Batch{Metrics: []manifest.MetricPoint{{Key: "m", Step: int64(i), Value: 1}}, Params: []KV{{fmt.Sprintf("p%d", i), "v"}}}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := r.GetRun(run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("writes and a read took %v with the lock held", el)
	}
	if len(got.Params) != 5 || got.Metrics["m"].Count != 5 {
		t.Fatalf("own writes not seen: %v %v", got.Params, got.Metrics)
	}
	stale := r.live.Tip().String() == before
	if !stale {
		t.Fatal("the view moved to the new tip while the lock was held")
	}
	l.Unlock()
	if _, err := r.GetRun(run.ID); err != nil {
		t.Fatal(err)
	}
	now, _ := r.Tip()
	moved := r.live.Tip().String() == now && now != before
	if !moved {
		t.Fatal("the view did not move to the new tip after the lock was released")
	}
}

// TestSparesRecycled: a live Repo's checkpoints park consumed journal
// files as spares and writes reuse them; the records stay exact.
func TestSparesRecycled(t *testing.T) {
	r, _ := liveTestRepo(t, LiveOptions{})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		_, held := r.group.Spares()
		n := len(held)
		if n >= initialSpares {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d spares made at start", n)
		}
	}
	run, err := r.CreateRun(RunSpec{Name: "spares"})
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 3; round++ {
		for i := 0; i < 10; i++ {
			step := int64(round*10 + i)
			if _, err := r.LogBatch(run.ID, Batch{Metrics: []manifest.MetricPoint{{Key: "m", Step: step, Value: float64(step)}}}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := r.Checkpoint(); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.StopLive(); err != nil { // waits for the spares made at start
		t.Fatal(err)
	}
	parked, held := r.group.Spares()
	left := len(held)
	spares := map[string]bool{}
	for _, p := range held {
		spares[filepath.Base(p)] = true
	}
	// Every write took a spare and every checkpoint parked what it folded
	// (31 files: the run's creation and 30 writes); nothing else was made.
	if parked != initialSpares+31 || left != initialSpares {
		t.Fatalf("%d spares made or parked, %d left; want %d and %d", parked, left, initialSpares+31, initialSpares)
	}
	names, _ := journal.ListDir(filepath.Join(r.journalDir(), "tmp"))
	for _, n := range names {
		if !spares[n] {
			t.Fatalf("journal/tmp holds %s, not a spare", n)
		}
	}
	if len(names) != left {
		t.Fatalf("journal/tmp holds %d files, %d spares", len(names), left)
	}
	hist, err := r.MetricHistory(run.ID, "m")
	if err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, "with spares", hist, 30, 30)
	for _, p := range hist {
		if p.Value != float64(p.Step) {
			t.Fatalf("point %+v", p)
		}
	}
}

package repo

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
)

var (
	memFilters = []string{
		"",
		"metrics.acc > 0.5",
		"metrics.acc > 0.5 AND params.opt = 'adam'",
		"metrics.loss <= 0.3",
		"metrics.acc IS NULL",
		"metrics.acc != 0.25",
		"params.opt IN ('sgd', 'rmsprop')",
		"params.lr LIKE '0.0%'",
		"tags.team = 'vision'",
		"tags.team ILIKE 'V%'",
		"attributes.status = 'FINISHED'",
		"attributes.run_name LIKE 'r-1%'",
		"attributes.start_time > 0",
		"attributes.end_time IS NOT NULL",
		"datasets.name = 'train'",
		"metrics.m >= 2",
		"params.p1 = '1'",
	}
	memOrders = [][]string{
		nil,
		{"metrics.acc DESC"},
		{"metrics.acc ASC"},
		{"metrics.loss ASC", "params.opt DESC"},
		{"params.opt", "metrics.acc DESC"},
		{"attributes.run_name"},
		{"attributes.start_time ASC"},
		{"tags.team DESC"},
		{"attributes.end_time DESC"},
		{"metrics.m DESC"},
	}
)

// compareSearch checks that the live index answers like SearchRuns of a
// Repo that reads the store from disk, for many random searches, page by
// page.
func compareSearch(t *testing.T, live, disk *Repo, rng *rand.Rand, exps []string, searches int) {
	t.Helper()
	// Hold off background checkpoints, so both read the same state.
	l, err := gitobj.LockFile(live.checkpointLockPath(), true, true, gitobj.LockTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	for i := 0; i < searches; i++ {
		s := RunSearch{
			Filter:     memFilters[rng.Intn(len(memFilters))],
			OrderBy:    memOrders[rng.Intn(len(memOrders))],
			MaxResults: 1 + rng.Intn(40),
			View:       ViewType(rng.Intn(3)),
		}
		if rng.Intn(3) == 0 {
			s.ExperimentIDs = []string{exps[rng.Intn(len(exps))]}
		}
		for page := 0; ; page++ {
			a, errA := live.SearchRuns(s)
			b, errB := disk.SearchRuns(s)
			if (errA == nil) != (errB == nil) {
				t.Fatalf("%+v: live error %v, disk error %v", s, errA, errB)
			}
			if errA != nil {
				break
			}
			if a.Total != b.Total || a.NextPageToken != b.NextPageToken || len(a.Runs) != len(b.Runs) {
				t.Fatalf("%+v page %d: live %d of %d (next %q), disk %d of %d (next %q)", s, page,
					len(a.Runs), a.Total, a.NextPageToken, len(b.Runs), b.Total, b.NextPageToken)
			}
			for j := range a.Runs {
				if ea, eb := a.Runs[j].Encode(), b.Runs[j].Encode(); string(ea) != string(eb) {
					t.Fatalf("%+v page %d run %d:\nlive:\n%s\ndisk:\n%s", s, page, j, ea, eb)
				}
			}
			if a.NextPageToken == "" || page > 3 {
				break
			}
			s.PageToken = a.NextPageToken
		}
	}
}

// TestMemIndexMatchesSearchRuns: a live Repo's in-memory index and the
// on-disk path of SearchRuns agree on random filters, orders, pages,
// views and experiments, after interleaved writes by the live Repo (with
// background and explicit checkpoints), by another Repo in this process,
// and by another process.
func TestMemIndexMatchesSearchRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	old := CheckpointMaxFiles
	CheckpointMaxFiles = 16 // background checkpoints now and then
	t.Cleanup(func() { CheckpointMaxFiles = old })
	live, dir := liveTestRepo(t, LiveOptions{Index: true})
	disk, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer disk.Close()
	exp, err := disk.CreateExperiment("second", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	exps := []string{"0", exp.ID}
	rng := rand.New(rand.NewSource(7))
	var ids []string
	opts := []string{"adam", "sgd", "rmsprop", "adamw"}
	teams := []string{"vision", "Vision", "nlp"}
	write := func(r *Repo, n int) {
		for i := 0; i < n; i++ {
			switch k := rng.Intn(10); {
			case k < 3 || len(ids) < 5:
				spec := RunSpec{ExperimentID: exps[rng.Intn(2)], Name: fmt.Sprintf("r-%d", rng.Intn(300)),
					Tags: map[string]string{"team": teams[rng.Intn(3)]}}
				if rng.Intn(2) == 0 {
					spec.Params = map[string]string{"opt": opts[rng.Intn(4)]}
				}
				run, err := r.CreateRun(spec)
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, run.ID)
			case k < 7:
				id := ids[rng.Intn(len(ids))]
				var b Batch
				for j := rng.Intn(4); j >= 0; j-- {
					v := rng.Float64()
					if rng.Intn(20) == 0 {
						v = math.NaN()
					}
					key := []string{"acc", "loss"}[rng.Intn(2)]
					b.Metrics = append(b.Metrics, manifest.MetricPoint{Key: key, Value: v, Step: int64(rng.Intn(5)), Timestamp: int64(rng.Intn(3))})
				}
				if rng.Intn(3) == 0 {
					b.Params = []KV{{"lr", fmt.Sprintf("0.0%d", rng.Intn(9))}}
				}
				if rng.Intn(4) == 0 {
					b.Tags = []KV{{"team", teams[rng.Intn(3)]}}
				}
				if rng.Intn(8) == 0 {
					b.Inputs = []manifest.Dataset{{Name: []string{"train", "eval"}[rng.Intn(2)], Digest: "d1", Context: "training"}}
				}
				if _, err := r.LogBatch(id, b); err != nil && !strings.Contains(err.Error(), "lifecycle") && !strings.Contains(err.Error(), "param") {
					t.Fatal(err)
				}
			case k < 8:
				id := ids[rng.Intn(len(ids))]
				st := []string{manifest.StatusFinished, manifest.StatusFailed, manifest.StatusRunning}[rng.Intn(3)]
				if _, err := r.UpdateRun(id, RunUpdate{Status: st}); err != nil && !strings.Contains(err.Error(), "lifecycle") {
					t.Fatal(err)
				}
			case k < 9:
				id := ids[rng.Intn(len(ids))]
				if rng.Intn(2) == 0 {
					err = r.DeleteRun(id)
				} else {
					err = r.RestoreRun(id)
				}
				if err != nil {
					t.Fatal(err)
				}
			default:
				if rng.Intn(3) == 0 {
					if _, err := r.Checkpoint(); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	for round := 0; round < 6; round++ {
		write(live, 60)
		compareSearch(t, live, disk, rng, exps, 25)
		write(disk, 30) // another writer of this process: seen through the watch
		compareSearch(t, live, disk, rng, exps, 25)
		// Another process logs to a run (params p<i>, metric m, tags).
		target := ids[rng.Intn(len(ids))]
		if err := live.RestoreRun(target); err != nil {
			t.Fatal(err)
		}
		cmd := workerCmd(t, "stress", dir, "MLGIT_TEST_SHARED="+target, fmt.Sprintf("MLGIT_TEST_NAME=w%d", round), "MLGIT_TEST_N=4")
		if out, err := cmd.Output(); err != nil {
			t.Fatalf("worker: %v %s", err, out)
		}
		compareSearch(t, live, disk, rng, exps, 25)
		if round%2 == 1 {
			if _, err := disk.Checkpoint(); err != nil {
				t.Fatal(err)
			}
			compareSearch(t, live, disk, rng, exps, 25)
		}
	}
	// Some searches must have non-trivial answers, or the test proves
	// little.
	p, err := live.SearchRuns(RunSearch{Filter: "metrics.acc > 0.5", OrderBy: []string{"metrics.acc DESC"}})
	if err != nil || p.Total < 10 {
		t.Fatalf("only %d runs with acc > 0.5 (%v)", p.Total, err)
	}
	t.Logf("%d runs", len(ids))
}

package live

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/journal"
)

// testStore is a store without commits: every run and experiment is
// pending.
func testStore(t *testing.T) Store {
	dir := t.TempDir()
	jdir := filepath.Join(dir, "journal")
	return Store{
		JournalDir:     jdir,
		GitDir:         dir,
		RefPath:        filepath.Join(dir, "refs", "heads", "mlgit"),
		PendingLock:    filepath.Join(dir, "pending.lock"),
		CheckpointLock: filepath.Join(dir, "checkpoint.lock"),
		Intent:         filepath.Join(dir, "checkpoint.intent"),
		Writer:         journal.NewWriter(jdir),
		Tip:            func() (plumbing.Hash, error) { return plumbing.ZeroHash, nil },
		CommitTree:     func(plumbing.Hash) (plumbing.Hash, error) { return plumbing.ZeroHash, nil },
		ReadRun: func(plumbing.Hash, plumbing.Hash, string) (*manifest.Run, error) {
			t.Error("ReadRun without a commit")
			return nil, nil
		},
		ReadExperiment: func(plumbing.Hash, plumbing.Hash, string) (*manifest.Experiment, error) {
			return nil, errors.New("no experiment")
		},
		Thresholds:       func() (int, int64, time.Duration) { return 1 << 20, 1 << 40, time.Hour },
		Checkpoint:       func() {},
		CheckpointLocked: func() {},
		RecoverIntent:    func() {},
	}
}

// TestViewPendingRuns: a view learns the files its writer writes and the
// files another writer leaves in the folder, and materializes runs from
// them in journal order.
func TestViewPendingRuns(t *testing.T) {
	s := testStore(t)
	v, err := Start(s)
	if err != nil {
		t.Fatal(err)
	}
	v.Begin()
	defer v.Stop()
	a, b := strings.Repeat("a", 32), strings.Repeat("b", 32)
	create := func(id string) journal.Op {
		return journal.Op{Op: journal.OpCreate, Run: id, Doc: &manifest.Run{ID: id, ExperimentID: "0",
			Status: manifest.StatusRunning, LifecycleStage: manifest.LifecycleActive}}
	}
	if err := s.Writer.Append([]journal.Op{create(a), {Op: journal.OpParam, Run: a, Key: "k", Value: "1"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Writer.AppendPoints(nil, a, []manifest.MetricPoint{{Key: "x", Value: 3, Step: 1}}); err != nil {
		t.Fatal(err)
	}
	// Another process: a writer the view does not observe.
	other := journal.NewWriter(s.JournalDir)
	if err := other.Append([]journal.Op{create(b), {Op: journal.OpTag, Run: a, Key: "t", Value: "v"}}); err != nil {
		t.Fatal(err)
	}
	got, err := v.GetRun(a)
	if err != nil {
		t.Fatal(err)
	}
	if got.Params["k"] != "1" || got.Tags["t"] != "v" || got.Metrics["x"].Value != 3 {
		t.Fatalf("run a: params %v tags %v metrics %v", got.Params, got.Tags, got.Metrics)
	}
	got.Params["k"] = "changed" // a copy
	if err := v.WithRun(a, func(doc *manifest.Run) error {
		if doc.Params["k"] != "1" {
			t.Errorf("GetRun returned the view's run")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := v.WithRun(strings.Repeat("c", 32), func(*manifest.Run) error { return nil }); !errors.Is(err, ErrNoRun) {
		t.Fatalf("missing run: %v", err)
	}
	var pending []string
	if err := v.PendingRuns(func(tip plumbing.Hash, runs map[string]*Run) {
		for id, r := range runs {
			if r.Doc != nil {
				pending = append(pending, id)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if len(pending) != 2 {
		t.Fatalf("pending runs %v", pending)
	}
	_, pts, created, err := v.PendingPoints(a, func(string) bool { return true })
	if err != nil || len(pts) != 1 || !created {
		t.Fatalf("pending points %v created %v: %v", pts, created, err)
	}
	names, _ := journal.List(s.JournalDir)
	if len(names) != 3 || v.Known(names[0]) == nil || v.Known(names[2]) == nil {
		t.Fatalf("journal %v: the view does not know every file", names)
	}
}

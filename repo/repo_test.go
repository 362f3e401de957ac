package repo

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/layout"
)

func newTestRepo(t testing.TB) (*Repo, string) {
	t.Helper()
	gittest.Setenv(t)
	dir := gittest.NewRepo(t)
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r, res, err := Init(dir, Options{Now: func() time.Time { clock = clock.Add(time.Second); return clock }}, false)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created {
		t.Fatal("first init created nothing")
	}
	return r, dir
}

func TestInitTwiceIsHarmless(t *testing.T) {
	r, dir := newTestRepo(t)
	tip1, _ := r.Tip()
	_, res, err := Init(dir, Options{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Created {
		t.Fatal("second init committed something")
	}
	tip2, _ := r.Tip()
	if tip1 != tip2 {
		t.Fatalf("tip moved: %s -> %s", tip1, tip2)
	}
	if got := gittest.Git(t, dir, "show", "mlgit:experiments/0/experiment.yaml"); !strings.Contains(got, "name: Default") {
		t.Fatalf("default experiment: %s", got)
	}
	gittest.Git(t, dir, "fsck", "--strict")
}

func TestRunLifecycle(t *testing.T) {
	r, dir := newTestRepo(t)
	// Dirty tree and staged index must survive untouched.
	os.WriteFile(filepath.Join(dir, "train.py"), []byte("print('changed')\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "new.txt"), []byte("x"), 0o644)
	gittest.Git(t, dir, "add", "new.txt")
	statusBefore := gittest.Git(t, dir, "status", "--porcelain")
	headBefore := gittest.Git(t, dir, "rev-parse", "HEAD")

	exp, err := r.CreateExperiment("churn", "", map[string]string{"team": "ml"})
	if err != nil {
		t.Fatal(err)
	}
	run, err := r.CreateRun(RunSpec{ExperimentID: exp.ID, Name: "first", Params: map[string]string{"lr": "0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	// Pending data is visible before any checkpoint.
	got, err := r.GetRun(run.ID)
	if err != nil || got.Name != "first" || got.Params["lr"] != "0.1" {
		t.Fatalf("pending run: %+v %v", got, err)
	}
	for step := int64(0); step < 10; step++ {
		_, err := r.LogBatch(run.ID, Batch{Metrics: []manifest.MetricPoint{{Key: "loss", Value: 1 / float64(step+1), Step: step, Timestamp: 1000 + step}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.LogBatch(run.ID, Batch{Metrics: []manifest.MetricPoint{{Key: "acc", Value: math.NaN(), Step: 0, Timestamp: 5}}}); err != nil {
		t.Fatal(err)
	}
	// Params are write-once.
	if _, err := r.LogBatch(run.ID, Batch{Params: []KV{{"lr", "0.2"}}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("changing a param: %v", err)
	}
	if _, err := r.LogBatch(run.ID, Batch{Params: []KV{{"lr", "0.1"}}}); err != nil {
		t.Fatalf("re-logging the same param: %v", err)
	}
	if _, err := r.LogBatch(run.ID, Batch{Params: []KV{{"bad key!", "1"}}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad key: %v", err)
	}
	if _, err := r.UpdateRun(run.ID, RunUpdate{Status: "FINISHED"}); err != nil {
		t.Fatal(err)
	}
	if r.journalHasPending() {
		t.Fatal("journal not empty after run end")
	}
	got, err = r.GetRun(run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "FINISHED" || got.EndTime == 0 {
		t.Fatalf("status %s end %d", got.Status, got.EndTime)
	}
	loss := got.Metrics["loss"]
	if loss.Count != 10 || loss.Step != 9 || loss.Value != 0.1 || loss.Min != 0.1 || loss.Max != 1 {
		t.Fatalf("loss summary %+v", loss)
	}
	hist, err := r.MetricHistory(run.ID, "loss")
	if err != nil || len(hist) != 10 || hist[3].Value != 0.25 {
		t.Fatalf("history %v %v", hist, err)
	}
	show := gittest.Git(t, dir, "show", "mlgit:"+layout.Run(run.ID))
	if !strings.Contains(show, "status: FINISHED") || !strings.Contains(show, "lr: \"0.1\"") {
		t.Fatalf("run.yaml:\n%s", show)
	}
	seg := gittest.Git(t, dir, "show", "mlgit:"+layout.Segment(run.ID, 1))
	if !strings.HasPrefix(seg, "loss\t0\t1000\t1\n") || !strings.Contains(seg, "acc\t0\t5\tNaN") {
		t.Fatalf("segment:\n%s", seg)
	}
	gittest.Git(t, dir, "fsck", "--strict")
	log := gittest.Git(t, dir, "log", "--format=%s", "mlgit")
	if !strings.Contains(log, "run "+run.ID[:8]+" finished (FINISHED)") {
		t.Fatalf("log:\n%s", log)
	}
	if s := gittest.Git(t, dir, "status", "--porcelain"); s != statusBefore {
		t.Fatalf("work tree changed:\n%s\nwas\n%s", s, statusBefore)
	}
	if h := gittest.Git(t, dir, "rev-parse", "HEAD"); h != headBefore {
		t.Fatal("HEAD moved")
	}
	if b := gittest.Git(t, dir, "symbolic-ref", "HEAD"); b != "refs/heads/main" {
		t.Fatalf("HEAD is %s", b)
	}
	runs, err := r.AllRuns()
	if err != nil || len(runs) != 1 || runs[0].ID != run.ID {
		t.Fatalf("all runs: %v %v", runs, err)
	}
	if err := r.DeleteRun(run.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.LogBatch(run.ID, Batch{Tags: []KV{{"a", "b"}}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("log to deleted run: %v", err)
	}
	hs, err := r.History(0)
	if err != nil || len(hs) < 4 || hs[0].Op != "checkpoint" {
		t.Fatalf("history: %+v %v", hs, err)
	}
}

// TestJournalIsPerBranch: records logged for one tracking branch are never
// folded into another branch's checkpoint.
func TestJournalIsPerBranch(t *testing.T) {
	r, dir := newTestRepo(t)
	run, err := r.CreateRun(RunSpec{Name: "on-main-branch"})
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := Init(dir, Options{Branch: "scratch"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if out, _ := gittest.Run(dir, "ls-tree", "-r", "--name-only", "scratch"); strings.Contains(out, run.ID) {
		t.Fatalf("run of branch mlgit was committed to scratch:\n%s", out)
	}
	if _, err := r.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if out := gittest.Git(t, dir, "ls-tree", "-r", "--name-only", "mlgit"); !strings.Contains(out, run.ID) {
		t.Fatalf("run missing from mlgit:\n%s", out)
	}
}

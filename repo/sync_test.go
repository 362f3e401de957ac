package repo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/internal/gittest"
)

// TestSyncCrashBetweenBranchAndTags: a pull that dies after moving the
// branch and before re-creating the local tags is finished by the next
// sync, from the plan it wrote first.
func TestSyncCrashBetweenBranchAndTags(t *testing.T) {
	gittest.Setenv(t)
	root := t.TempDir()
	bare := filepath.Join(root, "remote.git")
	gittest.Git(t, root, "init", "-q", "--bare", bare)
	ctx := context.Background()
	a, _ := newTestRepo(t)
	if _, err := a.Push(ctx, SyncOptions{Remote: bare}); err != nil {
		t.Fatal(err)
	}
	bdir := t.TempDir()
	gittest.Git(t, bdir, "init", "-q", "-b", "main")
	b, err := OpenRepository(bdir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Pull(ctx, SyncOptions{Remote: bare}); err != nil {
		t.Fatal(err)
	}
	reg := func(r *Repo, src string) {
		t.Helper()
		if _, err := r.RegisterVersion(VersionSpec{Name: "churn", Source: src, CreateModel: true}); err != nil {
			t.Fatal(err)
		}
	}
	reg(a, "file:///a")
	if _, err := a.Push(ctx, SyncOptions{Remote: bare}); err != nil {
		t.Fatal(err)
	}
	reg(b, "file:///b")
	crash := errors.New("killed")
	afterSyncCAS = func() error { return crash }
	_, err = b.Pull(ctx, SyncOptions{Remote: bare})
	afterSyncCAS = nil
	if !errors.Is(err, crash) {
		t.Fatalf("pull: %v", err)
	}
	if _, err := os.Stat(filepath.Join(b.branchState(), "sync.intent")); err != nil {
		t.Fatalf("no plan left behind: %v", err)
	}
	// The branch moved: b's v1 now is v2, on top of a's v1.
	if got := gittest.Git(t, bdir, "show", "mlgit:models/churn/versions/2.yaml"); !strings.Contains(got, "file:///b") {
		t.Fatalf("v2 after the crash: %s", got)
	}
	res, err := b.Push(ctx, SyncOptions{Remote: bare})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.TagsPushed, ",") != "churn@v2" {
		t.Fatalf("tags pushed: %q", res.TagsPushed)
	}
	if got := gittest.Git(t, bare, "tag", "-l", "churn*"); got != "churn@v1\nchurn@v2" {
		t.Fatalf("remote tags: %q", got)
	}
	v2 := gittest.Git(t, bare, "rev-parse", "churn@v2^{commit}")
	added := gittest.Git(t, bare, "log", "--format=%H", "--diff-filter=A", "mlgit", "--", "models/churn/versions/2.yaml")
	if v2 != added {
		t.Fatalf("churn@v2 -> %s, file added by %s", v2, added)
	}
	gittest.Git(t, bare, "fsck", "--strict")
}

// TestSyncMergesExperimentsOfOneName: two clones each create experiment
// "churn" (different ids) with a run in it. The one pushed first keeps its
// id; the other clone's experiment merges into it on push, its run moves
// there, and both clones end with one experiment of that name.
func TestSyncMergesExperimentsOfOneName(t *testing.T) {
	gittest.Setenv(t)
	root := t.TempDir()
	bare := filepath.Join(root, "remote.git")
	gittest.Git(t, root, "init", "-q", "--bare", bare)
	ctx := context.Background()
	a, _ := newTestRepo(t)
	if _, err := a.Push(ctx, SyncOptions{Remote: bare}); err != nil {
		t.Fatal(err)
	}
	bdir := t.TempDir()
	gittest.Git(t, bdir, "init", "-q", "-b", "main")
	b, err := OpenRepository(bdir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.Pull(ctx, SyncOptions{Remote: bare}); err != nil {
		t.Fatal(err)
	}
	newRun := func(r *Repo, tag string) (expID, runID string) {
		t.Helper()
		e, err := r.CreateExperiment("churn", "", map[string]string{"from": tag})
		if err != nil {
			t.Fatal(err)
		}
		run, err := r.CreateRun(RunSpec{ExperimentID: e.ID, Name: "run-" + tag})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.UpdateRun(run.ID, RunUpdate{Status: "FINISHED"}); err != nil {
			t.Fatal(err)
		}
		return e.ID, run.ID
	}
	expA, runA := newRun(a, "a")
	expB, runB := newRun(b, "b")
	if expA == expB {
		t.Fatal("same random id")
	}
	if _, err := a.Push(ctx, SyncOptions{Remote: bare}); err != nil {
		t.Fatal(err)
	}
	res, err := b.Push(ctx, SyncOptions{Remote: bare})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.MergedExperiments) != 1 || res.MergedExperiments[0] != (ExperimentMerge{Name: "churn", From: expB, To: expA}) {
		t.Fatalf("merged: %+v (result %+v)", res.MergedExperiments, res)
	}
	if _, err := a.Pull(ctx, SyncOptions{Remote: bare}); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*Repo{"a": a, "b": b} {
		exps, err := r.ListExperiments(ViewAll)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range exps {
			if e.Name == "churn" {
				n++
				if e.ID != expA {
					t.Errorf("%s: churn is %s, want %s", name, e.ID, expA)
				}
			}
		}
		if n != 1 {
			t.Errorf("%s: %d experiments named churn", name, n)
		}
		for _, id := range []string{runA, runB} {
			run, err := r.GetRun(id)
			if err != nil || run.ExperimentID != expA || !strings.HasPrefix(run.ArtifactURI, "mlflow-artifacts:/"+expA+"/") {
				t.Errorf("%s: run %s: %+v %v", name, id, run, err)
			}
		}
	}
	if _, err := b.GetExperiment(expB); !errors.Is(err, ErrNotFound) {
		t.Errorf("the merged experiment %s is still there: %v", expB, err)
	}
	gittest.Git(t, bare, "fsck", "--strict")
}

package repo

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/manifest"
)

// promisorPacks counts the packs fetches into a partial clone made.
func promisorPacks(t *testing.T, dir string) int {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "*.promisor"))
	return len(m)
}

// TestPartialClone: in a blob:none clone of the tracking branch, listing
// the runs fetches all their run.yaml blobs in one request, a second
// listing fetches nothing, and reading a run's history fetches what it
// lacks.
func TestPartialClone(t *testing.T) {
	r, dir := newTestRepo(t)
	for i := 0; i < 20; i++ {
		run, err := r.CreateRun(RunSpec{Params: map[string]string{"i": string(rune('a' + i))}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.LogBatch(run.ID, Batch{Metrics: []manifest.MetricPoint{{Key: "loss", Value: float64(i), Step: 1, Timestamp: 1}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.UpdateRun(run.ID, RunUpdate{Status: manifest.StatusFinished}); err != nil {
			t.Fatal(err)
		}
	}
	// A run whose history is in three segments (three checkpoints).
	mr, err := r.CreateRun(RunSpec{Params: map[string]string{"i": "multi"}})
	if err != nil {
		t.Fatal(err)
	}
	multi := mr.ID
	for step := 0; step < 3; step++ {
		if _, err := r.LogBatch(multi, Batch{Metrics: []manifest.MetricPoint{{Key: "loss", Value: 1, Step: int64(step), Timestamp: 1}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Checkpoint(); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	bare := filepath.Join(t.TempDir(), "remote.git")
	gittest.Git(t, dir, "clone", "-q", "--bare", "--no-local", dir, bare)
	gittest.Git(t, bare, "config", "uploadpack.allowFilter", "true")
	gittest.Git(t, bare, "config", "uploadpack.allowAnySHA1InWant", "true")
	clone := filepath.Join(t.TempDir(), "clone")
	gittest.Git(t, dir, "clone", "-q", "--filter=blob:none", "--no-checkout", "-b", "mlgit", "file://"+bare, clone)
	before := promisorPacks(t, clone)
	c, err := Open(clone, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	page, err := c.SearchRuns(RunSearch{Filter: "params.i = 'c'"})
	if err != nil || len(page.Runs) != 1 {
		t.Fatalf("search in a partial clone: %+v %v", page, err)
	}
	if got := promisorPacks(t, clone) - before; got != 1 {
		t.Fatalf("listing 20 runs made %d fetches, want 1", got)
	}
	c2, err := Open(clone, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if page, err := c2.SearchRuns(RunSearch{}); err != nil || len(page.Runs) != 21 {
		t.Fatalf("second listing: %d %v", len(page.Runs), err)
	}
	if got := promisorPacks(t, clone) - before; got != 1 {
		t.Fatalf("a second listing fetched again (%d fetches)", got)
	}
	hist, err := c2.MetricHistory(multi, "loss")
	if err != nil || len(hist) != 3 {
		t.Fatalf("history in a partial clone: %v %v", hist, err)
	}
	if got := promisorPacks(t, clone) - before; got != 2 {
		t.Fatalf("the history of a run of 3 segments made %d fetches, want 1", got-1)
	}
	// The source, a full clone, is no promisor's.
	if p := c.objects.Promisor(); p != "origin" {
		t.Fatalf("promisor of the partial clone: %q", p)
	}
	full, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	if p := full.objects.Promisor(); p != "" {
		t.Fatalf("promisor of a full clone: %q", p)
	}
	if out := gittest.Git(t, clone, "fsck", "--connectivity-only"); strings.Contains(out, "missing") {
		t.Fatalf("fsck: %s", out)
	}
}

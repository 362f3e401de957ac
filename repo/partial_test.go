package repo

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
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

// promisorObjects counts the objects in the packs that fetches into a
// partial clone made (each pack index's object count).
func promisorObjects(t *testing.T, dir string) int {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "*.promisor"))
	n := 0
	for _, p := range m {
		idx, err := os.ReadFile(strings.TrimSuffix(p, ".promisor") + ".idx")
		if err != nil || len(idx) < 8+256*4 {
			t.Fatalf("index of %s: %v", p, err)
		}
		n += int(binary.BigEndian.Uint32(idx[8+255*4:]))
	}
	return n
}

// TestPartialTreelessWrites: in a tree:0 clone (commits only), logging a
// run, registering, promoting, pushing over another clone's push and
// pulling work, each with one or two fetches that bring no more than the
// tip's tree structure, the new commits and the few manifests they read;
// together they fetch a small part of the history, never all of it (a
// push to a remote that moved fetches first: git push itself would fetch
// the remote's new tip with its whole history).
func TestPartialTreelessWrites(t *testing.T) {
	r, dir := newTestRepo(t)
	ctx := context.Background()
	addRuns := func(r *Repo, n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			run, err := r.CreateRun(RunSpec{Params: map[string]string{"i": strconv.Itoa(i)}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.LogBatch(run.ID, Batch{Metrics: []manifest.MetricPoint{{Key: "loss", Value: float64(i), Step: 1, Timestamp: 1}}}); err != nil {
				t.Fatal(err)
			}
			if _, err := r.UpdateRun(run.ID, RunUpdate{Status: manifest.StatusFinished}); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Checkpoint(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A history: 40 runs, each created, logged to and finished, so that
	// every run.yaml had several versions.
	addRuns(r, 40)
	for v := 0; v < 3; v++ {
		if _, err := r.RegisterVersion(VersionSpec{Name: "churn", Source: "file:///m", CreateModel: true}); err != nil {
			t.Fatal(err)
		}
	}
	bare := filepath.Join(t.TempDir(), "remote.git")
	gittest.Git(t, dir, "init", "-q", "--bare", bare)
	gittest.Git(t, bare, "config", "uploadpack.allowFilter", "true")
	gittest.Git(t, bare, "config", "uploadpack.allowAnySHA1InWant", "true")
	if _, err := r.Push(ctx, SyncOptions{Remote: bare}); err != nil {
		t.Fatal(err)
	}
	countObjects := func(dir, rev string) int {
		return len(strings.Fields(gittest.Git(t, dir, "rev-list", "--objects", rev)))
	}
	history := countObjects(bare, "mlgit")
	tipTrees := len(strings.Fields(gittest.Git(t, bare, "ls-tree", "-r", "-d", "--format=%(objectname)", "mlgit"))) + 1

	clone := filepath.Join(t.TempDir(), "clone")
	gittest.Git(t, dir, "clone", "-q", "--filter=tree:0", "--no-checkout", "-b", "mlgit", "file://"+bare, clone)
	if v := os.Getenv("XCFG"); v != "" {
		k, val, _ := strings.Cut(v, "=")
		gittest.Git(t, clone, "config", k, val)
	}
	c, err := Open(clone, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var fetched int
	step := func(name string, maxFetches int, fn func() error) {
		t.Helper()
		packs, objs := promisorPacks(t, clone), promisorObjects(t, clone)
		if err := fn(); err != nil {
			t.Fatalf("%s in a tree:0 clone: %v", name, err)
		}
		n, o := promisorPacks(t, clone)-packs, promisorObjects(t, clone)-objs
		fetched += o
		t.Logf("%s: %d fetches, %d objects (the tip has %d trees; the history %d objects)", name, n, o, tipTrees, history)
		if n > maxFetches || o > tipTrees+32 {
			t.Errorf("%s: %d fetches of %d objects, want at most %d fetches of at most %d (the tip's trees, new commits and a few manifests)", name, n, o, maxFetches, tipTrees+32)
		}
	}
	var runID string
	// The first write fetches the tip's tree structure, then mlgit.yaml.
	step("log a run", 2, func() error {
		run, err := c.CreateRun(RunSpec{Params: map[string]string{"from": "clone"}})
		if err != nil {
			return err
		}
		runID = run.ID
		if _, err := c.LogBatch(run.ID, Batch{Metrics: []manifest.MetricPoint{{Key: "loss", Value: 0.5, Step: 1, Timestamp: 1}}}); err != nil {
			return err
		}
		if _, err := c.UpdateRun(run.ID, RunUpdate{Status: manifest.StatusFinished}); err != nil {
			return err
		}
		_, err = c.Checkpoint()
		return err
	})
	step("register", 1, func() error {
		_, err := c.RegisterVersion(VersionSpec{Name: "churn", Source: "file:///clone", RunID: runID})
		return err
	})
	step("promote", 1, func() error {
		_, err := c.Promote(PromoteSpec{Name: "churn", Version: 4, Stage: "Staging"})
		return err
	})
	addRuns(r, 3)
	if _, err := r.Push(ctx, SyncOptions{Remote: bare}); err != nil {
		t.Fatal(err)
	}
	// The new commits, then the new tip's tree structure to re-apply the
	// local commits on.
	step("push over another clone's push", 2, func() error {
		_, err := c.Push(ctx, SyncOptions{Remote: "origin"})
		return err
	})
	addRuns(r, 3)
	if _, err := r.Pull(ctx, SyncOptions{Remote: bare}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Push(ctx, SyncOptions{Remote: bare}); err != nil {
		t.Fatal(err)
	}
	step("pull", 1, func() error {
		_, err := c.Pull(ctx, SyncOptions{Remote: "origin"})
		return err
	})
	page, err := c.SearchRuns(RunSearch{Filter: "params.from = 'clone'"})
	if err != nil || len(page.Runs) != 1 || page.Runs[0].ID != runID {
		t.Fatalf("the clone's run after push and pull: %+v %v", page, err)
	}
	if v, err := c.GetVersion("churn", 4); err != nil || v.Stage != "Staging" {
		t.Fatalf("churn v4 after push and pull: %+v %v", v, err)
	}
	t.Logf("fetched %d objects in all; the history has %d", fetched, history)
	if fetched > history/2 {
		t.Errorf("the writes, push and pull fetched %d objects of a history of %d", fetched, history)
	}
	if out := gittest.Git(t, clone, "fsck", "--connectivity-only"); strings.Contains(out, "missing") {
		t.Fatalf("fsck: %s", out)
	}
}

// TestPartialModels: in a blob:none clone, listing the models and each
// model's versions fetches every model and version manifest in one
// request, not one per file.
func TestPartialModels(t *testing.T) {
	r, dir := newTestRepo(t)
	for _, m := range []string{"churn", "fraud", "ranker"} {
		for v := 0; v < 3; v++ {
			if _, err := r.RegisterVersion(VersionSpec{Name: m, Source: "file:///" + m, CreateModel: true}); err != nil {
				t.Fatal(err)
			}
		}
	}
	r.Close()
	bare := filepath.Join(t.TempDir(), "remote.git")
	gittest.Git(t, dir, "clone", "-q", "--bare", "--no-local", dir, bare)
	gittest.Git(t, bare, "config", "uploadpack.allowFilter", "true")
	gittest.Git(t, bare, "config", "uploadpack.allowAnySHA1InWant", "true")
	clone := filepath.Join(t.TempDir(), "clone")
	gittest.Git(t, dir, "clone", "-q", "--filter=blob:none", "--no-checkout", "-b", "mlgit", "file://"+bare, clone)
	c, err := Open(clone, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	before := promisorPacks(t, clone)
	models, err := c.ListModels()
	if err != nil || len(models) != 3 {
		t.Fatalf("models in a partial clone: %d %v", len(models), err)
	}
	for _, m := range models {
		vs, err := c.ListVersions(m.Name, "")
		if err != nil || len(vs) != 3 || vs[2].Source != "file:///"+m.Name {
			t.Fatalf("versions of %s in a partial clone: %+v %v", m.Name, vs, err)
		}
	}
	if got := promisorPacks(t, clone) - before; got != 1 {
		t.Fatalf("listing 3 models of 3 versions made %d fetches, want 1", got)
	}
}

package runindex

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
	"github.com/mlgit/mlgit/repo/internal/layout"
)

// commitRuns commits a tree holding the runs and returns the commit and
// the repository's objects.
func commitRuns(t *testing.T, runs ...*manifest.Run) (plumbing.Hash, *gitobj.DB) {
	t.Helper()
	gittest.Setenv(t)
	dir := gittest.NewRepo(t)
	for _, r := range runs {
		p := filepath.Join(dir, filepath.FromSlash(layout.Run(r.ID)))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, r.Encode(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gittest.Git(t, dir, "add", "-A")
	gittest.Git(t, dir, "commit", "-q", "-m", "runs")
	tip := plumbing.NewHash(strings.TrimSpace(gittest.Git(t, dir, "rev-parse", "HEAD")))
	db := gitobj.Open(filepath.Join(dir, ".git"))
	t.Cleanup(func() { db.Close() })
	return tip, db
}

func testRun(id, name string) *manifest.Run {
	return &manifest.Run{Header: manifest.Header{APIVersion: manifest.APIVersion, Kind: manifest.KindRun}, ID: id, ExperimentID: "0", Name: name, Status: manifest.StatusRunning,
		LifecycleStage: manifest.LifecycleActive, StartTime: 1, Params: map[string]string{"lr": "0.1"}}
}

// TestCacheAndLive: a Cache refreshes an index, writes its file and reads
// it back; a Live index of it answers from the committed rows and the
// pending ones, rebuilding a pending row only when its run changed.
func TestCacheAndLive(t *testing.T) {
	a, b := strings.Repeat("a", 32), strings.Repeat("b", 32)
	tip, db := commitRuns(t, testRun(a, "first"))
	path := filepath.Join(t.TempDir(), "index", "runs.idx")
	c := NewCache(db, path)
	idx, err := c.At(tip)
	if err != nil || idx.Len() != 1 || idx.Commit() != tip {
		t.Fatalf("index: %v", err)
	}
	if again, _ := c.At(tip); again != idx {
		t.Fatal("the cache refreshed the index of its own commit")
	}
	c.Wait()
	if f := Load(path); f == nil || f.Commit() != tip {
		t.Fatal("cache file not written")
	}
	if idx2, err := NewCache(db, path).At(tip); err != nil || idx2.Len() != 1 {
		t.Fatalf("index from the file: %v", err)
	}

	l := NewLive(db, idx)
	s, err := l.At(tip)
	if err != nil || s.Tip() != tip {
		t.Fatalf("snapshot: %v", err)
	}
	all := func(*MemRow) bool { return true }
	rows := s.Select(nil, all)
	if len(rows) != 1 {
		t.Fatalf("%d rows", len(rows))
	}
	doc, err := l.Decode(rows[0])
	if err != nil || doc.ID != a || doc.Name != "first" {
		t.Fatalf("decode: %+v %v", doc, err)
	}

	pending := func(runs map[string]PendingRun) map[string]*MemRow {
		return l.PendingRows(len(runs), func(yield func(string, PendingRun) bool) {
			for id, pr := range runs {
				if !yield(id, pr) {
					return
				}
			}
		})
	}
	changed := testRun(a, "renamed")
	p1 := pending(map[string]PendingRun{a: {Doc: changed, Ver: 1}, b: {Ver: 2}})
	if p1[a] == nil || p1[b] != nil {
		t.Fatalf("pending rows %v", p1)
	}
	changed.Name = "changed after"
	p2 := pending(map[string]PendingRun{a: {Doc: changed, Ver: 1}})
	if p2[a] != p1[a] {
		t.Fatal("a row of an unchanged run was built again")
	}
	rows = s.Select(p2, all)
	if len(rows) != 1 {
		t.Fatalf("%d rows with pending", len(rows))
	}
	if doc, _ := l.Decode(rows[0]); doc.Name != "renamed" {
		t.Fatalf("pending row: %q (the row must hold a copy)", doc.Name)
	}
	if p3 := pending(map[string]PendingRun{a: {Doc: changed, Ver: 3}}); p3[a] == p1[a] {
		t.Fatal("a row of a changed run was not built again")
	}
	if err := l.SaveCache(path); err != nil {
		t.Fatal(err)
	}
}

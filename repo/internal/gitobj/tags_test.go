package gitobj

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// TestPeelCached: Peel answers a tag object from its cache the second
// time, the same as the first, and the tag it returns is the caller's.
func TestPeelCached(t *testing.T) {
	gitDir := t.TempDir()
	db := Open(gitDir)
	defer db.Close()
	commit, err := db.WriteObject(plumbing.CommitObject, []byte("tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor a <a> 1 +0000\ncommitter a <a> 1 +0000\n\nc\n"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := db.WriteTag(&object.Tag{Name: "m@v1", Tagger: object.Signature{Name: "a", Email: "a"}, Message: "registered\n", TargetType: plumbing.CommitObject, Target: commit})
	if err != nil {
		t.Fatal(err)
	}
	c1, t1, err := db.Peel(h)
	if err != nil || c1 != commit || t1 == nil || t1.Name != "m@v1" {
		t.Fatalf("first peel: %s %+v %v", c1, t1, err)
	}
	t1.Name = "changed by the caller"
	// The object is gone from disk: only the cache can answer now.
	hs := h.String()
	if err := os.Remove(filepath.Join(gitDir, "objects", hs[:2], hs[2:])); err != nil {
		t.Fatal(err)
	}
	c2, t2, err := db.Peel(h)
	if err != nil || c2 != commit || t2 == nil || t2.Name != "m@v1" {
		t.Fatalf("second peel, from the cache: %s %+v %v", c2, t2, err)
	}
}

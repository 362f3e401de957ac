package gitobj

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/mlgit/mlgit/internal/durable"
)

// TestSyncObjects: a ref move makes the loose objects written before it
// durable (each file, its folder, objects/), once.
func TestSyncObjects(t *testing.T) {
	gitDir := t.TempDir()
	db := Open(gitDir)
	defer db.Close()
	var points []string
	var mu sync.Mutex // SyncObjects fsyncs in parallel
	durable.Hook = func(k durable.Kind, p string) {
		rel, _ := filepath.Rel(gitDir, p)
		mu.Lock()
		points = append(points, rel)
		mu.Unlock()
	}
	defer func() { durable.Hook = nil }()
	write := func(s string) plumbing.Hash {
		h, err := db.WriteObject(plumbing.BlobObject, []byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	h := write("c")
	if err := SyncObjects(gitDir); err != nil {
		t.Fatal(err)
	}
	hs := h.String()
	want := []string{filepath.Join("objects", hs[:2], hs[2:]), filepath.Join("objects", hs[:2]), "objects"}
	sort.Strings(points)
	sort.Strings(want)
	if strings.Join(points, " ") != strings.Join(want, " ") {
		t.Fatalf("durability points %v, want %v", points, want)
	}
	points = nil
	if err := SyncObjects(gitDir); err != nil || len(points) != 0 {
		t.Fatalf("nothing new to sync, yet %v (%v)", points, err)
	}
	// An object found already there may be another process's, never
	// synced: it is synced too.
	write("a")
	if err := SyncObjects(gitDir); err != nil || len(points) != 3 {
		t.Fatalf("an existing object rewritten: points %v (%v)", points, err)
	}
	// git gc packs the objects and removes their folder meanwhile: the
	// next ref move is not refused for it.
	write("d")
	hd := plumbing.ComputeHash(plumbing.BlobObject, []byte("d")).String()
	if err := os.RemoveAll(filepath.Join(gitDir, "objects", hd[:2])); err != nil {
		t.Fatal(err)
	}
	if err := SyncObjects(gitDir); err != nil {
		t.Fatalf("objects packed and pruned meanwhile: %v", err)
	}
	// Many objects (an import's batch): one syncfs.
	points = nil
	for i := 0; i <= syncFSAbove; i++ {
		write("many " + strconv.Itoa(i))
	}
	if err := SyncObjects(gitDir); err != nil || len(points) != 1 || points[0] != "." {
		t.Fatalf("%d objects: durability points %v (%v), want one syncfs", syncFSAbove+1, points, err)
	}
	// An empty object file (what a power loss leaves of an object whose
	// name was durable before its content) is written again.
	p := filepath.Join(gitDir, "objects", hs[:2], hs[2:])
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	write("c")
	if data, err := db.ReadObject(plumbing.BlobObject, h); err != nil || string(data) != "c" {
		t.Fatalf("after rewriting an empty object file: %q, %v", data, err)
	}
}

package durable

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDisableForBenchmark: while disabled no durability point syncs (the
// hook sees none); after restore each one does again.
func TestDisableForBenchmark(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var seen []Kind
	Hook = func(k Kind, _ string) { seen = append(seen, k) }
	defer func() { Hook = nil }()
	points := func() {
		for _, err := range []error{Sync(f), Datasync(f), SyncDir(dir), SyncFS(dir)} {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	restore := DisableForBenchmark()
	points()
	if len(seen) != 0 {
		t.Fatalf("disabled, yet %d durability points synced", len(seen))
	}
	restore()
	points()
	if want := []Kind{File, File, Dir, FS}; len(seen) != len(want) || seen[0] != want[0] || seen[2] != want[2] || seen[3] != want[3] {
		t.Fatalf("after restore: %v, want %v", seen, want)
	}
}

package journal

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mlgit/mlgit/manifest"
)

// inodes returns the inode numbers of the files in dir.
func inodes(t *testing.T, dir string) map[uint64]bool {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint64]bool{}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out[fi.Sys().(*syscall.Stat_t).Ino] = true
	}
	return out
}

// TestKeepSparesRefills: a write never creates a journal file's inode
// while KeepSpares runs: every published file is a spare it made, and
// when writes take the spares below a quarter of what it keeps it makes
// them again in the background.
func TestKeepSparesRefills(t *testing.T) {
	dir := t.TempDir()
	w := NewWriter(dir)
	w.SetObserver(nopObserver{})
	w.SetMaxSpares(64)
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := w.StartWAL(); err != nil {
		t.Fatal(err)
	}
	defer w.StopWAL()
	stop := make(chan struct{})
	kept := make(chan struct{})
	go func() {
		defer close(kept)
		w.KeepSpares(16, stop)
	}()
	defer func() { close(stop); <-kept }()
	held := func() int { _, h := w.Spares(); return len(h) }
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d spares held", what, held())
			}
		}
	}
	waitFor("16 spares made at start", func() bool { return held() == 16 })
	made := inodes(t, filepath.Join(dir, "tmp"))
	// 13 writes leave 3 spares, under a quarter of 16: KeepSpares makes
	// 13 more, while no write makes a file of its own.
	for i := 0; i < 13; i++ {
		if err := w.AppendPoints(nil, "r", []manifest.MetricPoint{{Key: "m", Value: 1, Step: int64(i), Timestamp: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	published := inodes(t, dir)
	if len(published) != 13 {
		t.Fatalf("%d journal files, want 13", len(published))
	}
	for ino := range published {
		if !made[ino] {
			t.Fatalf("a write created journal file inode %d instead of using a spare", ino)
		}
	}
	if n := w.Solo(); n != 13 {
		t.Fatalf("%d groups of one request, want 13 (one writer)", n)
	}
	if c := w.Created(); c != 0 {
		t.Fatalf("writes created %d files", c)
	}
	waitFor("refilled to 16", func() bool { return held() == 16 })
	if m, _ := w.Spares(); m != 29 {
		t.Fatalf("%d spares made, want 16 + 13", m)
	}
}

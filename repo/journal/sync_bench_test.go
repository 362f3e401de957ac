package journal

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlgit/mlgit/internal/durable"
)

// BenchmarkSyncCost is what acknowledging one group of journal records
// costs on the file system of TMPDIR, the two ways a Writer does it: one
// fdatasync of an appended log (a live store, wal.go), against a new
// file fsynced, renamed into the folder and the folder fsynced (every
// other writer). docs/server.md quotes it:
//
//	TMPDIR=/var/tmp go test -run '^$' -bench SyncCost -benchtime 2000x ./repo/journal/
func BenchmarkSyncCost(b *testing.B) {
	rec := make([]byte, 300)
	b.Run("log-append-fdatasync", func(b *testing.B) {
		f, err := os.OpenFile(filepath.Join(b.TempDir(), "log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		for b.Loop() {
			if _, err := f.Write(rec); err != nil {
				b.Fatal(err)
			}
			if err := durable.Datasync(f); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("file-fsync-rename-dirsync", func(b *testing.B) {
		dir := b.TempDir()
		i := 0
		for b.Loop() {
			tmp := filepath.Join(dir, "tmp")
			f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := f.Write(rec); err != nil {
				b.Fatal(err)
			}
			if err := durable.Sync(f); err != nil {
				b.Fatal(err)
			}
			f.Close()
			i++
			if err := os.Rename(tmp, filepath.Join(dir, fmt.Sprintf("%d.jnl", i))); err != nil {
				b.Fatal(err)
			}
			if err := durable.SyncDir(dir); err != nil {
				b.Fatal(err)
			}
		}
	})
}

package journal

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/mlgit/mlgit/internal/durable"
)

// BenchmarkSyncCostOverwrite is BenchmarkSyncCost's appended fdatasync
// with the file's blocks allocated first (fallocate), records written
// one after the other into them: the fdatasync then has no size to
// record, only the data and the device's cache flush. It is this
// machine's floor for acknowledging a group durably:
//
//	TMPDIR=/var/tmp go test -run '^$' -bench 'SyncCost' -benchtime 5000x ./repo/journal/
func BenchmarkSyncCostOverwrite(b *testing.B) {
	rec := make([]byte, 300)
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "log"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Fallocate(int(f.Fd()), 0, 0, int64(b.N+1)*int64(len(rec))); err != nil {
		b.Skipf("fallocate: %v", err)
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	off := int64(0)
	for b.Loop() {
		if _, err := f.WriteAt(rec, off); err != nil {
			b.Fatal(err)
		}
		off += int64(len(rec))
		if err := durable.Datasync(f); err != nil {
			b.Fatal(err)
		}
	}
}

package blob

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingStore counts Puts and the keys written, and can fail the Put of
// file objects or chunks after a number of them.
type countingStore struct {
	Store
	mu          sync.Mutex
	puts        []string
	failChunkAt int // fail the n-th chunk Put (1-based); 0 = never
	chunkPuts   int
}

func (c *countingStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	c.mu.Lock()
	if strings.HasPrefix(key, chunkDir) {
		c.chunkPuts++
		if c.failChunkAt > 0 && c.chunkPuts >= c.failChunkAt {
			c.mu.Unlock()
			return errors.New("connection lost")
		}
	}
	c.puts = append(c.puts, key)
	c.mu.Unlock()
	return c.Store.Put(ctx, key, r, size)
}

func TestCopy(t *testing.T) {
	ctx := context.Background()
	src := NewMem("src")
	a := randBytes(80, 5<<20)
	b := append(bytes.Clone(a[:3<<20]), randBytes(81, 2<<20)...) // shares a's start
	c := textLike(82, 1<<20)
	da, db, dc := mustAdd(t, src, a), mustAdd(t, src, b), mustAdd(t, src, c)

	dst := &countingStore{Store: NewMem("dst")}
	var calls [][2]int64
	stats, err := Copy(ctx, src, dst, []Digest{da, db, dc, da}, CopyOptions{Parallel: 3, Progress: func(done, total int64) {
		calls = append(calls, [2]int64{done, total})
	}})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Files != 3 || stats.FilesSkipped != 0 || stats.ChunksSkipped != 0 || stats.Chunks == 0 {
		t.Fatalf("stats = %+v", stats)
	}
	// Shared chunks are copied once: the content copied is less than a+b+c.
	if stats.Bytes >= int64(len(a)+len(b)+len(c)) || stats.Bytes < int64(len(a)+len(c)) {
		t.Fatalf("copied %d content bytes for files of %d+%d+%d", stats.Bytes, len(a), len(b), len(c))
	}
	// Progress starts at 0, never decreases and ends at total.
	if len(calls) < 2 || calls[0][0] != 0 || calls[len(calls)-1][0] != calls[len(calls)-1][1] || calls[0][1] != stats.Bytes {
		t.Fatalf("progress calls = %v", calls)
	}
	for i := 1; i < len(calls); i++ {
		if calls[i][0] < calls[i-1][0] {
			t.Fatalf("progress went backwards: %v", calls)
		}
	}
	// File objects come after all chunks.
	seenFile := false
	for _, k := range dst.puts {
		if strings.HasPrefix(k, fileDir) {
			seenFile = true
		} else if seenFile {
			t.Fatalf("chunk %s written after a file object: %v", k, dst.puts)
		}
	}
	for d, data := range map[Digest][]byte{da: a, db: b, dc: c} {
		if got, err := readAllBlob(t, dst, d); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("copied blob %s: %v", d.Short(), err)
		}
	}
	// A second copy transfers nothing.
	dst.puts = nil
	stats, err = Copy(ctx, src, dst, []Digest{da, db, dc}, CopyOptions{})
	if err != nil || stats.FilesSkipped != 3 || stats.Files != 0 || len(dst.puts) != 0 {
		t.Fatalf("second copy: %+v, %v, puts %v", stats, err, dst.puts)
	}
	// A digest src lacks fails before anything is written.
	missing := Sum([]byte("missing"))
	_, err = Copy(ctx, src, NewMem("empty"), []Digest{da, missing}, CopyOptions{})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), missing.String()) {
		t.Fatalf("copy of missing digest = %v", err)
	}
}

func TestCopyResumesAfterInterruption(t *testing.T) {
	ctx := context.Background()
	src := NewMem("src")
	data := randBytes(83, 16<<20)
	d := mustAdd(t, src, data)
	dstMem := NewMem("dst")
	dst := &countingStore{Store: dstMem, failChunkAt: 5}
	_, err := Copy(ctx, src, dst, []Digest{d}, CopyOptions{Parallel: 1})
	if err == nil || !strings.Contains(err.Error(), "connection lost") {
		t.Fatalf("interrupted copy = %v", err)
	}
	if has, _ := Has(ctx, dstMem, []Digest{d}); has[d] {
		t.Fatal("file object copied although chunks are missing")
	}
	dst.failChunkAt = 0
	stats, err := Copy(ctx, src, dst, []Digest{d}, CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if stats.ChunksSkipped != 4 || stats.Files != 1 {
		t.Fatalf("resumed copy: %+v; want the 4 chunks copied before to be skipped", stats)
	}
	if err := Verify(ctx, dstMem, d); err != nil {
		t.Fatal(err)
	}
}

func TestCopyRefusesCorruptSource(t *testing.T) {
	ctx := context.Background()
	src := NewMem("src")
	d := mustAdd(t, src, randBytes(84, 3<<20))
	fi, _ := readFileIndex(ctx, src, d)
	victim := fi.Chunks[0].ID
	obj := readObject(t, src, ChunkKey(victim))
	obj[100] ^= 0xff
	src.Overwrite(ChunkKey(victim), obj)
	dst := NewMem("dst")
	_, err := Copy(ctx, src, dst, []Digest{d}, CopyOptions{})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), victim.String()) {
		t.Fatalf("copy from corrupt source = %v", err)
	}
	if _, err := dst.Stat(ctx, ChunkKey(victim)); !errors.Is(err, ErrNotFound) {
		t.Fatal("corrupt chunk was copied")
	}
}

func TestGC(t *testing.T) {
	ctx := context.Background()
	st := NewMem("gc")
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st.SetClock(func() time.Time { return clock })
	shared := randBytes(90, 2<<20)
	a := append(bytes.Clone(shared), randBytes(91, 2<<20)...)
	b := append(bytes.Clone(shared), randBytes(92, 2<<20)...)
	c := randBytes(93, 1<<20)
	da, db, dc := mustAdd(t, st, a), mustAdd(t, st, b), mustAdd(t, st, c)
	st.Put(ctx, "other/thing", strings.NewReader("not ours"), 8)
	keysOf := func(d Digest) []string { k, _ := Keys(ctx, st, d); return k }
	ka, kb, kc := keysOf(da), keysOf(db), keysOf(dc)

	// Something added after the cut-off, unreferenced: kept.
	clock = clock.Add(2 * time.Hour)
	dy := mustAdd(t, st, randBytes(94, 1<<20))
	cutoff := clock.Add(-time.Hour)

	keep := map[Digest]bool{da: true}
	dry, err := GC(ctx, st, keep, cutoff, true)
	if err != nil {
		t.Fatal(err)
	}
	// b's own chunks and c's chunk go, with their file objects.
	bOnly := 0
	for _, k := range kb[1:] {
		if !contains(ka, k) {
			bOnly++
		}
	}
	want := GCStats{FilesDeleted: 2, ChunksDeleted: bOnly + len(kc) - 1, FilesKept: 2, Young: 1}
	if dry.FilesDeleted != want.FilesDeleted || dry.ChunksDeleted != want.ChunksDeleted || dry.FilesKept != want.FilesKept || dry.Young != want.Young {
		t.Fatalf("dry run = %+v, want %+v", dry, want)
	}
	if has, _ := Has(ctx, st, []Digest{db, dc}); !has[db] || !has[dc] {
		t.Fatal("dry run deleted something")
	}
	stats, err := GC(ctx, st, keep, cutoff, false)
	if err != nil {
		t.Fatal(err)
	}
	if stats.FilesDeleted != dry.FilesDeleted || stats.ChunksDeleted != dry.ChunksDeleted || stats.BytesDeleted != dry.BytesDeleted || stats.BytesDeleted == 0 {
		t.Fatalf("gc = %+v, dry run said %+v", stats, dry)
	}
	for _, d := range []Digest{da, dy} {
		if err := Verify(ctx, st, d); err != nil {
			t.Fatalf("kept blob %s damaged by GC: %v", d.Short(), err)
		}
	}
	if has, _ := Has(ctx, st, []Digest{db, dc}); has[db] || has[dc] {
		t.Fatal("unkept old blobs survived GC")
	}
	if _, err := st.Stat(ctx, "other/thing"); err != nil {
		t.Fatal("GC deleted a key outside files/ and chunks/")
	}
	// Nothing is left to collect.
	again, err := GC(ctx, st, keep, cutoff, false)
	if err != nil || again.FilesDeleted != 0 || again.ChunksDeleted != 0 {
		t.Fatalf("second GC = %+v, %v", again, err)
	}
}

func TestGCStopsOnUnreadableKeptFile(t *testing.T) {
	ctx := context.Background()
	st := NewMem("gc-bad")
	data := randBytes(95, 1<<20)
	d := mustAdd(t, st, data)
	old := mustAdd(t, st, randBytes(96, 1<<20))
	st.Overwrite(FileKey(d), []byte("garbage"))
	_, err := GC(ctx, st, map[Digest]bool{d: true}, time.Now().Add(time.Hour), false)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("GC with a corrupt kept file object = %v, want ErrCorrupt", err)
	}
	if _, err := st.Stat(ctx, ChunkKey(chunkSum(data))); err != nil {
		t.Fatal("GC deleted chunks although it could not read a kept file object")
	}
	_ = old
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

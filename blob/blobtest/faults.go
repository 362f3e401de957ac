package blobtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"path"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlgit/mlgit/blob"
)

// Helpers for the fault tests of the backends: damaging stored chunks,
// failing uploads, unreachable endpoints and memory use.

// ChunkKey returns the key of chunk i of blob d in st and the chunk's ID.
func ChunkKey(t testing.TB, st blob.Store, d blob.Digest, i int) (string, blob.ChunkID) {
	t.Helper()
	keys, err := blob.Keys(context.Background(), st, d)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 2+i {
		t.Fatalf("blob has %d keys", len(keys))
	}
	key := keys[1+i]
	cd, err := blob.ParseChunkID("blake3:" + path.Base(key))
	if err != nil {
		t.Fatal(err)
	}
	return key, cd
}

// Flip returns a copy of b with one bit of byte i changed.
func Flip(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 0x10
	return b
}

// RequireCorrupt checks that Verify and a full read of d fail with
// ErrCorrupt, Verify naming the chunk named.
func RequireCorrupt(t testing.TB, st blob.Store, d blob.Digest, named blob.ChunkID) {
	t.Helper()
	ctx := context.Background()
	err := blob.Verify(ctx, st, d)
	if !errors.Is(err, blob.ErrCorrupt) || !strings.Contains(err.Error(), named.String()) {
		t.Fatalf("Verify = %v, want ErrCorrupt naming %s", err, named)
	}
	rc, _, err := blob.Open(ctx, st, d)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	if !errors.Is(err, blob.ErrCorrupt) {
		t.Fatalf("reading to the end = %v, want ErrCorrupt", err)
	}
}

// FlippedChunkDetected adds a 3 MiB blob to st, overwrites its first
// chunk with write (the backend's raw client, behind Put's back) with the
// chunk's bytes but its last byte flipped, and checks that Verify and a
// read report the chunk corrupt. It returns the blob and the chunk's key.
func FlippedChunkDetected(t testing.TB, st blob.Store, write func(key string, data []byte) error) (blob.Digest, string) {
	t.Helper()
	ctx := context.Background()
	d, _, err := blob.Add(ctx, st, bytes.NewReader(Data(2, 3<<20)))
	if err != nil {
		t.Fatal(err)
	}
	if err := blob.Verify(ctx, st, d); err != nil {
		t.Fatal(err)
	}
	key, cd := ChunkKey(t, st, d, 0)
	rc, err := st.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := write(key, Flip(b, len(b)-1)); err != nil {
		t.Fatal(err)
	}
	RequireCorrupt(t, st, d, cd)
	return d, key
}

// FailingReader returns a reader whose every Read fails with err.
func FailingReader(err error) io.Reader { return errReader{err} }

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// InterruptedAddResumes adds a 9 MiB blob to st whose reader dies after
// 6 MiB, checks that the blob is not there, and that adding it again
// completes it reusing the chunks already stored.
func InterruptedAddResumes(t testing.TB, st blob.Store) {
	t.Helper()
	ctx := context.Background()
	data := Data(4, 9<<20)
	boom := errors.New("killed")
	_, _, err := blob.Add(ctx, st, io.MultiReader(bytes.NewReader(data[:6<<20]), FailingReader(boom)))
	if !errors.Is(err, boom) {
		t.Fatalf("Add = %v, want %v", err, boom)
	}
	d := blob.Sum(data)
	if has, err := blob.Has(ctx, st, []blob.Digest{d}); err != nil || has[d] {
		t.Fatalf("Has after killed upload = %v, %v", has, err)
	}
	res, err := blob.AddReader(ctx, st, bytes.NewReader(data), blob.AddOptions{})
	if err != nil || res.Digest != d || res.NewChunks == res.Chunks {
		t.Fatalf("re-run = %+v, %v; want it to reuse chunks", res, err)
	}
	if err := blob.Verify(ctx, st, d); err != nil {
		t.Fatal(err)
	}
}

// CopyRoundTrip copies three blobs from a local store to remote and back
// to another local store and checks their bytes, then collects all but
// the first on remote with GC and checks that the first is intact. It
// returns the three blobs.
func CopyRoundTrip(t *testing.T, remote blob.Store) []blob.Digest {
	t.Helper()
	ctx := context.Background()
	local, err := blob.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var ds []blob.Digest
	for i := range 3 {
		d, _, err := blob.Add(ctx, local, bytes.NewReader(Data(uint64(10+i), (i+1)<<20)))
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	stats, err := blob.Copy(ctx, local, remote, ds, blob.CopyOptions{Parallel: 4})
	if err != nil || stats.Files != 3 {
		t.Fatalf("push = %+v, %v", stats, err)
	}
	back, err := blob.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	stats, err = blob.Copy(ctx, remote, back, ds, blob.CopyOptions{})
	if err != nil || stats.Files != 3 {
		t.Fatalf("pull = %+v, %v", stats, err)
	}
	for i, d := range ds {
		rc, n, err := blob.Open(ctx, back, d)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || n != int64((i+1)<<20) || !bytes.Equal(got, Data(uint64(10+i), (i+1)<<20)) {
			t.Fatalf("blob %d after round trip through %s: %v", i, remote.Location(), err)
		}
	}
	// GC on the remote: keep one, collect the rest.
	gs, err := blob.GC(ctx, remote, map[blob.Digest]bool{ds[0]: true}, time.Now().Add(time.Minute), false)
	if err != nil || gs.FilesDeleted != 2 || gs.FilesKept != 1 {
		t.Fatalf("GC on %s = %+v, %v", remote.Location(), gs, err)
	}
	if err := blob.Verify(ctx, remote, ds[0]); err != nil {
		t.Fatal(err)
	}
	return ds
}

// ClosedEndpoint returns "http://127.0.0.1:<port>" for a port nobody
// listens on.
func ClosedEndpoint(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String()
	l.Close()
	return endpoint
}

// SilentEndpoint returns "http://127.0.0.1:<port>" of a server that
// accepts connections but never answers, closed when the test ends.
func SilentEndpoint(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String()
}

// HeapPeak samples this process's heap in use until stop is called, which
// returns the peak.
func HeapPeak() (stop func() uint64) {
	runtime.GC()
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

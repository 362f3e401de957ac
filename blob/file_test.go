package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func mustAdd(t testing.TB, st Store, data []byte) Digest {
	t.Helper()
	d, n, err := Add(context.Background(), st, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Add(%d bytes): %v", len(data), err)
	}
	if n != int64(len(data)) || d != Sum(data) {
		t.Fatalf("Add(%d bytes) = %s, %d; want %s, %d", len(data), d, n, Sum(data), len(data))
	}
	return d
}

func readAllBlob(t testing.TB, st Store, d Digest) ([]byte, error) {
	t.Helper()
	rc, size, err := Open(context.Background(), st, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err == nil && int64(len(b)) != size {
		t.Fatalf("Open reported size %d but delivered %d bytes", size, len(b))
	}
	return b, err
}

func TestRoundTripSizes(t *testing.T) {
	st := NewMem("rt")
	sizes := []int{0, 1, 2, MinChunkSize - 1, MinChunkSize, MinChunkSize + 1,
		MaxChunkSize - 1, MaxChunkSize, MaxChunkSize + 1, 2*MaxChunkSize + 1, 7<<20 + 12345}
	for _, n := range sizes {
		for _, kind := range []string{"random", "text"} {
			t.Run(fmt.Sprintf("%s-%d", kind, n), func(t *testing.T) {
				data := randBytes(uint64(n), n)
				if kind == "text" {
					data = textLike(uint64(n), n)
				}
				d := mustAdd(t, st, data)
				got, err := readAllBlob(t, st, d)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, data) {
					t.Fatalf("round trip of %d bytes returned different bytes (%d)", n, len(got))
				}
				if err := Verify(context.Background(), st, d); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

func TestAddIsIdempotentAndCompresses(t *testing.T) {
	ctx := context.Background()
	st := NewMem("idem")
	text := textLike(9, 3<<20)
	res, err := AddReader(ctx, st, bytes.NewReader(text), AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.NewChunks != res.Chunks || res.Chunks < 2 {
		t.Fatalf("first add: %+v", res)
	}
	if res.StoredBytes > int64(len(text))/2 {
		t.Errorf("text stored in %d bytes, want well under %d (zstd)", res.StoredBytes, len(text)/2)
	}
	res2, err := AddReader(ctx, st, bytes.NewReader(text), AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Digest != res.Digest || res2.NewChunks != 0 || res2.StoredBytes != 0 {
		t.Fatalf("second add of same bytes stored something: %+v", res2)
	}
	// Random data is stored raw (header 0) at its own size plus one byte.
	rnd := randBytes(10, 100<<10)
	d := mustAdd(t, st, rnd)
	keys, err := Keys(ctx, st, d)
	if err != nil || len(keys) != 2 || keys[0] != FileKey(d) || keys[1] != ChunkKey(chunkSum(rnd)) {
		t.Fatalf("Keys of a one-chunk file = %v, %v", keys, err)
	}
	obj := readObject(t, st, keys[1])
	if obj[0] != chunkRaw || len(obj) != len(rnd)+1 {
		t.Fatalf("incompressible chunk stored with header %d and %d bytes", obj[0], len(obj))
	}
	d = mustAdd(t, st, textLike(11, 100<<10))
	keys, _ = Keys(ctx, st, d)
	if obj := readObject(t, st, keys[1]); obj[0] != chunkZstd {
		t.Fatalf("compressible chunk stored with header %d", obj[0])
	}
}

func readObject(t testing.TB, st Store, key string) []byte {
	t.Helper()
	rc, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHasAndKeys(t *testing.T) {
	ctx := context.Background()
	st := NewMem("has")
	data := randBytes(12, 6<<20)
	d := mustAdd(t, st, data)
	other := Sum([]byte("not stored"))
	has, err := Has(ctx, st, []Digest{d, other})
	if err != nil || !has[d] || has[other] || len(has) != 2 {
		t.Fatalf("Has = %v, %v", has, err)
	}
	keys, err := Keys(ctx, st, d)
	if err != nil {
		t.Fatal(err)
	}
	// Every key Keys names exists, and they are all the store holds.
	var all []string
	st.List(ctx, "", func(k string, _ int64, _ time.Time) error { all = append(all, k); return nil })
	if len(keys) != len(all) || len(keys) < 3 {
		t.Fatalf("Keys = %d keys, store holds %d", len(keys), len(all))
	}
	if _, err := Keys(ctx, st, other); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Keys of missing blob = %v", err)
	}
	if _, _, err := Open(ctx, st, other); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), other.String()) {
		t.Fatalf("Open of missing blob = %v, want ErrNotFound naming it", err)
	}
}

// TestDedup: B is A with three regions rewritten (10% of A in total) and
// 1 MiB inserted in the middle; storing B after A must add at most 15% of
// B's size.
func TestDedup(t *testing.T) {
	if testing.Short() {
		t.Skip("160 MiB of data")
	}
	ctx := context.Background()
	st := NewMem("dedup")
	const size = 160 << 20
	a := randBytes(20, size)
	b := bytes.Clone(a)
	region := size / 10 / 3
	for i, off := range []int{size / 8, size / 3, size * 3 / 4} {
		copy(b[off:off+region], randBytes(uint64(30+i), region))
	}
	mid := size / 2
	b = append(b[:mid:mid], append(randBytes(40, 1<<20), b[mid:]...)...)

	ra, err := AddReader(ctx, st, bytes.NewReader(a), AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := AddReader(ctx, st, bytes.NewReader(b), AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	frac := float64(rb.StoredBytes) / float64(len(b))
	t.Logf("A: %d chunks, %d MiB stored; B: %d chunks, %d new, %.1f MiB stored = %.1f%% of B",
		ra.Chunks, ra.StoredBytes>>20, rb.Chunks, rb.NewChunks, float64(rb.StoredBytes)/(1<<20), 100*frac)
	if frac > 0.15 {
		t.Fatalf("second version stored %.1f%% of its size, want <= 15%%", 100*frac)
	}
	if frac < 0.10 {
		t.Fatalf("second version stored %.1f%%, less than the 10%% that changed: accounting is wrong", 100*frac)
	}
	got, err := readAllBlob(t, st, rb.Digest)
	if err != nil || !bytes.Equal(got, b) {
		t.Fatalf("B does not read back: %v", err)
	}
}

// corruptions damage a stored object in ways reads must notice.
var corruptions = map[string]func([]byte) []byte{
	"FlipByte":   func(b []byte) []byte { b = bytes.Clone(b); b[len(b)/2] ^= 0x01; return b },
	"FlipLast":   func(b []byte) []byte { b = bytes.Clone(b); b[len(b)-1] ^= 0x80; return b },
	"Truncate":   func(b []byte) []byte { return b[:len(b)-1] },
	"Extend":     func(b []byte) []byte { return append(bytes.Clone(b), 0) },
	"BadHeader":  func(b []byte) []byte { b = bytes.Clone(b); b[0] = 7; return b },
	"SwapHeader": func(b []byte) []byte { b = bytes.Clone(b); b[0] ^= 1; return b },
	"Empty":      func([]byte) []byte { return nil },
}

// checkCorruptionDetected reads d from st after damage and requires an
// ErrCorrupt naming the digest both from Open/Read and Verify, and that no
// read ends in success.
func checkCorruptionDetected(t *testing.T, st Store, d Digest, named fmt.Stringer) {
	t.Helper()
	rc, _, err := Open(context.Background(), st, d)
	if err == nil {
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("reading damaged blob: err = %v, want ErrCorrupt", err)
	}
	if !strings.Contains(err.Error(), named.String()) {
		t.Fatalf("error %q does not name %s", err, named)
	}
	if err := Verify(context.Background(), st, d); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), named.String()) {
		t.Fatalf("Verify of damaged blob = %v, want ErrCorrupt naming %s", err, named)
	}
}

func TestCorruptChunkDetected(t *testing.T) {
	for _, kind := range []string{"random", "text"} {
		for name, damage := range corruptions {
			t.Run(kind+"/"+name, func(t *testing.T) {
				st := NewMem("corrupt")
				data := randBytes(50, 3<<20)
				if kind == "text" {
					data = textLike(50, 3<<20)
				}
				d := mustAdd(t, st, data)
				fi, err := readFileIndex(context.Background(), st, d)
				if err != nil {
					t.Fatal(err)
				}
				victim := fi.Chunks[len(fi.Chunks)/2].ID
				key := ChunkKey(victim)
				if err := st.Overwrite(key, damage(readObject(t, st, key))); err != nil {
					t.Fatal(err)
				}
				checkCorruptionDetected(t, st, d, victim)
			})
		}
	}
}

func TestMissingChunkIsClearError(t *testing.T) {
	ctx := context.Background()
	st := NewMem("missing")
	d := mustAdd(t, st, randBytes(51, 3<<20))
	fi, _ := readFileIndex(ctx, st, d)
	victim := fi.Chunks[1].ID
	st.Delete(ctx, ChunkKey(victim))
	_, err := readAllBlob(t, st, d)
	if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNotFound) {
		t.Fatalf("missing chunk: %v, want ErrCorrupt (not ErrNotFound)", err)
	}
	for _, want := range []string{d.String(), victim.String(), "missing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestCorruptFileObjectDetected(t *testing.T) {
	ctx := context.Background()
	st := NewMem("fobj")
	a := mustAdd(t, st, randBytes(52, 2<<20))
	b := mustAdd(t, st, randBytes(53, 2<<20))
	aObj := readObject(t, st, FileKey(a))
	// A file object that is well-formed but lists another file's chunks
	// under a's name: every chunk verifies, the whole-file hash does not.
	fb, _ := readFileIndex(ctx, st, b)
	fb.Digest = a
	st.Overwrite(FileKey(a), fb.encode())
	rc, _, err := Open(ctx, st, a)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, rc)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), a.String()) {
		t.Fatalf("read of blob with swapped chunk list = %d bytes, %v; want ErrCorrupt naming %s", n, err, a)
	}
	// The error sticks: another Read does not report success.
	if _, err2 := rc.Read(make([]byte, 10)); !errors.Is(err2, ErrCorrupt) {
		t.Fatalf("Read after failure = %v", err2)
	}
	// A file object under the wrong name.
	st.Overwrite(FileKey(a), readObject(t, st, FileKey(b)))
	if err := Verify(ctx, st, a); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), a.String()) {
		t.Fatalf("misplaced file object: %v", err)
	}
	// A garbled one.
	garbled := bytes.Replace(aObj, []byte("size"), []byte("sise"), 1)
	st.Overwrite(FileKey(a), garbled)
	if err := Verify(ctx, st, a); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("garbled file object: %v", err)
	}
}

// failAfter is a reader that fails after n bytes.
type failAfter struct {
	r   io.Reader
	n   int64
	err error
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	p = p[:min(int64(len(p)), f.n)]
	n, err := f.r.Read(p)
	f.n -= int64(n)
	return n, err
}

func TestInterruptedAddLeavesNoFileAndResumes(t *testing.T) {
	ctx := context.Background()
	st := NewMem("interrupted")
	data := randBytes(60, 12<<20)
	d := Sum(data)
	boom := errors.New("network cable unplugged")
	_, _, err := Add(ctx, st, &failAfter{r: bytes.NewReader(data), n: 7 << 20, err: boom})
	if !errors.Is(err, boom) {
		t.Fatalf("Add with failing reader = %v, want %v", err, boom)
	}
	if has, _ := Has(ctx, st, []Digest{d}); has[d] {
		t.Fatal("file object visible after failed add")
	}
	var partial int
	st.List(ctx, chunkDir, func(string, int64, time.Time) error { partial++; return nil })
	if partial == 0 {
		t.Fatal("no chunks stored before the failure; the test does not test resuming")
	}
	res, err := AddReader(ctx, st, bytes.NewReader(data), AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != d || res.NewChunks >= res.Chunks {
		t.Fatalf("re-run: %+v; want it to reuse the %d chunks already stored", res, partial)
	}
	if got, err := readAllBlob(t, st, d); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after resume: %v", err)
	}
	// Canceling the context part-way also leaves no file object.
	cctx, cancel := context.WithCancel(ctx)
	data2 := randBytes(61, 12<<20)
	_, err = AddReader(cctx, st, bytes.NewReader(data2), AddOptions{Progress: func(done int64) {
		if done > 5<<20 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled add = %v", err)
	}
	if has, _ := Has(ctx, st, []Digest{Sum(data2)}); has[Sum(data2)] {
		t.Fatal("file object visible after canceled add")
	}
}

// failingStore fails Put of chunk keys after a number of them.
type failingStore struct {
	Store
	left int
	err  error
}

func (f *failingStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if strings.HasPrefix(key, chunkDir) {
		if f.left <= 0 {
			return f.err
		}
		f.left--
	}
	return f.Store.Put(ctx, key, r, size)
}

func TestAddStoreFailureLeavesNoFile(t *testing.T) {
	ctx := context.Background()
	mem := NewMem("failing")
	st := &failingStore{Store: mem, left: 2, err: errors.New("disk full")}
	data := randBytes(62, 10<<20)
	_, err := AddReader(ctx, st, bytes.NewReader(data), AddOptions{Parallel: 1})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Add on failing store = %v", err)
	}
	if has, _ := Has(ctx, mem, []Digest{Sum(data)}); has[Sum(data)] {
		t.Fatal("file object written although a chunk failed")
	}
}

func TestAddFile(t *testing.T) {
	ctx := context.Background()
	st := NewMem("addfile")
	path := filepath.Join(t.TempDir(), "model.bin")
	data := randBytes(70, 3<<20)
	os.WriteFile(path, data, 0o644)
	d, n, err := AddFile(ctx, st, path)
	if err != nil || d != Sum(data) || n != int64(len(data)) {
		t.Fatalf("AddFile = %s, %d, %v", d, n, err)
	}
	if _, _, err := AddFile(ctx, st, filepath.Join(t.TempDir(), "nope")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("AddFile of missing file = %v", err)
	}
}

func TestAddFileDetectsChange(t *testing.T) {
	changes := map[string]func(t *testing.T, path string){
		"Append": func(t *testing.T, path string) {
			f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			f.Write([]byte("more"))
			f.Close()
		},
		"RewriteSameSize": func(t *testing.T, path string) {
			f, _ := os.OpenFile(path, os.O_WRONLY, 0)
			f.WriteAt([]byte("XXXX"), 10)
			f.Close()
			// Make sure the modification time moves even on coarse clocks.
			later := time.Now().Add(2 * time.Second)
			os.Chtimes(path, later, later)
		},
		"Truncate": func(t *testing.T, path string) { os.Truncate(path, 1000) },
		"Replace": func(t *testing.T, path string) {
			tmp := path + ".new"
			os.WriteFile(tmp, randBytes(72, 3<<20), 0o644)
			os.Rename(tmp, path)
		},
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := NewMem("changing")
			path := filepath.Join(t.TempDir(), "ckpt.bin")
			data := randBytes(71, 3<<20)
			os.WriteFile(path, data, 0o644)
			res, err := addFile(ctx, st, path, AddOptions{}, func() { change(t, path) })
			if !errors.Is(err, ErrFileChanged) {
				t.Fatalf("addFile while file changes = %+v, %v; want ErrFileChanged", res, err)
			}
			var files int
			st.List(ctx, fileDir, func(string, int64, time.Time) error { files++; return nil })
			if files != 0 {
				t.Fatalf("%d file objects written for a file that changed", files)
			}
		})
	}
}

func TestRepeatedContentStoredOnce(t *testing.T) {
	st := NewMem("zeros")
	res, err := AddReader(context.Background(), st, bytes.NewReader(make([]byte, 3*MaxChunkSize+5)), AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Chunks != 4 || res.NewChunks != 2 {
		t.Fatalf("zeros: %+v; want 4 chunks of which 2 distinct", res)
	}
	if res.StoredBytes > 4096 {
		t.Fatalf("12 MiB of zeros took %d stored bytes", res.StoredBytes)
	}
	if err := Verify(context.Background(), st, res.Digest); err != nil {
		t.Fatal(err)
	}
}

func TestLocalKeyAndFolderConflict(t *testing.T) {
	st, _ := NewLocal(t.TempDir())
	ctx := context.Background()
	if err := st.Put(ctx, "a/b", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "a", strings.NewReader("x"), 1); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("Put of a key that is a folder = %v, want ErrInvalidKey", err)
	}
	if err := st.Put(ctx, "a/b/c", strings.NewReader("x"), 1); err == nil {
		t.Fatal("Put below an object succeeded")
	}
}

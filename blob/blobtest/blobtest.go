package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlgit/mlgit/blob"
)

// Run runs the conformance suite against stores made by newStore, which must
// return a new empty store for each call (a fresh folder, bucket prefix or
// in-memory store) and arrange its cleanup with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) blob.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, st blob.Store)
	}{
		{"PutGetStat", testPutGetStat},
		{"EmptyObject", testEmptyObject},
		{"LargeObject", testLargeObject},
		{"NotFound", testNotFound},
		{"IdempotentPut", testIdempotentPut},
		{"Exists", testExists},
		{"ExistsMany", testExistsMany},
		{"List", testList},
		{"ListStopsOnError", testListStopsOnError},
		{"Delete", testDelete},
		{"InvalidKeys", testInvalidKeys},
		{"ConcurrentPutSameKey", testConcurrentPutSameKey},
		{"ReaderErrorLeavesNothing", testReaderError},
		{"SizeMismatch", testSizeMismatch},
		{"CanceledContext", testCanceled},
		{"Location", testLocation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

// Data returns n deterministic pseudo-random bytes for seed.
func Data(seed uint64, n int) []byte {
	r := rand.New(rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24), 'b', 'l', 'o', 'b'}))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func put(t *testing.T, st blob.Store, key string, data []byte) {
	t.Helper()
	if err := st.Put(context.Background(), key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", key, len(data), err)
	}
}

// get returns the object's bytes, failing the test on error.
func get(t *testing.T, st blob.Store, key string) []byte {
	t.Helper()
	rc, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q): read: %v", key, err)
	}
	return b
}

// requireAbsent checks that key is not visible through any method.
func requireAbsent(t *testing.T, st blob.Store, key string) {
	t.Helper()
	ctx := context.Background()
	if _, err := st.Stat(ctx, key); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat(%q) = %v, want ErrNotFound", key, err)
	}
	if rc, err := st.Get(ctx, key); !errors.Is(err, blob.ErrNotFound) {
		if rc != nil {
			rc.Close()
		}
		t.Errorf("Get(%q) error = %v, want ErrNotFound", key, err)
	}
	ex, err := st.Exists(ctx, []string{key})
	if err != nil || ex[key] {
		t.Errorf("Exists(%q) = %v, %v; want false, nil", key, ex, err)
	}
	if got := listKeys(t, st, ""); contains(got, key) {
		t.Errorf("List shows %q: %v", key, got)
	}
}

func listKeys(t *testing.T, st blob.Store, prefix string) []string {
	t.Helper()
	var keys []string
	err := st.List(context.Background(), prefix, func(key string, size int64, mod time.Time) error {
		keys = append(keys, key)
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	sort.Strings(keys)
	return keys
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func testPutGetStat(t *testing.T, st blob.Store) {
	data := Data(1, 1000)
	put(t, st, "chunks/ab/abcdef", data)
	if got := get(t, st, "chunks/ab/abcdef"); !bytes.Equal(got, data) {
		t.Fatalf("Get returned %d bytes that differ from the %d put", len(got), len(data))
	}
	size, err := st.Stat(context.Background(), "chunks/ab/abcdef")
	if err != nil || size != 1000 {
		t.Fatalf("Stat = %d, %v; want 1000, nil", size, err)
	}
	// A key in the root, and one deep down.
	put(t, st, "top", []byte("x"))
	put(t, st, "a/b/c/d/e", []byte("deep"))
	if got := string(get(t, st, "top")); got != "x" {
		t.Errorf("Get(top) = %q", got)
	}
	if got := string(get(t, st, "a/b/c/d/e")); got != "deep" {
		t.Errorf("Get(a/b/c/d/e) = %q", got)
	}
}

func testEmptyObject(t *testing.T, st blob.Store) {
	put(t, st, "empty", nil)
	if got := get(t, st, "empty"); len(got) != 0 {
		t.Fatalf("Get(empty) = %d bytes", len(got))
	}
	if size, err := st.Stat(context.Background(), "empty"); err != nil || size != 0 {
		t.Fatalf("Stat(empty) = %d, %v", size, err)
	}
}

func testLargeObject(t *testing.T, st blob.Store) {
	data := Data(2, 5<<20+3)
	// A reader without WriterTo/Seek, as a network stream would be.
	if err := st.Put(context.Background(), "big/object", io.MultiReader(bytes.NewReader(data)), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if got := get(t, st, "big/object"); !bytes.Equal(got, data) {
		t.Fatalf("large object round trip: got %d bytes, want %d (or content differs)", len(got), len(data))
	}
}

func testNotFound(t *testing.T, st blob.Store) {
	requireAbsent(t, st, "no/such/key")
	put(t, st, "file", []byte("f"))
	// A key "below" an existing object does not exist either.
	requireAbsent(t, st, "file/below")
	// A folder-like prefix of an object is not an object.
	put(t, st, "dir/obj", []byte("o"))
	requireAbsent(t, st, "dir")
}

func testIdempotentPut(t *testing.T, st blob.Store) {
	first := []byte("first version")
	put(t, st, "k/v", first)
	// Same key, other bytes: must succeed and not rewrite.
	if err := st.Put(context.Background(), "k/v", strings.NewReader("second!"), 7); err != nil {
		t.Fatalf("second Put: %v, want nil", err)
	}
	if got := get(t, st, "k/v"); !bytes.Equal(got, first) {
		t.Fatalf("object was rewritten: %q, want %q", got, first)
	}
	// Even with a reader that would fail, an existing key is a no-op.
	if err := st.Put(context.Background(), "k/v", iotestErrReader{}, 13); err != nil {
		t.Fatalf("Put of existing key with failing reader: %v, want nil", err)
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("boom") }

func testExists(t *testing.T, st blob.Store) {
	put(t, st, "x/1", []byte("1"))
	put(t, st, "x/2", []byte("2"))
	got, err := st.Exists(context.Background(), []string{"x/1", "x/2", "x/3", "y/1"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"x/1": true, "x/2": true, "x/3": false, "y/1": false}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Exists = %v, want %v", got, want)
	}
	if got, err := st.Exists(context.Background(), nil); err != nil || len(got) != 0 {
		t.Fatalf("Exists(nil) = %v, %v", got, err)
	}
}

// testExistsMany uses enough keys per folder for backends to batch (S3 lists
// a folder instead of sending HEADs).
func testExistsMany(t *testing.T, st blob.Store) {
	want := map[string]bool{}
	var keys []string
	for i := range 60 {
		key := fmt.Sprintf("chunks/%02x/key%03d", i%3, i)
		keys = append(keys, key)
		if i%4 != 0 {
			put(t, st, key, []byte{byte(i)})
			want[key] = true
		} else {
			want[key] = false
		}
	}
	// Keys in folders with a single key, and a sibling object that must not
	// be confused with a wanted key.
	put(t, st, "chunks/00/key000x", []byte("near miss"))
	keys = append(keys, "other/one", "chunks/ff/lonely")
	want["other/one"], want["chunks/ff/lonely"] = false, false
	put(t, st, "other/one", []byte("1"))
	want["other/one"] = true
	got, err := st.Exists(context.Background(), keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("Exists returned %d entries, want %d", len(got), len(want))
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("Exists[%q] = %v, want %v", k, got[k], w)
		}
	}
}

func testList(t *testing.T, st blob.Store) {
	objs := map[string]int{
		"files/aa/1":   1,
		"files/aa/2":   22,
		"files/ab/3":   333,
		"chunks/aa/1":  4,
		"filesystem/x": 5,
		"root":         6,
	}
	for k, n := range objs {
		put(t, st, k, bytes.Repeat([]byte{'z'}, n))
	}
	before := time.Now().Add(-time.Hour)
	sizes := map[string]int64{}
	err := st.List(context.Background(), "", func(key string, size int64, mod time.Time) error {
		sizes[key] = size
		if mod.Before(before) || mod.After(time.Now().Add(time.Hour)) {
			t.Errorf("List(%q) modTime %v is not recent", key, mod)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sizes) != len(objs) {
		t.Fatalf("List(\"\") = %v, want %d objects", sizes, len(objs))
	}
	for k, n := range objs {
		if sizes[k] != int64(n) {
			t.Errorf("List size of %q = %d, want %d", k, sizes[k], n)
		}
	}
	cases := map[string][]string{
		"files/":     {"files/aa/1", "files/aa/2", "files/ab/3"},
		"files/aa/":  {"files/aa/1", "files/aa/2"},
		"files/a":    {"files/aa/1", "files/aa/2", "files/ab/3"},
		"files":      {"files/aa/1", "files/aa/2", "files/ab/3", "filesystem/x"},
		"files/aa/1": {"files/aa/1"},
		"nothing/":   nil,
		"r":          {"root"},
	}
	for prefix, want := range cases {
		if got := listKeys(t, st, prefix); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("List(%q) = %v, want %v", prefix, got, want)
		}
	}
}

func testListStopsOnError(t *testing.T, st blob.Store) {
	for i := range 5 {
		put(t, st, fmt.Sprintf("l/%d", i), []byte("x"))
	}
	stop := errors.New("stop here")
	calls := 0
	err := st.List(context.Background(), "l/", func(string, int64, time.Time) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("List with failing fn: err %v after %d calls, want %v after 1", err, calls, stop)
	}
}

func testDelete(t *testing.T, st blob.Store) {
	ctx := context.Background()
	put(t, st, "d/1", []byte("one"))
	put(t, st, "d/2", []byte("two"))
	if err := st.Delete(ctx, "d/1"); err != nil {
		t.Fatal(err)
	}
	requireAbsent(t, st, "d/1")
	if got := string(get(t, st, "d/2")); got != "two" {
		t.Fatalf("sibling after delete = %q", got)
	}
	if err := st.Delete(ctx, "d/1"); err != nil {
		t.Fatalf("second Delete: %v, want nil", err)
	}
	if err := st.Delete(ctx, "never/was"); err != nil {
		t.Fatalf("Delete of missing key: %v, want nil", err)
	}
	// A deleted key can be stored again.
	put(t, st, "d/1", []byte("again"))
	if got := string(get(t, st, "d/1")); got != "again" {
		t.Fatalf("re-put after delete = %q", got)
	}
}

// BadKeys are keys every Store must reject with ErrInvalidKey.
var BadKeys = []string{
	"", "/abs", "/", "..", "../x", "a/../b", "a/..", ".", "./a", "a/./b",
	"a//b", "a/", "a\\b", "..\\x", "a\x00b", "a\nb", ".hidden", "a/.tmp-x",
	strings.Repeat("k", 600),
}

func testInvalidKeys(t *testing.T, st blob.Store) {
	ctx := context.Background()
	for _, k := range BadKeys {
		if err := st.Put(ctx, k, strings.NewReader("x"), 1); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", k, err)
		}
		if rc, err := st.Get(ctx, k); !errors.Is(err, blob.ErrInvalidKey) {
			if rc != nil {
				rc.Close()
			}
			t.Errorf("Get(%q) = %v, want ErrInvalidKey", k, err)
		}
		if _, err := st.Stat(ctx, k); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Stat(%q) = %v, want ErrInvalidKey", k, err)
		}
		if err := st.Delete(ctx, k); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidKey", k, err)
		}
		if _, err := st.Exists(ctx, []string{"ok", k}); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Exists([ok %q]) = %v, want ErrInvalidKey", k, err)
		}
	}
	for _, p := range []string{"../", "/abs", "a/../", "a\x00", "a\\"} {
		err := st.List(ctx, p, func(string, int64, time.Time) error { return nil })
		if !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("List(%q) = %v, want ErrInvalidKey", p, err)
		}
	}
	// Nothing was created by the attempts.
	if got := listKeys(t, st, ""); len(got) != 0 {
		t.Errorf("store holds %v after invalid keys were rejected", got)
	}
}

func testConcurrentPutSameKey(t *testing.T, st blob.Store) {
	const n = 8
	datas := make([][]byte, n)
	for i := range datas {
		datas[i] = Data(uint64(100+i), 256<<10)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = st.Put(context.Background(), "same/key", bytes.NewReader(datas[i]), int64(len(datas[i])))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Put %d: %v", i, err)
		}
	}
	got := get(t, st, "same/key")
	for _, d := range datas {
		if bytes.Equal(got, d) {
			return // exactly one writer's bytes, whole
		}
	}
	t.Fatalf("object after concurrent puts (%d bytes) is none of the versions put", len(got))
}

// failingReader delivers n good bytes, then fails.
type failingReader struct {
	r   io.Reader
	n   int
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	m, err := f.r.Read(p)
	f.n -= m
	return m, err
}

func testReaderError(t *testing.T, st blob.Store) {
	boom := errors.New("connection reset by test")
	for _, size := range []int{4 << 10, 3 << 20} {
		data := Data(7, size)
		key := fmt.Sprintf("partial/%d", size)
		r := &failingReader{r: bytes.NewReader(data), n: size / 2, err: boom}
		err := st.Put(context.Background(), key, r, int64(size))
		if !errors.Is(err, boom) {
			t.Fatalf("Put with reader failing mid-way = %v, want it to wrap %v", err, boom)
		}
		requireAbsent(t, st, key)
		// A retry completes the object.
		put(t, st, key, data)
		if got := get(t, st, key); !bytes.Equal(got, data) {
			t.Fatalf("retry after failed Put stored other bytes")
		}
	}
}

func testSizeMismatch(t *testing.T, st blob.Store) {
	ctx := context.Background()
	data := Data(8, 10000)
	if err := st.Put(ctx, "short", bytes.NewReader(data[:9999]), 10000); !errors.Is(err, blob.ErrSizeMismatch) {
		t.Errorf("Put with 1 byte fewer than announced = %v, want ErrSizeMismatch", err)
	}
	requireAbsent(t, st, "short")
	if err := st.Put(ctx, "long", bytes.NewReader(data), 9999); !errors.Is(err, blob.ErrSizeMismatch) {
		t.Errorf("Put with 1 byte more than announced = %v, want ErrSizeMismatch", err)
	}
	requireAbsent(t, st, "long")
	if err := st.Put(ctx, "neg", bytes.NewReader(nil), -1); !errors.Is(err, blob.ErrSizeMismatch) {
		t.Errorf("Put with negative size = %v, want ErrSizeMismatch", err)
	}
	requireAbsent(t, st, "neg")
}

func testCanceled(t *testing.T, st blob.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := st.Put(ctx, "canceled", strings.NewReader("x"), 1); err == nil {
		t.Errorf("Put with canceled context succeeded")
	}
	requireAbsent(t, st, "canceled")
}

func testLocation(t *testing.T, st blob.Store) {
	if st.Location() == "" {
		t.Errorf("Location() is empty")
	}
}

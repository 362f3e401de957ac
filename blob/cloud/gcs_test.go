package cloud_test

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/blob/blobtest"
	"github.com/mlgit/mlgit/blob/cloud"
	"github.com/mlgit/mlgit/blob/cloud/cloudtest"
	"github.com/mlgit/mlgit/internal/gcstest"
)

// newGCS returns a GCS store on srv below a prefix no other test uses,
// reaching the emulator through the endpoint of its config.
func newGCS(t testing.TB, srv *gcstest.Server) *cloud.GCS {
	t.Helper()
	st, err := cloud.NewGCS(context.Background(), blob.GCSConfig{
		Bucket:   srv.Bucket,
		Prefix:   fmt.Sprintf("g%d/repo", prefixSeq.Add(1)),
		Endpoint: srv.Endpoint,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestGCSConformance(t *testing.T) {
	srv := gcstest.StartServer(t)
	blobtest.Run(t, func(t *testing.T) blob.Store { return newGCS(t, srv) })
}

func TestGCSPrefixIsolation(t *testing.T) {
	srv := gcstest.StartServer(t)
	a, b := newGCS(t, srv), newGCS(t, srv)
	ctx := context.Background()
	if err := a.Put(ctx, "k", strings.NewReader("a"), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stat(ctx, "k"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("key of one prefix visible in another: %v", err)
	}
	if !strings.HasPrefix(a.Location(), "gs://mlgit-test/g") {
		t.Fatalf("Location = %q", a.Location())
	}
	// The object lives under the prefix in the bucket.
	got, err := srv.GetObject(ctx, a.ObjectName("k"))
	if err != nil || string(got) != "a" {
		t.Fatalf("object at %s = %q, %v", a.ObjectName("k"), got, err)
	}
	// Objects that are not keys (folder markers, hidden names) are not listed.
	for _, name := range []string{a.ObjectName("dir/"), a.ObjectName(".hidden")} {
		if err := srv.PutObject(ctx, name, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	var keys []string
	if err := a.List(ctx, "", func(k string, size int64, mod time.Time) error {
		if size != 1 || time.Since(mod) > time.Hour || time.Until(mod) > time.Hour {
			t.Errorf("List(%s) size %d, modified %v", k, size, mod)
		}
		keys = append(keys, k)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != "k" {
		t.Fatalf("List = %v, want [k]", keys)
	}
}

func TestGCSOpenStoreFromEnv(t *testing.T) {
	cloudtest.Use(t) // blob.OpenStore runs mlgit-blob-cloud, which gets this environment
	srv := gcstest.StartServer(t)
	ctx := context.Background()
	// No credentials anywhere: the emulator variable is enough.
	t.Setenv("HOME", t.TempDir())
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "none.json"))
	srv.SetEnv(t)
	st, err := blob.OpenStore(ctx, srv.BareURL("from-env"))
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Location(); got != "gs://mlgit-test/from-env" {
		t.Errorf("Location = %q", got)
	}
	d, _, err := blob.Add(ctx, st, strings.NewReader("via env"))
	if err != nil {
		t.Fatal(err)
	}
	// The same store through the URL's endpoint instead of the environment.
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	st2, err := blob.OpenStore(ctx, srv.URL("from-env"))
	if err != nil {
		t.Fatal(err)
	}
	if err := blob.Verify(ctx, st2, d); err != nil {
		t.Fatalf("blob added via env config not readable via URL config: %v", err)
	}
	names, err := srv.ObjectNames(ctx, "from-env/files/")
	if err != nil || len(names) != 1 || !strings.HasSuffix(names[0], d.Hex()) {
		t.Fatalf("objects below from-env/files/ = %v, %v; want the file object of %s", names, err, d)
	}
}

func TestGCSMissingCredentialsFailFast(t *testing.T) {
	cloudtest.Use(t) // blob.OpenStore runs mlgit-blob-cloud, which gets this environment
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("CLOUDSDK_CONFIG", t.TempDir())
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "none.json"))
	start := time.Now()
	_, err := blob.OpenStore(context.Background(), "gs://some-bucket/p")
	if !errors.Is(err, blob.ErrAccessDenied) || !strings.Contains(err.Error(), "GOOGLE_APPLICATION_CREDENTIALS") {
		t.Fatalf("OpenStore without credentials = %v, want ErrAccessDenied with advice", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("missing credentials took %v to report", d)
	}
	// A key file that is not one.
	bad := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(bad, []byte(`{"type": "service_account"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", bad)
	_, err = blob.OpenStore(context.Background(), "gs://some-bucket/p")
	if !errors.Is(err, blob.ErrAccessDenied) {
		t.Fatalf("OpenStore with a broken key file = %v, want ErrAccessDenied", err)
	}
}

func TestGCSMissingBucket(t *testing.T) {
	srv := gcstest.StartServer(t)
	_, err := cloud.NewGCS(context.Background(), blob.GCSConfig{Bucket: "no-such-bucket", Endpoint: srv.Endpoint})
	if !errors.Is(err, blob.ErrNotFound) || !strings.Contains(err.Error(), "no-such-bucket") {
		t.Fatalf("NewGCS with missing bucket = %v, want ErrNotFound naming it", err)
	}
}

func TestGCSUnreachableEndpointFailsFast(t *testing.T) {
	endpoint := blobtest.ClosedEndpoint(t)
	start := time.Now()
	_, err := cloud.NewGCS(context.Background(), blob.GCSConfig{Bucket: "bucket", Endpoint: endpoint})
	if !errors.Is(err, blob.ErrUnavailable) || !strings.Contains(err.Error(), endpoint) {
		t.Fatalf("NewGCS on a closed port = %v, want ErrUnavailable naming %s", err, endpoint)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("unreachable endpoint took %v to report", d)
	}

	// A server that accepts connections but never answers must not hang.
	silent := blobtest.SilentEndpoint(t)
	start = time.Now()
	_, err = cloud.NewGCS(context.Background(), blob.GCSConfig{
		Bucket: "bucket", Endpoint: silent, ResponseTimeout: 500 * time.Millisecond,
	})
	if !errors.Is(err, blob.ErrUnavailable) {
		t.Fatalf("NewGCS on a silent server = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 16*time.Second {
		t.Errorf("silent server took %v to report", d)
	}
}

func TestGCSPutIsNotRewritten(t *testing.T) {
	srv := gcstest.StartServer(t)
	st := newGCS(t, srv)
	ctx := context.Background()
	if err := st.Put(ctx, "x", strings.NewReader("one"), 3); err != nil {
		t.Fatal(err)
	}
	a1, err := st.Client().Bucket(st.Bucket()).Object(st.ObjectName("x")).Attrs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "x", strings.NewReader("two"), 3); err != nil {
		t.Fatal(err)
	}
	a2, err := st.Client().Bucket(st.Bucket()).Object(st.ObjectName("x")).Attrs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a1.Generation != a2.Generation {
		t.Fatalf("second Put rewrote the object: generation %d -> %d", a1.Generation, a2.Generation)
	}
	// The precondition holds even when the existence check is skipped by a
	// race: a concurrent writer that lost gets success, not an error, and
	// the object keeps the winner's bytes.
	data := [][]byte{blobtest.Data(1, 1<<20), blobtest.Data(2, 1<<20)}
	errs := make(chan error, 2)
	for _, d := range data {
		go func() { errs <- st.Put(ctx, "race", bytes.NewReader(d), int64(len(d))) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got, _ := srv.GetObject(ctx, st.ObjectName("race"))
	if !bytes.Equal(got, data[0]) && !bytes.Equal(got, data[1]) {
		t.Fatalf("object after racing Puts is neither version")
	}
}

func TestGCSFaults(t *testing.T) {
	srv := gcstest.StartServer(t)
	ctx := context.Background()

	t.Run("FlippedByteViaRawPut", func(t *testing.T) {
		st := newGCS(t, srv)
		// Overwrite behind Put's back (the emulator stores a matching CRC32C,
		// so only the content address catches it).
		blobtest.FlippedChunkDetected(t, st, func(key string, bad []byte) error {
			return srv.PutObject(ctx, st.ObjectName(key), bad)
		})
	})

	t.Run("MissingChunk", func(t *testing.T) {
		st := newGCS(t, srv)
		d, _, err := blob.Add(ctx, st, bytes.NewReader(blobtest.Data(3, 3<<20)))
		if err != nil {
			t.Fatal(err)
		}
		key, cd := blobtest.ChunkKey(t, st, d, 1)
		if err := st.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		if err := st.Delete(ctx, key); err != nil {
			t.Fatalf("second Delete = %v, want nil", err)
		}
		err = blob.Verify(ctx, st, d)
		if !errors.Is(err, blob.ErrCorrupt) || !strings.Contains(err.Error(), cd.String()) {
			t.Fatalf("Verify with missing chunk = %v", err)
		}
	})

	t.Run("InterruptedUploadResumes", func(t *testing.T) {
		blobtest.InterruptedAddResumes(t, newGCS(t, srv))
	})

	t.Run("LargeObjectInPieces", func(t *testing.T) {
		// Larger than one upload request: a resumable upload in pieces,
		// and a reader failing in the second piece leaves nothing.
		st := newGCS(t, srv)
		data := blobtest.Data(5, 40<<20+5)
		boom := errors.New("reader died")
		err := st.Put(ctx, "big", io.MultiReader(bytes.NewReader(data[:20<<20]), blobtest.FailingReader(boom)), int64(len(data)))
		if !errors.Is(err, boom) {
			t.Fatalf("Put with failing reader = %v, want %v", err, boom)
		}
		if _, err := st.Stat(ctx, "big"); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("Stat after failed Put = %v, want ErrNotFound", err)
		}
		if err := st.Put(ctx, "big", io.MultiReader(bytes.NewReader(data)), int64(len(data))); err != nil {
			t.Fatal(err)
		}
		rc, err := st.Get(ctx, "big")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("large object round trip: %d bytes, %v", len(got), err)
		}
	})

	t.Run("CopyLocalToGCSAndBack", func(t *testing.T) {
		remote := newGCS(t, srv)
		ds := blobtest.CopyRoundTrip(t, remote)
		if err := blob.Verify(ctx, remote, ds[1]); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("Verify of a collected blob = %v, want ErrNotFound", err)
		}
	})

	t.Run("Locks", func(t *testing.T) {
		st := newGCS(t, srv)
		shared, err := blob.Lock(ctx, st, false, "push")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := blob.Lock(ctx, st, true, "gc"); !errors.Is(err, blob.ErrLocked) {
			t.Fatalf("exclusive lock while a shared one is held = %v, want ErrLocked", err)
		}
		shared.Unlock()
		ex, err := blob.Lock(ctx, st, true, "gc")
		if err != nil {
			t.Fatalf("exclusive lock after unlock: %v", err)
		}
		ex.Unlock()
		if keys, err := st.Exists(ctx, []string{"locks/x"}); err != nil || keys["locks/x"] {
			t.Fatalf("Exists after unlock = %v, %v", keys, err)
		}
		n := 0
		if err := st.List(ctx, "locks/", func(string, int64, time.Time) error { n++; return nil }); err != nil || n != 0 {
			t.Fatalf("%d lock objects left after unlock (%v)", n, err)
		}
	})
}

// gcsStreamMiB is the size of the streamed file of TestGCSStreamMemoryIsFlat:
// 256 MiB by default, MLGIT_GCS_STREAM_MIB=4096 for the 4 GiB run.
func gcsStreamMiB() int {
	if n, err := strconv.Atoi(os.Getenv("MLGIT_GCS_STREAM_MIB")); err == nil && n > 0 {
		return n
	}
	return 256
}

// TestGCSStreamMemoryIsFlat streams a file that is never held in memory up
// to the emulator and back down, and checks that the heap stays far below
// the file size both ways.
func TestGCSStreamMemoryIsFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("streams hundreds of MiB")
	}
	srv := gcstest.StartServer(t)
	st := newGCS(t, srv)
	ctx := context.Background()
	size := int64(gcsStreamMiB()) << 20
	src := func() io.Reader { return io.LimitReader(rand.NewChaCha8([32]byte{7}), size) }

	var res blob.AddResult
	upPeak := peakHeap(t, func() error {
		var err error
		res, err = blob.AddReader(ctx, st, src(), blob.AddOptions{})
		return err
	})
	if res.Size != size {
		t.Fatalf("AddReader stored %d bytes, want %d", res.Size, size)
	}
	downPeak := peakHeap(t, func() error {
		rc, n, err := blob.Open(ctx, st, res.Digest)
		if err != nil {
			return err
		}
		defer rc.Close()
		// Compare with the source as it streams, holding neither in memory.
		if n != size {
			return fmt.Errorf("Open says %d bytes, want %d", n, size)
		}
		return equalStreams(rc, src())
	})
	t.Logf("%d MiB through GCS: peak heap %d MiB up, %d MiB down", size>>20, upPeak>>20, downPeak>>20)
	const limit = 160 << 20
	if upPeak > limit || downPeak > limit {
		t.Fatalf("peak heap %d MiB up, %d MiB down for a %d MiB stream: memory grows with file size",
			upPeak>>20, downPeak>>20, size>>20)
	}
}

// peakHeap runs fn and returns the largest heap in use while it ran.
func peakHeap(t *testing.T, fn func() error) uint64 {
	t.Helper()
	stop := blobtest.HeapPeak()
	err := fn()
	peak := stop()
	if err != nil {
		t.Fatal(err)
	}
	return peak
}

// equalStreams reports whether a and b deliver the same bytes.
func equalStreams(a, b io.Reader) error {
	ba, bb := make([]byte, 1<<20), make([]byte, 1<<20)
	var off int64
	for {
		na, ea := io.ReadFull(a, ba)
		nb, eb := io.ReadFull(b, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return fmt.Errorf("streams differ near byte %d", off)
		}
		off += int64(na)
		if ea == io.EOF || ea == io.ErrUnexpectedEOF {
			if eb != ea {
				return fmt.Errorf("streams end differently at byte %d", off)
			}
			return nil
		}
		if ea != nil {
			return ea
		}
		if eb != nil {
			return eb
		}
	}
}

// TestGCSRefusedCredentials: a service account key that the token server
// refuses is reported as access denied, with advice, quickly.
func TestGCSRefusedCredentials(t *testing.T) {
	var tokenRequests atomic.Int64
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tokenRequests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error": "invalid_grant", "error_description": "Invalid JWT Signature."}`)
	}))
	defer tokens.Close()
	key, err := rsa.GenerateKey(crand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	keyFile, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "p", "private_key_id": "k1",
		"private_key": string(pemKey), "client_email": "ci@p.iam.gserviceaccount.com",
		"client_id": "1", "token_uri": tokens.URL + "/token",
	})
	path := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(path, keyFile, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", path)
	start := time.Now()
	// The endpoint is never reached: the token is fetched first.
	_, err = cloud.NewGCS(context.Background(), blob.GCSConfig{Bucket: "bucket", Endpoint: "https://127.0.0.1:9"})
	if !errors.Is(err, blob.ErrAccessDenied) || !strings.Contains(err.Error(), "GOOGLE_APPLICATION_CREDENTIALS") {
		t.Fatalf("NewGCS with a refused key = %v, want ErrAccessDenied with advice", err)
	}
	if tokenRequests.Load() == 0 {
		t.Fatalf("the token server was never asked: %v", err)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("refused credentials took %v to report", d)
	}
}

// flakyGCS is a proxy in front of the emulator that answers 503 to every
// other request without forwarding it, and forwards the first upload but
// answers 503 as if the response were lost on the way back.
type flakyGCS struct {
	proxy    *httputil.ReverseProxy
	n        atomic.Int64
	injected atomic.Int64
	lostOnce atomic.Bool
	lostBody atomic.Value // string: the emulator's answer to the lost upload
}

func (f *flakyGCS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/upload/") && f.lostOnce.CompareAndSwap(false, true) {
		rec := httptest.NewRecorder()
		f.proxy.ServeHTTP(rec, r)
		f.lostBody.Store(rec.Body.String())
		f.injected.Add(1)
		http.Error(w, "response lost", http.StatusServiceUnavailable)
		return
	}
	if f.n.Add(1)%2 == 1 {
		io.Copy(io.Discard, r.Body)
		f.injected.Add(1)
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	f.proxy.ServeHTTP(w, r)
}

// TestGCSRetriesTransientErrors: through a proxy that fails every other
// request with 503, every operation still succeeds, because the client
// retries them all; an upload whose response was lost after the server
// stored the object is retried under its "does not exist" precondition,
// which fails, and Put reports success with the first object intact.
// With a single attempt allowed the same requests fail.
func TestGCSRetriesTransientErrors(t *testing.T) {
	srv := gcstest.StartServer(t)
	target, _ := url.Parse(srv.Endpoint)
	flaky := &flakyGCS{proxy: httputil.NewSingleHostReverseProxy(target)}
	px := httptest.NewServer(flaky)
	defer px.Close()
	ctx := context.Background()
	st, err := cloud.NewGCS(ctx, blob.GCSConfig{Bucket: srv.Bucket, Prefix: "flaky", Endpoint: px.URL, MaxAttempts: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	data := blobtest.Data(30, 3<<20)
	d, _, err := blob.Add(ctx, st, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Add through a flaky connection: %v", err)
	}
	lost, _ := flaky.lostBody.Load().(string)
	var first struct {
		Name       string `json:"name"`
		Generation string `json:"generation"`
	}
	if err := json.Unmarshal([]byte(lost), &first); err != nil || first.Name == "" {
		t.Fatalf("the lost upload did not reach the emulator: %q", lost)
	}
	attrs, err := st.Client().Bucket(srv.Bucket).Object(first.Name).Attrs(ctx)
	if err != nil || fmt.Sprint(attrs.Generation) != first.Generation {
		t.Fatalf("object of the lost upload: %+v, %v; want generation %s (not rewritten by the retry)", attrs, err, first.Generation)
	}
	if err := blob.Verify(ctx, st, d); err != nil {
		names, _ := srv.ObjectNames(ctx, "flaky/")
		t.Fatalf("Verify through a flaky connection: %v\n%v", err, names)
	}
	var keys []string
	if err := st.List(ctx, "", func(k string, _ int64, _ time.Time) error { keys = append(keys, k); return nil }); err != nil || len(keys) < 3 {
		t.Fatalf("List = %v, %v", keys, err)
	}
	for _, k := range keys {
		if err := st.Delete(ctx, k); err != nil {
			t.Fatalf("Delete(%s): %v", k, err)
		}
	}
	if err := st.List(ctx, "", func(k string, _ int64, _ time.Time) error { return fmt.Errorf("%s left", k) }); err != nil {
		t.Fatal(err)
	}
	if flaky.injected.Load() < 10 {
		t.Fatalf("only %d failures injected", flaky.injected.Load())
	}
	t.Logf("%d failures injected, all retried", flaky.injected.Load())

	// One attempt: the first injected failure is the answer.
	once, err := cloud.NewGCS(ctx, blob.GCSConfig{Bucket: srv.Bucket, Prefix: "flaky", Endpoint: px.URL, MaxAttempts: 1})
	if err == nil {
		defer once.Close()
		_, err = once.Stat(ctx, "x")
		if err == nil || errors.Is(err, blob.ErrNotFound) {
			_, err = once.Stat(ctx, "x") // every other request fails
		}
	}
	if err == nil || errors.Is(err, blob.ErrNotFound) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("with one attempt a 503 = %v, want it reported", err)
	}
}

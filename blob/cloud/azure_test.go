package cloud_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/blob/blobtest"
	"github.com/mlgit/mlgit/blob/cloud"
	"github.com/mlgit/mlgit/blob/cloud/cloudtest"
	"github.com/mlgit/mlgit/internal/aztest"
)

func TestMain(m *testing.M) { os.Exit(aztest.Main(m)) }

// newAzure returns an Azure store on srv below a prefix no other test
// uses, reached through the connection string; edit changes its config.
func newAzure(t testing.TB, srv *aztest.Server, edit ...func(*blob.AzureConfig)) *cloud.Azure {
	t.Helper()
	cfg := blob.AzureConfig{
		Container:        srv.Container,
		Prefix:           fmt.Sprintf("t%d/repo", prefixSeq.Add(1)),
		ConnectionString: srv.ConnectionString(),
	}
	for _, e := range edit {
		e(&cfg)
	}
	st, err := cloud.NewAzure(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestAzureConformance(t *testing.T) {
	srv := aztest.Shared(t)
	blobtest.Run(t, func(t *testing.T) blob.Store { return newAzure(t, srv) })
}

// TestAzureConformanceBlocks runs the suite with 64 KiB blocks, so every
// object above that (the large, concurrent and failing puts) is staged as
// blocks and committed, three blocks in flight.
func TestAzureConformanceBlocks(t *testing.T) {
	srv := aztest.Shared(t)
	blobtest.Run(t, func(t *testing.T) blob.Store {
		return newAzure(t, srv, func(c *blob.AzureConfig) { c.BlockSize = 64 << 10; c.Parallel = 3 })
	})
}

func TestAzureBlocksAreCommittedInOrder(t *testing.T) {
	srv := aztest.Shared(t)
	st := newAzure(t, srv, func(c *blob.AzureConfig) { c.BlockSize = 1000; c.Parallel = 4 })
	ctx := context.Background()
	data := blobtest.Data(3, 100_003) // 101 blocks, the last one short
	if err := st.Put(ctx, "blocks/x", io.MultiReader(bytes.NewReader(data)), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	bl, err := st.Client().NewBlockBlobClient(st.BlobName("blocks/x")).GetBlockList(ctx, "committed", nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(bl.CommittedBlocks); n != 101 {
		t.Fatalf("blob has %d committed blocks, want 101", n)
	}
	rc, err := st.Get(ctx, "blocks/x")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, %v; want the %d put", len(got), err, len(data))
	}
	// A stream shorter or longer than announced stores nothing, also when
	// the difference shows only in the last block.
	for name, tc := range map[string]struct {
		body []byte
		size int64
	}{"blocks/short": {data[:len(data)-1], int64(len(data))}, "blocks/long": {data, int64(len(data) - 1)}} {
		err := st.Put(ctx, name, io.MultiReader(bytes.NewReader(tc.body)), tc.size)
		if !errors.Is(err, blob.ErrSizeMismatch) {
			t.Errorf("Put(%s) = %v, want ErrSizeMismatch", name, err)
		}
		if _, err := st.Stat(ctx, name); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Stat(%s) after a failed Put = %v, want ErrNotFound", name, err)
		}
	}
}

func TestAzureOpenStoreFromEnv(t *testing.T) {
	cloudtest.Use(t) // blob.OpenStore runs mlgit-blob-cloud, which gets this environment
	srv := aztest.Shared(t)
	srv.SetEnv(t)
	ctx := context.Background()
	st, err := blob.OpenStore(ctx, srv.URL("from-env"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st.Location(), "az://mlgit-test/from-env?account=devstoreaccount1"; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	d, _, err := blob.Add(ctx, st, strings.NewReader("via the connection string"))
	if err != nil {
		t.Fatal(err)
	}
	// The same store under other names: azblob://, the Location, the
	// MLflow forms (the account of the connection string maps them to the
	// emulator), and the account key with an explicit endpoint.
	urls := []string{
		"azblob://mlgit-test/from-env",
		st.Location(),
		"wasbs://mlgit-test@devstoreaccount1.blob.core.windows.net/from-env",
		"abfss://mlgit-test@devstoreaccount1.dfs.core.windows.net/from-env/",
	}
	for _, u := range urls {
		st2, err := blob.OpenStore(ctx, u)
		if err != nil {
			t.Fatalf("OpenStore(%s): %v", u, err)
		}
		if err := blob.Verify(ctx, st2, d); err != nil {
			t.Fatalf("blob added via az:// not readable via %s: %v", u, err)
		}
	}
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", "")
	t.Setenv("AZURE_STORAGE_ACCOUNT", srv.Account)
	t.Setenv("AZURE_STORAGE_KEY", srv.Key)
	st3, err := blob.OpenStore(ctx, "az://mlgit-test/from-env?endpoint="+url.QueryEscape(srv.Endpoint))
	if err != nil {
		t.Fatal(err)
	}
	if err := blob.Verify(ctx, st3, d); err != nil {
		t.Fatalf("blob not readable with the account key: %v", err)
	}
	// Azurite's shorthand, at the emulator's port.
	t.Setenv("AZURE_STORAGE_KEY", "")
	t.Setenv("AZURE_STORAGE_ACCOUNT", "")
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", "UseDevelopmentStorage=true")
	st4, err := blob.OpenStore(ctx, "az://mlgit-test/from-env?endpoint="+url.QueryEscape(srv.Endpoint))
	if err != nil {
		t.Fatal(err)
	}
	if err := blob.Verify(ctx, st4, d); err != nil {
		t.Fatalf("blob not readable with UseDevelopmentStorage=true: %v", err)
	}
	// Nothing names an account: a clear error, before any request.
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", "")
	t.Setenv("AZURE_STORAGE_ACCOUNT", "")
	_, err = blob.OpenStore(ctx, "az://mlgit-test/x")
	if !errors.Is(err, blob.ErrInvalidURL) || !strings.Contains(err.Error(), "AZURE_STORAGE_CONNECTION_STRING") {
		t.Fatalf("OpenStore without an account = %v, want ErrInvalidURL naming the variables", err)
	}
}

func TestAzureWrongCredentialsFailFast(t *testing.T) {
	srv := aztest.Shared(t)
	start := time.Now()
	wrongKey := strings.Repeat("A", 86) + "=="
	_, err := cloud.NewAzure(context.Background(), blob.AzureConfig{
		Container: srv.Container, Account: srv.Account, Key: wrongKey, Endpoint: srv.Endpoint,
	})
	if !errors.Is(err, blob.ErrAccessDenied) {
		t.Fatalf("NewAzure with a wrong key = %v, want ErrAccessDenied", err)
	}
	if !strings.Contains(err.Error(), "AZURE_STORAGE_KEY") {
		t.Errorf("error gives no advice: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("wrong credentials took %v to report", d)
	}
	_, err = cloud.NewAzure(context.Background(), blob.AzureConfig{
		Container: "no-such-container", ConnectionString: srv.ConnectionString(),
	})
	if !errors.Is(err, blob.ErrNotFound) || !strings.Contains(err.Error(), "no-such-container") {
		t.Fatalf("NewAzure with a missing container = %v, want ErrNotFound naming it", err)
	}
	_, err = cloud.NewAzure(context.Background(), blob.AzureConfig{
		Container: "Bad_Name", ConnectionString: srv.ConnectionString(),
	})
	if !errors.Is(err, blob.ErrInvalidURL) {
		t.Fatalf("NewAzure with an invalid container name = %v, want ErrInvalidURL", err)
	}
}

func TestAzureUnreachableEndpointFailsFast(t *testing.T) {
	endpoint := blobtest.ClosedEndpoint(t) + "/devstoreaccount1"
	cfg := blob.AzureConfig{Container: "c-1", Account: aztest.Account, Key: aztest.Key, Endpoint: endpoint}
	start := time.Now()
	_, err := cloud.NewAzure(context.Background(), cfg)
	if !errors.Is(err, blob.ErrUnavailable) || !strings.Contains(err.Error(), endpoint) {
		t.Fatalf("NewAzure on a closed port = %v, want ErrUnavailable naming %s", err, endpoint)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("unreachable endpoint took %v to report", d)
	}
	t.Logf("unreachable endpoint reported after %v: %v", time.Since(start).Round(time.Millisecond), err)

	// A server that accepts connections but never answers must not hang.
	cfg.Endpoint = blobtest.SilentEndpoint(t) + "/devstoreaccount1"
	cfg.ResponseTimeout = 500 * time.Millisecond
	start = time.Now()
	_, err = cloud.NewAzure(context.Background(), cfg)
	if !errors.Is(err, blob.ErrUnavailable) {
		t.Fatalf("NewAzure on a silent server = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("silent server took %v to report", d)
	}
}

func TestAzurePutIsNotRewritten(t *testing.T) {
	srv := aztest.Shared(t)
	st := newAzure(t, srv)
	ctx := context.Background()
	if err := st.Put(ctx, "x", bytes.NewReader([]byte("one")), 3); err != nil {
		t.Fatal(err)
	}
	p1, err := st.Client().NewBlobClient(st.BlobName("x")).GetProperties(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "x", bytes.NewReader([]byte("two")), 3); err != nil {
		t.Fatal(err)
	}
	p2, _ := st.Client().NewBlobClient(st.BlobName("x")).GetProperties(ctx, nil)
	if *p1.ETag != *p2.ETag {
		t.Fatalf("second Put rewrote the blob: ETag %s -> %s", *p1.ETag, *p2.ETag)
	}
}

// flakyProxy forwards to Azurite and fails every failEvery-th request with
// 503 (or cuts the first download of each blob after cutAfter bytes), as a busy
// service or a broken connection would.
type flakyProxy struct {
	failEvery      int64
	cutAfter       int64
	n, failed, cut atomic.Int64
	proxy          *httputil.ReverseProxy
	cutPaths       sync.Map // paths whose download was cut once
}

func (p *flakyProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := p.n.Add(1)
	if p.failEvery > 0 && n%p.failEvery == 0 {
		p.failed.Add(1)
		io.Copy(io.Discard, r.Body)
		w.Header().Set("x-ms-error-code", "ServerBusy")
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if p.cutAfter > 0 && r.Method == http.MethodGet && r.URL.Query().Get("comp") == "" {
		if _, done := p.cutPaths.LoadOrStore(r.URL.Path, true); done {
			p.proxy.ServeHTTP(w, r)
			return
		}
		p.cut.Add(1)
		p.proxy.ServeHTTP(&cuttingWriter{ResponseWriter: w, left: p.cutAfter}, r)
		return
	}
	p.proxy.ServeHTTP(w, r)
}

// cuttingWriter passes on the first left bytes of a body, then aborts the
// connection.
type cuttingWriter struct {
	http.ResponseWriter
	left int64
}

func (c *cuttingWriter) Write(b []byte) (int, error) {
	if int64(len(b)) > c.left {
		c.ResponseWriter.Write(b[:c.left])
		c.ResponseWriter.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	c.left -= int64(len(b))
	return c.ResponseWriter.Write(b)
}

func startFlakyProxy(t *testing.T, srv *aztest.Server, p *flakyProxy) string {
	t.Helper()
	target, _ := url.Parse(srv.Endpoint)
	target.Path = ""
	p.proxy = httputil.NewSingleHostReverseProxy(target)
	p.proxy.ErrorLog = nil
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: p, ErrorLog: nil}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return "http://" + ln.Addr().String() + "/" + srv.Account
}

func TestAzureRetriesTransientErrors(t *testing.T) {
	srv := aztest.Shared(t)
	p := &flakyProxy{failEvery: 3}
	endpoint := startFlakyProxy(t, srv, p)
	st := newAzure(t, srv, func(c *blob.AzureConfig) {
		c.ConnectionString = ""
		c.Account, c.Key, c.Endpoint = srv.Account, srv.Key, endpoint
		c.BlockSize = 128 << 10
	})
	ctx := context.Background()
	data := blobtest.Data(5, 1<<20)
	d, _, err := blob.Add(ctx, st, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Add through a flaky service: %v", err)
	}
	if err := st.Put(ctx, "big", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("staged Put through a flaky service: %v", err)
	}
	if err := blob.Verify(ctx, st, d); err != nil {
		t.Fatalf("Verify through a flaky service: %v", err)
	}
	if p.failed.Load() == 0 {
		t.Fatal("the proxy failed no request: the test tests nothing")
	}
	t.Logf("%d of %d requests failed with 503, all retried", p.failed.Load(), p.n.Load())

	// Downloads cut mid-way resume where they stopped.
	p2 := &flakyProxy{cutAfter: 100 << 10}
	endpoint2 := startFlakyProxy(t, srv, p2)
	st2 := newAzure(t, srv, func(c *blob.AzureConfig) {
		c.ConnectionString = ""
		c.Account, c.Key, c.Endpoint = srv.Account, srv.Key, endpoint2
		c.Prefix = strings.TrimSuffix(st.BlobName("x"), "/x")
	})
	rc, err := st2.Get(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("cut download: %d bytes, %v; want the %d put", len(got), err, len(data))
	}
	if p2.cut.Load() == 0 {
		t.Fatal("the proxy cut no download: the test tests nothing")
	}
	if err := blob.Verify(ctx, st2, d); err != nil {
		t.Fatalf("Verify with cut downloads: %v", err)
	}
}

func TestAzureFlippedByteDetected(t *testing.T) {
	srv := aztest.Shared(t)
	st := newAzure(t, srv)
	ctx := context.Background()
	// Overwrite behind Put's back with the raw client.
	d, key := blobtest.FlippedChunkDetected(t, st, func(key string, bad []byte) error {
		_, err := st.Client().NewBlockBlobClient(st.BlobName(key)).Upload(ctx, streaming.NopCloser(bytes.NewReader(bad)), nil)
		return err
	})
	if err := st.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	err := blob.Verify(ctx, st, d)
	if !errors.Is(err, blob.ErrCorrupt) || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("Verify with a deleted chunk = %v", err)
	}
}

func TestAzureLockAndGC(t *testing.T) {
	srv := aztest.Shared(t)
	st := newAzure(t, srv)
	ctx := context.Background()
	keep, _, err := blob.Add(ctx, st, bytes.NewReader(blobtest.Data(10, 200<<10)))
	if err != nil {
		t.Fatal(err)
	}
	drop, _, err := blob.Add(ctx, st, bytes.NewReader(blobtest.Data(11, 200<<10)))
	if err != nil {
		t.Fatal(err)
	}
	l, err := blob.Lock(ctx, st, false, "push")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := blob.Lock(ctx, st, true, "gc"); !errors.Is(err, blob.ErrLocked) {
		t.Fatalf("exclusive lock while a shared one is held = %v, want ErrLocked", err)
	}
	l.Unlock()
	gl, err := blob.Lock(ctx, st, true, "gc")
	if err != nil {
		t.Fatal(err)
	}
	stats, err := blob.GC(ctx, st, map[blob.Digest]bool{keep: true}, time.Now().Add(time.Minute), false)
	gl.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if stats.FilesDeleted != 1 || stats.ChunksDeleted == 0 {
		t.Fatalf("GC = %+v, want one file and its chunks deleted", stats)
	}
	if err := blob.Verify(ctx, st, keep); err != nil {
		t.Fatalf("kept blob after GC: %v", err)
	}
	if err := blob.Verify(ctx, st, drop); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("dropped blob after GC: %v, want ErrNotFound", err)
	}
}

// streamMiB is the size of the streamed object of the memory tests:
// MLGIT_AZURE_STREAM_MIB (4096 for the 4 GiB check), else 192 MiB, and
// 32 MiB with -short.
func streamMiB() int64 {
	if n, err := strconv.Atoi(os.Getenv("MLGIT_AZURE_STREAM_MIB")); err == nil && n > 0 {
		return int64(n)
	}
	if testing.Short() {
		return 32
	}
	return 192
}

// TestAzureLargeObjectStreamsInFlatMemory puts one large object from a
// stream that is never held in memory (block uploads) and reads it back
// through a hash; the heap stays far below the object's size both ways.
func TestAzureLargeObjectStreamsInFlatMemory(t *testing.T) {
	srv := aztest.Shared(t)
	st := newAzure(t, srv)
	ctx := context.Background()
	size := streamMiB() << 20
	src := func() io.Reader { return io.LimitReader(rand.NewChaCha8([32]byte{7}), size) }
	want := sha256.New()
	io.Copy(want, src())

	stop := blobtest.HeapPeak()
	start := time.Now()
	if err := st.Put(ctx, "large/object", src(), size); err != nil {
		t.Fatal(err)
	}
	up, upTime := stop(), time.Since(start)

	stop = blobtest.HeapPeak()
	start = time.Now()
	rc, err := st.Get(ctx, "large/object")
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	n, err := io.Copy(got, rc)
	rc.Close()
	down, downTime := stop(), time.Since(start)
	if err != nil || n != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatalf("read back %d bytes (%v), hash match %v; want %d", n, err, bytes.Equal(got.Sum(nil), want.Sum(nil)), size)
	}
	t.Logf("%d MiB: up %v (%.0f MB/s, peak heap %d MiB), down %v (%.0f MB/s, peak heap %d MiB)",
		size>>20, upTime.Round(time.Millisecond), float64(size)/upTime.Seconds()/1e6, up>>20,
		downTime.Round(time.Millisecond), float64(size)/downTime.Seconds()/1e6, down>>20)
	const limit = 128 << 20
	if up > limit || down > limit {
		t.Fatalf("peak heap %d MiB up, %d MiB down for a %d MiB object: memory grows with size", up>>20, down>>20, size>>20)
	}
}

// TestAzureFileStreamsInFlatMemory adds a large file straight into the
// store and reads it back verified (the path of push and pull): every
// chunk is its own blob, so memory stays flat whatever the file size.
func TestAzureFileStreamsInFlatMemory(t *testing.T) {
	srv := aztest.Shared(t)
	st := newAzure(t, srv)
	ctx := context.Background()
	size := streamMiB() << 20
	stop := blobtest.HeapPeak()
	res, err := blob.AddReader(ctx, st, io.LimitReader(rand.NewChaCha8([32]byte{8}), size), blob.AddOptions{})
	add := stop()
	if err != nil || res.Size != size {
		t.Fatalf("AddReader = %+v, %v", res, err)
	}
	stop = blobtest.HeapPeak()
	err = blob.Verify(ctx, st, res.Digest)
	get := stop()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d MiB file: peak heap %d MiB adding, %d MiB reading verified", size>>20, add>>20, get>>20)
	if add > 160<<20 || get > 128<<20 {
		t.Fatalf("peak heap %d MiB add, %d MiB read for a %d MiB file: memory grows with size", add>>20, get>>20, size>>20)
	}
}

func TestParseAzureURL(t *testing.T) {
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", "")
	t.Setenv("AZURE_STORAGE_ACCOUNT", "envacct")
	t.Setenv("AZURE_STORAGE_KEY", "")
	good := []struct {
		url                                  string
		container, prefix, account, endpoint string
	}{
		{"az://models", "models", "", "envacct", ""},
		{"az://models/", "models", "", "envacct", ""},
		{"az://models/team/a", "models", "team/a", "envacct", ""},
		{"azblob://models/team/a/", "models", "team/a", "envacct", ""},
		{"AZ://models/p", "models", "p", "envacct", ""},
		{"az://my-models/p?account=acct2", "my-models", "p", "acct2", ""},
		{"az://models?endpoint=http://127.0.0.1:10000/devstoreaccount1", "models", "", "envacct", "http://127.0.0.1:10000/devstoreaccount1"},
		{"az://models/p?account=acct2&endpoint=https://acct2.blob.core.windows.net/", "models", "p", "acct2", "https://acct2.blob.core.windows.net"},
		{"wasbs://mlflow@acct3.blob.core.windows.net/1/abc/artifacts", "mlflow", "1/abc/artifacts", "acct3", ""},
		{"wasbs://mlflow@acct3.blob.core.windows.net", "mlflow", "", "acct3", ""},
		{"wasb://mlflow@acct3.blob.core.windows.net/x", "mlflow", "x", "acct3", ""},
		{"abfss://data@acct4.dfs.core.windows.net/runs/r1", "data", "runs/r1", "acct4", ""},
		{"abfs://data@acct4.dfs.core.windows.net/runs", "data", "runs", "acct4", ""},
		{"abfss://data@acct5.dfs.core.chinacloudapi.cn/r", "data", "r", "acct5", "https://acct5.blob.core.chinacloudapi.cn"},
		{"az://$root/p", "$root", "p", "envacct", ""},
	}
	for _, tc := range good {
		cfg, err := blob.ParseAzureURL(tc.url)
		if err != nil {
			t.Errorf("ParseAzureURL(%q): %v", tc.url, err)
			continue
		}
		if cfg.Container != tc.container || cfg.Prefix != tc.prefix || cfg.Account != tc.account || cfg.Endpoint != tc.endpoint {
			t.Errorf("ParseAzureURL(%q) = container %q prefix %q account %q endpoint %q; want %q %q %q %q",
				tc.url, cfg.Container, cfg.Prefix, cfg.Account, cfg.Endpoint, tc.container, tc.prefix, tc.account, tc.endpoint)
		}
	}
	bad := []string{
		"az://", "az:///p", "az://Models/p", "az://a/p", "az://ab--c/p", "az://-abc/p", "az://abc-/p",
		"az://abc_d/p", "az://" + strings.Repeat("a", 64), "az://user@models/p", "az://models/p#frag",
		"az://models/p?region=x", "az://models/p?account=Bad", "az://models/p?account=ab",
		"az://models/p?endpoint=ftp://x", "az://models/p?endpoint=http://", "az://models/p?endpoint=http://h/?q=1",
		"az://models/../x", "az://models/a//b", "az://models/.hidden", "az://models/a%00b",
		"wasbs://acct.blob.core.windows.net/p", "wasbs://c1@acct.blob.core.windows.net/p",
		"wasbs://mlflow@acct.queue.core.windows.net/p", "wasbs://mlflow@acct.blob.core.windows.net:443/p",
		"wasbs://mlflow:pw@acct.blob.core.windows.net/p", "wasbs://mlflow@ACCT!.blob.core.windows.net/p",
		"wasbs://mlflow@acct.blob.core.windows.net/p?sv=1", "abfss://data@acct.dfs/p", "abfss://data@acct/p",
		"s3://bucket/p", "az:models", "%zz",
	}
	for _, u := range bad {
		if cfg, err := blob.ParseAzureURL(u); !errors.Is(err, blob.ErrInvalidURL) {
			t.Errorf("ParseAzureURL(%q) = %+v, %v; want ErrInvalidURL", u, cfg, err)
		}
		if strings.Contains(u, "://") && (strings.HasPrefix(u, "az") || strings.HasPrefix(u, "wasb") || strings.HasPrefix(u, "abfs")) {
			if _, err := blob.OpenStore(context.Background(), u); !errors.Is(err, blob.ErrInvalidURL) {
				t.Errorf("OpenStore(%q) = %v; want ErrInvalidURL", u, err)
			}
		}
	}
}

// FuzzParseAzureURL: the parser never panics, every error wraps
// ErrInvalidURL, and what it accepts is a valid container and prefix that
// an az:// URL built from them parses to again.
func FuzzParseAzureURL(f *testing.F) {
	for _, s := range []string{"az://models/p", "azblob://c-1/a/b?account=acct", "wasbs://mlflow@acct.blob.core.windows.net/1/x",
		"abfss://d@acct.dfs.core.windows.net/", "az://models?endpoint=http://127.0.0.1:1/devstoreaccount1", "az://x", "wasbs://@.blob./"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := blob.ParseAzureURL(s)
		if err != nil {
			if !errors.Is(err, blob.ErrInvalidURL) {
				t.Fatalf("ParseAzureURL(%q) error %v does not wrap ErrInvalidURL", s, err)
			}
			return
		}
		if cfg.Prefix != "" {
			if err := blob.ValidateKey(cfg.Prefix); err != nil {
				t.Fatalf("ParseAzureURL(%q) accepted prefix %q: %v", s, cfg.Prefix, err)
			}
		}
		again, err := blob.ParseAzureURL("az://" + cfg.Container + "/" + cfg.Prefix)
		if err != nil || again.Container != cfg.Container || again.Prefix != cfg.Prefix {
			t.Fatalf("ParseAzureURL(%q) = %q %q, which does not round-trip: %+v %v", s, cfg.Container, cfg.Prefix, again, err)
		}
	})
}

// TestAzureTokenCredentialErrorIsClear: an account without a key or a
// connection string signs in with Azure's default credential chain; when
// that has nothing to offer (here: only the Azure CLI, which is not
// installed), opening fails quickly with ErrAccessDenied and advice, and
// no request leaves the machine (the endpoint is a closed local port).
func TestAzureTokenCredentialErrorIsClear(t *testing.T) {
	t.Setenv("AZURE_TOKEN_CREDENTIALS", "AzureCLICredential")
	t.Setenv("PATH", t.TempDir())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "https://" + l.Addr().String() + "/acct1"
	l.Close()
	start := time.Now()
	_, err = cloud.NewAzure(context.Background(), blob.AzureConfig{Container: "models", Account: "acct1", Endpoint: endpoint})
	if !errors.Is(err, blob.ErrAccessDenied) || !strings.Contains(err.Error(), "az login") {
		t.Fatalf("NewAzure with no usable credential = %v, want ErrAccessDenied advising az login", err)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("a missing credential took %v to report", d)
	}
	t.Logf("%v", err)
}

package blob_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/blob/blobtest"
	"github.com/mlgit/mlgit/blob/cloud/cloudtest"
	"github.com/mlgit/mlgit/internal/aztest"
	"github.com/mlgit/mlgit/internal/gcstest"
	"github.com/mlgit/mlgit/internal/s3test"
)

// BenchmarkRemotePushPull pushes blobs from a local cache to each kind of
// blob remote, each on a real server on loopback started by the benchmark
// (S3: versitygw; Google Cloud Storage: fake-gcs-server; Azure Blob
// Storage: Azurite; both through the program mlgit-blob-cloud, built by
// the benchmark, as mlgit reaches them), and pulls them back into an empty cache, every chunk
// verified: blob.Copy with its default parallelism, as mlgit push and pull
// do. One big file (MLGIT_BENCH_REMOTE_MIB, 1024) and many small ones
// (MLGIT_BENCH_REMOTE_FILES, 10,000; 200 B to 20 KiB), one fresh prefix per
// round; MLGIT_BENCH_REMOTES (s3,gcs,azure) picks the remotes. It reports
// the rates both ways and the Go heap's peak, all remotes in one run:
//
//	go test -run '^$' -bench RemotePushPull -benchtime 1x -timeout 90m ./blob/
func BenchmarkRemotePushPull(b *testing.B) {
	ctx := context.Background()
	mib := benchEnvInt("MLGIT_BENCH_REMOTE_MIB", 1024)
	nfiles := benchEnvInt("MLGIT_BENCH_REMOTE_FILES", 10000)
	kinds := "s3,gcs,azure"
	if v := os.Getenv("MLGIT_BENCH_REMOTES"); v != "" {
		kinds = v
	}

	// The sources, built once for every remote.
	big, err := blob.NewLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	bigSize := int64(mib) << 20
	res, err := blob.AddReader(ctx, big, io.LimitReader(rand.NewChaCha8([32]byte{42}), bigSize), blob.AddOptions{})
	if err != nil {
		b.Fatal(err)
	}
	bigDs := []blob.Digest{res.Digest}
	small, err := blob.NewLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 11))
	smallDs := make([]blob.Digest, nfiles)
	var smallSize int64
	buf := make([]byte, 20<<10)
	for i := range smallDs {
		n := 200 + r.IntN(20<<10-200)
		for j := range buf[:n] {
			buf[j] = byte(r.Uint32())
		}
		d, _, err := blob.Add(ctx, small, bytesReader(buf[:n]))
		if err != nil {
			b.Fatal(err)
		}
		smallDs[i] = d
		smallSize += int64(n)
	}

	for kind := range strings.SplitSeq(kinds, ",") {
		var fresh func(b *testing.B) blob.Store
		switch kind {
		case "s3":
			srv := s3test.StartServer(b)
			fresh = func(b *testing.B) blob.Store { return newS3(b, srv) }
		case "gcs":
			cloudtest.Use(b)
			srv := gcstest.StartServer(b)
			fresh = func(b *testing.B) blob.Store { return openCloud(b, srv.URL(fmt.Sprintf("g%d/repo", prefixSeq.Add(1)))) }
		case "azure":
			cloudtest.Use(b)
			srv := aztest.StartServer(b)
			srv.SetEnv(b)
			fresh = func(b *testing.B) blob.Store { return openCloud(b, srv.URL(fmt.Sprintf("t%d/repo", prefixSeq.Add(1)))) }
		default:
			b.Fatalf("MLGIT_BENCH_REMOTES: unknown remote %q (s3, gcs, azure)", kind)
		}
		b.Run(fmt.Sprintf("%s/%dMiB", kind, mib), func(b *testing.B) {
			benchPushPull(b, fresh, big, bigDs, bigSize, "MB/s", float64(bigSize)/1e6)
		})
		b.Run(fmt.Sprintf("%s/%dFiles", kind, nfiles), func(b *testing.B) {
			benchPushPull(b, fresh, small, smallDs, smallSize, "files/s", float64(nfiles))
		})
	}
}

// benchPushPull times pushes of ds from local to a fresh remote store and
// pulls back into an empty folder, reporting work units per second both
// ways and the peak heap.
func benchPushPull(b *testing.B, fresh func(*testing.B) blob.Store, local blob.Store, ds []blob.Digest, size int64, unit string, work float64) {
	ctx := context.Background()
	var push, pull time.Duration
	var peak uint64
	rounds := 0
	for b.Loop() {
		b.StopTimer()
		remote := fresh(b)
		back, err := blob.NewLocal(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		stop := blobtest.HeapPeak() // this process only: the heap of mlgit-blob-cloud is its own
		b.StartTimer()
		start := time.Now()
		if _, err := blob.Copy(ctx, local, remote, ds, blob.CopyOptions{}); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		stats, err := blob.Copy(ctx, remote, back, ds, blob.CopyOptions{})
		if err != nil {
			b.Fatal(err)
		}
		end := time.Now()
		b.StopTimer()
		peak = max(peak, stop())
		if stats.Files != len(ds) {
			b.Fatalf("pulled %d files, want %d", stats.Files, len(ds))
		}
		push += mid.Sub(start)
		pull += end.Sub(mid)
		rounds++
		b.StartTimer()
	}
	b.SetBytes(size)
	b.ReportMetric(push.Seconds()/float64(rounds), "push-s")
	b.ReportMetric(pull.Seconds()/float64(rounds), "pull-s")
	b.ReportMetric(work*float64(rounds)/push.Seconds(), "push-"+unit)
	b.ReportMetric(work*float64(rounds)/pull.Seconds(), "pull-"+unit)
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

// benchEnvInt reads a positive integer from the environment.
func benchEnvInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func bytesReader(b []byte) io.Reader { return &sliceReader{b: b} }

// sliceReader is a reader of b without WriterTo or Seek, like a file read
// through a pipe.
type sliceReader struct{ b []byte }

func (s *sliceReader) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.b)
	s.b = s.b[n:]
	return n, nil
}

// openCloud opens a gs:// or az:// store through blob.OpenStore (the
// program mlgit-blob-cloud) and closes it when the benchmark ends.
func openCloud(b *testing.B, rawURL string) blob.Store {
	b.Helper()
	st, err := blob.OpenStore(context.Background(), rawURL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.(io.Closer).Close() })
	return st
}

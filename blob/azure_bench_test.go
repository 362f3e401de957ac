package blob_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/internal/aztest"
)

// benchEnvInt reads a positive integer from the environment.
func benchEnvInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkAzurePushPull measures pushing to and pulling from an Azure
// container on a local Azurite: one large file streamed into the local
// cache and copied up and down (MLGIT_AZURE_BENCH_MIB, default 1024), and
// many small files (MLGIT_AZURE_BENCH_FILES, default 10,000, 200 B to
// 20 KiB). Push is blob.Copy from a Local store to a fresh prefix; pull is
// blob.Copy back into an empty Local store, every chunk verified, as mlgit
// push and pull do. Run with -benchtime 1x:
//
//	go test -run '^$' -bench AzurePushPull -benchtime 1x -timeout 60m ./blob/
func BenchmarkAzurePushPull(b *testing.B) {
	srv := aztest.StartServer(b)
	ctx := context.Background()
	mib := benchEnvInt("MLGIT_AZURE_BENCH_MIB", 1024)
	nfiles := benchEnvInt("MLGIT_AZURE_BENCH_FILES", 10000)

	pushPull := func(b *testing.B, src *blob.Local, ds []blob.Digest, bytes int64) {
		for b.Loop() {
			dst := newAzure(b, srv)
			stop := heapPeak()
			start := time.Now()
			if _, err := blob.Copy(ctx, src, dst, ds, blob.CopyOptions{}); err != nil {
				b.Fatal(err)
			}
			push, pushPeak := time.Since(start), stop()
			back, err := blob.NewLocal(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			stop = heapPeak()
			start = time.Now()
			if _, err := blob.Copy(ctx, dst, back, ds, blob.CopyOptions{}); err != nil {
				b.Fatal(err)
			}
			pull, pullPeak := time.Since(start), stop()
			b.ReportMetric(push.Seconds(), "push-s")
			b.ReportMetric(pull.Seconds(), "pull-s")
			b.ReportMetric(float64(bytes)/push.Seconds()/1e6, "push-MB/s")
			b.ReportMetric(float64(bytes)/pull.Seconds()/1e6, "pull-MB/s")
			b.ReportMetric(float64(pushPeak>>20), "push-peak-MiB")
			b.ReportMetric(float64(pullPeak>>20), "pull-peak-MiB")
		}
	}

	b.Run(fmt.Sprintf("%dMiB", mib), func(b *testing.B) {
		src, err := blob.NewLocal(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		size := int64(mib) << 20
		res, err := blob.AddReader(ctx, src, io.LimitReader(rand.NewChaCha8([32]byte{42}), size), blob.AddOptions{})
		if err != nil {
			b.Fatal(err)
		}
		pushPull(b, src, []blob.Digest{res.Digest}, size)
	})

	b.Run(fmt.Sprintf("%dFiles", nfiles), func(b *testing.B) {
		src, err := blob.NewLocal(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		r := rand.New(rand.NewPCG(7, 11))
		ds := make([]blob.Digest, nfiles)
		var total int64
		buf := make([]byte, 20<<10)
		for i := range ds {
			n := 200 + r.IntN(20<<10-200)
			for j := range buf[:n] {
				buf[j] = byte(r.Uint32())
			}
			res, err := blob.AddReader(ctx, src, bytesReader(buf[:n]), blob.AddOptions{})
			if err != nil {
				b.Fatal(err)
			}
			ds[i] = res.Digest
			total += int64(n)
		}
		pushPull(b, src, ds, total)
		b.ReportMetric(float64(nfiles), "files")
	})
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

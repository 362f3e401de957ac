package blob_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/internal/gcstest"
)

// gcsBenchMiB is the size of the big file of BenchmarkGCSPushPull (1024 MiB;
// MLGIT_GCS_BENCH_MIB changes it), gcsBenchFiles the number of small files
// (10,000; MLGIT_GCS_BENCH_FILES).
func gcsBenchSizes() (mib, files int) {
	mib, files = 1024, 10000
	if n, err := strconv.Atoi(os.Getenv("MLGIT_GCS_BENCH_MIB")); err == nil && n > 0 {
		mib = n
	}
	if n, err := strconv.Atoi(os.Getenv("MLGIT_GCS_BENCH_FILES")); err == nil && n > 0 {
		files = n
	}
	return mib, files
}

// BenchmarkGCSPushPull pushes blobs from a local cache to Google Cloud
// Storage (the fake-gcs-server emulator on loopback) and pulls them into an
// empty cache, each byte verified, with blob.Copy's default parallelism:
// one big file streamed up and down (BigFile), and many small files
// (SmallFiles). Each round uses a fresh bucket prefix. It reports the push
// and pull rates and the Go heap's peak.
//
//	go test -run '^$' -bench GCSPushPull -benchtime 1x -count 3 -timeout 30m ./blob/
func BenchmarkGCSPushPull(b *testing.B) {
	mib, nfiles := gcsBenchSizes()
	srv := gcstest.StartServer(b)
	ctx := context.Background()

	b.Run(fmt.Sprintf("BigFile/%dMiB", mib), func(b *testing.B) {
		local, err := blob.NewLocal(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		size := int64(mib) << 20
		res, err := blob.AddReader(ctx, local, io.LimitReader(rand.NewChaCha8([32]byte{3}), size), blob.AddOptions{})
		if err != nil {
			b.Fatal(err)
		}
		benchPushPull(b, srv, local, []blob.Digest{res.Digest}, size, "MB/s", float64(size)/1e6)
	})

	b.Run(fmt.Sprintf("SmallFiles/%d", nfiles), func(b *testing.B) {
		local, err := blob.NewLocal(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		// 200 B to 20 KiB each, like configs, metrics and small plots.
		r := rand.New(rand.NewPCG(5, 5))
		src := rand.NewChaCha8([32]byte{5})
		ds := make([]blob.Digest, nfiles)
		var total int64
		for i := range ds {
			buf := make([]byte, 200+r.IntN(20<<10-200))
			_, _ = src.Read(buf)
			d, n, err := blob.Add(ctx, local, bytes.NewReader(buf))
			if err != nil {
				b.Fatal(err)
			}
			ds[i] = d
			total += n
		}
		benchPushPull(b, srv, local, ds, total, "files/s", float64(nfiles))
	})
}

// benchPushPull times pushes of ds from local to a fresh prefix of srv and
// pulls back into an empty folder, reporting units per second (work units
// per round) for both ways and the peak heap.
func benchPushPull(b *testing.B, srv *gcstest.Server, local blob.Store, ds []blob.Digest, size int64, unit string, work float64) {
	ctx := context.Background()
	var push, pull time.Duration
	var peak uint64
	rounds := 0
	for b.Loop() {
		b.StopTimer()
		remote := newGCS(b, srv)
		back, err := blob.NewLocal(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		stopSampling := sampleHeap(&peak)
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
		stopSampling()
		if stats.Files != len(ds) {
			b.Fatalf("pulled %d files, want %d", stats.Files, len(ds))
		}
		push += mid.Sub(start)
		pull += end.Sub(mid)
		rounds++
		b.StartTimer()
	}
	b.SetBytes(size)
	b.ReportMetric(work*float64(rounds)/push.Seconds(), "push-"+unit)
	b.ReportMetric(work*float64(rounds)/pull.Seconds(), "pull-"+unit)
	b.ReportMetric(float64(peak)/(1<<20), "peak-MiB/heap")
}

// sampleHeap records the largest heap in use into peak until the returned
// function is called.
func sampleHeap(peak *uint64) (stop func()) {
	runtime.GC()
	var p atomic.Uint64
	p.Store(*peak)
	done, quit := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > p.Load() {
				p.Store(ms.HeapInuse)
			}
			select {
			case <-quit:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return func() {
		close(quit)
		<-done
		*peak = p.Load()
	}
}

package journal

import (
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlgit/mlgit/manifest"
)

// BenchmarkGroupCommitPaced16 is log-metric's journal append alone, without
// HTTP: 16 writers with the write-ahead log, each appending one metric
// point, then sleeping MLGIT_BENCH_CALL_COST's 1 ms as an MLflow client
// spends between calls. It reports the append's p50/p99 (what a
// request waits for its group to be durable and published), appends per
// second, appends per journal file and the process's CPU per append:
//
//	TMPDIR=/var/tmp go test -run '^$' -bench GroupCommitPaced16 -benchtime 20000x ./repo/journal/
func BenchmarkGroupCommitPaced16(b *testing.B) {
	dir := b.TempDir()
	w := NewWriter(dir)
	if err := w.StartWAL(); err != nil {
		b.Fatal(err)
	}
	defer w.StopWAL()
	// As in a live store: files are written into spares, and a
	// "checkpoint" every 50 ms retires what was published, parking the
	// files as spares again.
	w.SetObserver(nopObserver{})
	w.SetMaxSpares(2048)
	w.MakeSpares(256, nil)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			names, _ := List(dir)
			for _, n := range names {
				w.Retire(n)
			}
		}
	}()
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	b.ResetTimer()
	start, cpu0 := time.Now(), processCPU()
	for c := 0; c < 16; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			run := strings.Repeat(string(rune('a'+c)), 32)
			var ds []time.Duration
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				time.Sleep(time.Millisecond)
				t := time.Now()
				if err := w.AppendPoints(nil, run, []manifest.MetricPoint{{Key: "m", Value: float64(i), Step: i, Timestamp: 1}}); err != nil {
					b.Error(err)
					return
				}
				ds = append(ds, time.Since(t))
			}
			mu.Lock()
			lat = append(lat, ds...)
			mu.Unlock()
		}(c)
	}
	wg.Wait()
	el, cpu := time.Since(start), processCPU()-cpu0
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e6, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e6, "p99-ms")
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "appends/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/op")
	if a, f := w.Counts(); f > 0 {
		b.ReportMetric(float64(a)/float64(f), "appends/file")
	}
}

type nopObserver struct{}

func (nopObserver) Written(string, int64, []*Request) {}
func (nopObserver) Unwritten(string)                  {}

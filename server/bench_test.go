package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mlgit/mlgit/internal/benchfix"
	"github.com/mlgit/mlgit/internal/durable"
	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/repo"
)

// Load benchmarks of the server (targets in docs/server.md): real HTTP over
// loopback, durable acknowledgement included, clients in the same process
// (so they share the machine's cores with the server). `make bench-server`
// runs them; docs/server.md records the figures and the exact command.
//
//	BenchmarkLogMetric16      log-metric, 16 concurrent clients: p50/p99 ms
//	BenchmarkLogMetric16Paced the same, each client spending MLflow's
//	                          client cost between calls: round-trip and
//	                          server-side p50/p99, beside a trivial handler
//	BenchmarkLogBatch1000     log-batch of 1,000 metrics, 4 clients: points/s
//	BenchmarkLogBatchSustained  the same for MLGIT_BENCH_SUSTAIN (e.g. 60s):
//	                          points/s overall and in the slowest 5 s window
//	BenchmarkCreateRun        create-run, 8 clients: runs/s
//	BenchmarkSearchRuns10k    search-runs, metric filter + order_by, 10,000
//	                          runs: p50/p99 ms
//	BenchmarkServer100k       a server process over MLGIT_BENCH_FIXTURE (a
//	                          100,000-run fixture, copied first): start-up
//	                          with and without the index cache, search
//	                          p50/p99, resident memory

func benchEnv(b *testing.B) (*Server, *httptest.Server) {
	b.Helper()
	s := benchServer(b)
	ts := httptest.NewServer(s)
	b.Cleanup(ts.Close)
	return s, ts
}

// benchServer returns a server over a fresh repository, as mlgit server
// starts it.
func benchServer(b *testing.B) *Server {
	b.Helper()
	gittest.Setenv(b)
	b.Setenv("MLGIT_NO_AUTO_GC", "1")
	dir := gittest.NewRepo(b)
	r, _, err := repo.Init(dir, repo.Options{}, false)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	s, err := New(Config{Repo: r, CommitDelay: repo.DefaultCommitDelay})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// benchClient is one client with its own keep-alive connection.
func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}}
}

func post(b testing.TB, hc *http.Client, url string, body []byte) {
	res, err := hc.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		b.Error(err)
		return
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		b.Errorf("POST %s: status %d", url, res.StatusCode)
	}
}

func benchRun(b *testing.B, base string) string {
	res, err := http.Post(base+"/api/2.0/mlflow/runs/create", "application/json", strings.NewReader(`{}`))
	if err != nil {
		b.Fatal(err)
	}
	var v struct {
		Run struct {
			Info struct {
				RunID string `json:"run_id"`
			} `json:"info"`
		} `json:"run"`
	}
	json.NewDecoder(res.Body).Decode(&v)
	res.Body.Close()
	return v.Run.Info.RunID
}

// latencies collects request durations of concurrent clients.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d...)
	l.mu.Unlock()
}

// report adds p50 and p99 in milliseconds.
func (l *latencies) report(b *testing.B) { l.reportAs(b, "") }

// reportAs adds p50 and p99 in milliseconds, their units prefixed.
func (l *latencies) reportAs(b *testing.B, prefix string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return
	}
	sort.Slice(l.d, func(i, j int) bool { return l.d[i] < l.d[j] })
	q := func(p float64) float64 {
		return float64(l.d[int(p*float64(len(l.d)-1))].Nanoseconds()) / 1e6
	}
	b.ReportMetric(q(0.50), prefix+"p50-ms")
	b.ReportMetric(q(0.99), prefix+"p99-ms")
}

// clients runs n clients that together send b.N requests (body(i) for
// the i-th) and returns the wall time.
func clients(b *testing.B, n int, url string, body func(i int64) []byte, lat *latencies) time.Duration {
	el, cpu := pacedClients(b, n, url, body, lat, nil)
	// CPU of the whole process (server and clients) per request: less
	// noisy than latencies on a shared machine.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/op")
	return el
}

// pacedClients is clients with think, when not nil, run by each client
// before each request, outside the measured latency: the time a client
// spends between its calls. It returns the wall time and the CPU time of
// the process.
func pacedClients(b *testing.B, n int, url string, body func(i int64) []byte, lat *latencies, think func()) (time.Duration, time.Duration) {
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	b.StartTimer() // a benchmark with several phases stopped it after the first
	start, cpu0 := time.Now(), cpuTime()
	for c := 0; c < n; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pc := newPoster()
			defer pc.close()
			var ds []time.Duration
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					break
				}
				if think != nil {
					think()
				}
				t := time.Now()
				pc.post(b, url, body(i))
				ds = append(ds, time.Since(t))
			}
			if lat != nil {
				lat.add(ds)
			}
		}()
	}
	wg.Wait()
	el, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	return el, cpu
}

// warmUp sends requests from 16 clients until the server has written
// more journal files than a checkpoint consumes, so that the timed part
// sees a server in its steady state (recycled journal files, background
// checkpoints), not a fresh one.
func warmUp(b *testing.B, s *Server, url string, body func(i int64) []byte) {
	var wg sync.WaitGroup
	var n atomic.Int64
	deadline := time.Now().Add(10 * time.Second)
	for c := 0; c < 16; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pc := newPoster()
			defer pc.close()
			for s.r.JournalStats().Files < 1200 && time.Now().Before(deadline) {
				pc.post(b, url, body(-n.Add(1)))
			}
		}()
	}
	wg.Wait()
}

// BenchmarkLogMetric16: single-point log-metric from 16 concurrent clients
// into one run, after a warm-up.
func BenchmarkLogMetric16(b *testing.B) {
	s, ts := benchEnv(b)
	id := benchRun(b, ts.URL)
	warmUp(b, s, ts.URL+"/api/2.0/mlflow/runs/log-metric", func(i int64) []byte {
		return []byte(fmt.Sprintf(`{"run_id":"%s","key":"w","value":%d,"timestamp":1,"step":%d}`, id, i, -i))
	})
	var lat latencies
	el := clients(b, 16, ts.URL+"/api/2.0/mlflow/runs/log-metric", func(i int64) []byte {
		return []byte(fmt.Sprintf(`{"run_id":"%s","key":"m","value":%d,"timestamp":1,"step":%d}`, id, i, i))
	}, &lat)
	lat.report(b)
	b.ReportMetric(float64(b.N)/el.Seconds(), "req/s")
	st := s.r.JournalStats()
	if st.Files > 0 {
		b.ReportMetric(float64(st.Appends)/float64(st.Files), "writes/fsync")
	}
}

// BenchmarkLogMetric16Paced: log-metric from 16 clients as MLflow's
// clients send it, each spending a call cost between its calls
// (MLGIT_BENCH_CALL_COST, default 1ms: what MLflow's Python client takes
// per log_metric), so that latency is no longer 16 / throughput as in the
// closed loop of BenchmarkLogMetric16. The client cost is a sleep by
// default: MLflow's client is another process, usually on another machine
// (or at least on cores the server does not need), and its time is time
// the server is idle for that client. MLGIT_BENCH_CALL_MODE=spin burns the
// cost as CPU in this process instead, which models 16 such clients on
// this machine's two cores: they then leave the server less than half the
// machine. It reports, for the server and then for the trivial handler of
// BenchmarkBaselineHandler16 paced the same way in the same run (base-):
// the round-trip p50/p99 the client sees, the server-side p50/p99 (from
// the handler's entry to the response written: serverTimer), req/s, the
// process's CPU per request, and the mean client cost actually spent
// (think-ms: a 1 ms sleep oversleeps a little). MLGIT_BENCH_FSYNC=off
// makes no durability point sync (the server's phase only): what a
// request costs beside the disk.
func BenchmarkLogMetric16Paced(b *testing.B) {
	think := callCost(b)
	// b.ResetTimer deletes reported metrics: each phase's are reported
	// at the end.
	var report []func()
	run := func(h http.Handler, url func(base string) string, body func(i int64) []byte, prefix string, warm func(url string)) {
		st := &serverTimer{h: h}
		ts := httptest.NewServer(st)
		defer ts.Close()
		if warm != nil {
			warm(url(ts.URL))
		}
		st.on.Store(true)
		var lat latencies
		var thought atomic.Int64
		el, cpu := pacedClients(b, 16, url(ts.URL), body, &lat, func() {
			t := time.Now()
			think()
			thought.Add(int64(time.Since(t)))
		})
		st.on.Store(false)
		n := b.N
		report = append(report, func() {
			lat.reportAs(b, prefix)
			st.lat.reportAs(b, prefix+"srv-")
			b.ReportMetric(float64(n)/el.Seconds(), prefix+"req/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(n), prefix+"cpu-us/op")
			b.ReportMetric(float64(thought.Load())/float64(n)/1e6, prefix+"think-ms")
		})
	}
	run(trivialHandler, func(base string) string { return base + "/api/2.0/mlflow/runs/log-metric" },
		func(int64) []byte { return baselineBody }, "base-", nil)

	s := benchServer(b)
	if v := os.Getenv("MLGIT_BENCH_FSYNC"); v == "off" {
		// What a request costs beside the disk: nothing is durable.
		defer durable.DisableForBenchmark()()
	} else if v != "" && v != "on" {
		b.Fatalf("MLGIT_BENCH_FSYNC=%q: want on or off", v)
	}
	var id string
	var st0 repo.JournalStats
	run(s, func(base string) string { return base + "/api/2.0/mlflow/runs/log-metric" },
		func(i int64) []byte {
			return []byte(fmt.Sprintf(`{"run_id":"%s","key":"m","value":%d,"timestamp":1,"step":%d}`, id, i, i))
		}, "", func(url string) {
			id = benchRun(b, strings.TrimSuffix(url, "/api/2.0/mlflow/runs/log-metric"))
			warmUp(b, s, url, func(i int64) []byte {
				return []byte(fmt.Sprintf(`{"run_id":"%s","key":"w","value":%d,"timestamp":1,"step":%d}`, id, i, -i))
			})
			st0 = s.r.JournalStats()
		})
	for _, f := range report {
		f()
	}
	if st := s.r.JournalStats(); st.Files > st0.Files {
		// How many paced requests share a group, how many groups hold
		// one request, and how many had to create their file (an inode
		// allocation) for want of a spare.
		files := float64(st.Files - st0.Files)
		b.ReportMetric(float64(st.Appends-st0.Appends)/files, "writes/fsync")
		b.ReportMetric(100*float64(st.Solo-st0.Solo)/files, "solo-%")
		b.ReportMetric(100*float64(st.Created-st0.Created)/files, "created-%")
	}
}

// callCost returns the function that spends the client's cost per call
// of the paced benchmarks (MLGIT_BENCH_CALL_COST, default 1ms): a sleep,
// or with MLGIT_BENCH_CALL_MODE=spin a busy loop.
func callCost(b *testing.B) func() {
	cost := time.Millisecond
	if v := os.Getenv("MLGIT_BENCH_CALL_COST"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			b.Fatalf("MLGIT_BENCH_CALL_COST=%q: want a duration such as 1ms", v)
		}
		cost = d
	}
	switch mode := os.Getenv("MLGIT_BENCH_CALL_MODE"); mode {
	case "", "sleep":
		return func() {
			if cost > 0 {
				time.Sleep(cost)
			}
		}
	case "spin":
		return func() { spin(cost) }
	default:
		b.Fatalf("MLGIT_BENCH_CALL_MODE=%q: want sleep or spin", mode)
		return nil
	}
}

func batchBody(id string, n int) []byte {
	var sb strings.Builder
	sb.WriteString(`{"run_id":"` + id + `","metrics":[`)
	for k := 0; k < n; k++ {
		if k > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"key":"m%d","value":%d.5,"timestamp":1700000000000,"step":%d}`, k%10, k, k)
	}
	sb.WriteString(`]}`)
	return []byte(sb.String())
}

// BenchmarkLogBatch1000: log-batch of 1,000 metrics from 4 clients, each
// into its own run.
func BenchmarkLogBatch1000(b *testing.B) {
	_, ts := benchEnv(b)
	var bodies [][]byte
	for i := 0; i < 4; i++ {
		bodies = append(bodies, batchBody(benchRun(b, ts.URL), 1000))
	}
	var lat latencies
	el := clients(b, 4, ts.URL+"/api/2.0/mlflow/runs/log-batch", func(i int64) []byte { return bodies[i%4] }, &lat)
	lat.report(b)
	b.ReportMetric(float64(b.N*1000)/el.Seconds(), "points/s")
}

// BenchmarkLogBatchSustained runs BenchmarkLogBatch1000's load for
// MLGIT_BENCH_SUSTAIN (say 60s; skipped when unset), whatever b.N, with
// background checkpoints committing as it goes, and reports points/s over
// the whole time and in its slowest 5-second window. Run with
// -benchtime 1x.
func BenchmarkLogBatchSustained(b *testing.B) {
	d, err := time.ParseDuration(os.Getenv("MLGIT_BENCH_SUSTAIN"))
	if err != nil || d <= 0 {
		b.Skip("set MLGIT_BENCH_SUSTAIN=60s to run")
	}
	s, ts := benchEnv(b)
	var bodies [][]byte
	for i := 0; i < 4; i++ {
		bodies = append(bodies, batchBody(benchRun(b, ts.URL), 1000))
	}
	const window = 5 * time.Second
	var points atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	stop := start.Add(d)
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			pc := newPoster()
			defer pc.close()
			for time.Now().Before(stop) {
				pc.post(b, ts.URL+"/api/2.0/mlflow/runs/log-batch", bodies[c])
				points.Add(1000)
			}
		}(c)
	}
	minRate := -1.0
	last, lastT := int64(0), start
	for t := range time.Tick(window) {
		if t.After(stop) {
			break
		}
		p := points.Load()
		rate := float64(p-last) / t.Sub(lastT).Seconds()
		if minRate < 0 || rate < minRate {
			minRate = rate
		}
		last, lastT = p, t
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(points.Load())/el.Seconds(), "points/s")
	b.ReportMetric(minRate, "min5s-points/s")
	// Everything acknowledged is committed by the final checkpoint, and
	// the branch holds every point.
	if err := s.Checkpoint(); err != nil {
		b.Fatal(err)
	}
	st := s.r.JournalStats()
	b.ReportMetric(float64(st.Files), "journal-files")
}

// BenchmarkCreateRun: create-run from 8 clients.
func BenchmarkCreateRun(b *testing.B) {
	_, ts := benchEnv(b)
	var lat latencies
	el := clients(b, 8, ts.URL+"/api/2.0/mlflow/runs/create", func(int64) []byte { return []byte(`{"experiment_id":"0"}`) }, &lat)
	lat.report(b)
	b.ReportMetric(float64(b.N)/el.Seconds(), "runs/s")
}

// searchBody is the search of the Performance section: a metric filter
// and order_by on it, one page of 100 runs.
var searchBody = []byte(`{"experiment_ids":["0"],"filter":"metrics.acc > 0.9","order_by":["metrics.acc DESC"],"max_results":100}`)

// fixtures holds the benchfix repositories built in this process, by
// size; TestMain removes them.
var (
	fixturesMu  sync.Mutex
	fixtures    = map[int]string{}
	fixturesDir string
)

// fixture returns a fresh copy of a benchfix repository of n runs with 20
// params and 10 metrics each (built once per process with git
// fast-import).
func fixture(b *testing.B, n int) string {
	b.Helper()
	gittest.Setenv(b)
	b.Setenv("MLGIT_NO_AUTO_GC", "1")
	fixturesMu.Lock()
	defer fixturesMu.Unlock()
	src := fixtures[n]
	if src == "" {
		if fixturesDir == "" {
			d, err := os.MkdirTemp("", "mlgit-fixtures-")
			if err != nil {
				b.Fatal(err)
			}
			fixturesDir = d
		}
		src = filepath.Join(fixturesDir, strconv.Itoa(n))
		if err := os.MkdirAll(src, 0o755); err != nil {
			b.Fatal(err)
		}
		if _, err := gittest.Run(src, "init", "-q", "-b", "main"); err != nil {
			b.Fatal(err)
		}
		if _, err := benchfix.Build(src, benchfix.Spec{Runs: n, Params: 20, Metrics: 10, Steps: 1, Seed: 1}); err != nil {
			b.Fatal(err)
		}
		fixtures[n] = src
	}
	dir := filepath.Join(b.TempDir(), "fx")
	if out, err := exec.Command("cp", "-a", src, dir).CombinedOutput(); err != nil {
		b.Fatalf("copy fixture: %v: %s", err, out)
	}
	return dir
}

// BenchmarkSearchRuns10k: search-runs over 10,000 committed runs (plus a
// run with pending writes), one client.
func BenchmarkSearchRuns10k(b *testing.B) { benchSearch(b, fixture(b, 10000)) }

// BenchmarkSearchRuns100k is the same over a copy of MLGIT_BENCH_FIXTURE
// (100,000 runs), in this process.
func BenchmarkSearchRuns100k(b *testing.B) {
	src := os.Getenv("MLGIT_BENCH_FIXTURE")
	if src == "" {
		b.Skip("set MLGIT_BENCH_FIXTURE to a 100,000-run fixture (make bench builds /tmp/mlgit-bench/runs-100000)")
	}
	benchSearch(b, copyFixture(b, src))
}

// copyFixture copies a fixture repository (it is read-only) without its
// local state.
func copyFixture(b *testing.B, src string) string {
	gittest.Setenv(b)
	b.Setenv("MLGIT_NO_AUTO_GC", "1")
	dir := filepath.Join(b.TempDir(), "fx")
	if out, err := exec.Command("cp", "-a", src+"/.", dir).CombinedOutput(); err != nil {
		b.Fatalf("copy fixture: %v: %s", err, out)
	}
	return dir
}

func benchSearch(b *testing.B, dir string) {
	r, err := repo.Open(dir, repo.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	t0 := time.Now()
	s, err := New(Config{Repo: r})
	if err != nil {
		b.Fatal(err)
	}
	startup := time.Since(t0)
	defer s.Close()
	ts := httptest.NewServer(s)
	defer ts.Close()
	id := benchRun(b, ts.URL)
	post(b, http.DefaultClient, ts.URL+"/api/2.0/mlflow/runs/log-metric", []byte(`{"run_id":"`+id+`","key":"acc","value":0.95,"timestamp":1}`))
	var lat latencies
	clients(b, 1, ts.URL+"/api/2.0/mlflow/runs/search", func(int64) []byte { return searchBody }, &lat)
	lat.report(b)
	b.ReportMetric(startup.Seconds(), "startup-s")
}

// BenchmarkServer100k measures a server process over a copy of the
// 100,000-run fixture named by MLGIT_BENCH_FIXTURE (scripts/bench.sh builds
// one in /tmp/mlgit-bench/runs-100000): start-up without the index cache
// (cold) and with it (warm), the search p50/p99 over HTTP, and the
// server's resident memory after the searches. Run with -benchtime 1x.
func BenchmarkServer100k(b *testing.B) {
	src := os.Getenv("MLGIT_BENCH_FIXTURE")
	if src == "" {
		b.Skip("set MLGIT_BENCH_FIXTURE to a 100,000-run fixture (make bench builds /tmp/mlgit-bench/runs-100000)")
	}
	dir := copyFixture(b, src)
	os.RemoveAll(filepath.Join(dir, ".git", "mlgit"))
	for _, mode := range []string{"cold", "warm"} {
		t0 := time.Now()
		cmd, base := startChild(b, dir)
		startup := time.Since(t0)
		var lat latencies
		pc := newPoster()
		var ds []time.Duration
		for i := 0; i < 50; i++ {
			t := time.Now()
			pc.post(b, base+"/api/2.0/mlflow/runs/search", searchBody)
			ds = append(ds, time.Since(t))
		}
		lat.add(ds)
		sort.Slice(lat.d, func(i, j int) bool { return lat.d[i] < lat.d[j] })
		rss, hwm := procMemory(cmd.Process.Pid)
		pc.close()
		cmd.Process.Kill()
		cmd.Wait()
		b.ReportMetric(startup.Seconds(), mode+"-startup-s")
		b.ReportMetric(rss/(1<<20), mode+"-rss-MiB")
		b.ReportMetric(hwm/(1<<20), mode+"-hwm-MiB")
		if mode == "warm" {
			lat.report(b)
		}
	}
}

// cpuTime returns the CPU time (user and system) this process used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procMemory returns a process's resident set size and its peak, in bytes.
func procMemory(pid int) (rss, hwm float64) {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && (f[0] == "VmRSS:" || f[0] == "VmHWM:") {
			kb, _ := strconv.ParseFloat(f[1], 64)
			if f[0] == "VmRSS:" {
				rss = kb * 1024
			} else {
				hwm = kb * 1024
			}
		}
	}
	return rss, hwm
}

package server

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The run lifecycle as a training script drives it through MLflow's
// client: create-run, one log-batch (10 metrics, 5 params, 2 tags), then
// update-run to FINISHED, one request after the other.
//
//	BenchmarkRunLifecycle       one sequential client: runs/s and the
//	                            server's share of each run
//	BenchmarkRunLifecycle8      8 clients: the server's runs/s
//
// Each reports the same client against a trivial handler (answering
// create-run with a fixed run) in the same run as "baseline-runs/s".
// MLGIT_BENCH_CALL_COST (a duration, e.g. 1ms) makes the client spin that
// long before each request, as MLflow's Python client spends about 1 ms of
// CPU per call: runs/s then shows what such a client sees.

func BenchmarkRunLifecycle(b *testing.B) { benchLifecycle(b, 1) }

func BenchmarkRunLifecycle8(b *testing.B) { benchLifecycle(b, 8) }

func benchLifecycle(b *testing.B, n int) {
	cost := time.Duration(0)
	if v := os.Getenv("MLGIT_BENCH_CALL_COST"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("MLGIT_BENCH_CALL_COST: %v", err)
		}
		cost = d
	}
	s, ts := benchEnv(b)
	runOnce := func(c *rawConn, base string) error {
		spin(cost)
		if err := c.do(base+"/api/2.0/mlflow/runs/create", []byte(`{"experiment_id":"0","start_time":1700000000000}`)); err != nil {
			return err
		}
		id, err := runIDOf(c.body)
		if err != nil {
			return err
		}
		spin(cost)
		if err := c.do(base+"/api/2.0/mlflow/runs/log-batch", lifecycleBatch(id)); err != nil {
			return err
		}
		spin(cost)
		return c.do(base+"/api/2.0/mlflow/runs/update", []byte(`{"run_id":"`+id+`","status":"FINISHED","end_time":1700000001000}`))
	}
	drive := func(base string) (time.Duration, int64) {
		var next atomic.Int64
		var wg sync.WaitGroup
		var fail atomic.Int64
		start := time.Now()
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := &rawConn{keep: true}
				defer c.close()
				for next.Add(1) <= int64(b.N) {
					if err := runOnce(c, base); err != nil {
						if fail.Add(1) == 1 {
							b.Error(err)
						}
						return
					}
				}
			}()
		}
		wg.Wait()
		return time.Since(start), fail.Load()
	}

	// The baseline first: the same client and requests, a trivial server.
	base := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/api/2.0/mlflow/runs/create" {
			w.Write([]byte(`{"run":{"info":{"run_id":"0123456789abcdef0123456789abcdef","experiment_id":"0","status":"RUNNING"},"data":{}}}`))
			return
		}
		w.Write([]byte("{}"))
	}))
	defer base.Close()
	bel, _ := drive(base.URL)

	b.ResetTimer()
	el, failed := drive(ts.URL)
	b.StopTimer()
	if failed > 0 {
		return
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "runs/s")
	b.ReportMetric(float64(b.N)/bel.Seconds(), "baseline-runs/s")
	if n == 1 {
		// What the server adds to each run beyond a trivial handler.
		b.ReportMetric(float64((el-bel).Microseconds())/float64(b.N)/1000, "server-ms/run")
	}
	// Everything acknowledged is committed by a final checkpoint; the
	// number of commits shows how many ended runs shared one.
	if err := s.Checkpoint(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(s.r.JournalStats().Files), "journal-files")
}

func lifecycleBatch(id string) []byte {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, `{"run_id":%q,"metrics":[`, id)
	for k := 0; k < 10; k++ {
		if k > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"key":"m%d","value":%d.5,"timestamp":1700000000500,"step":0}`, k, k)
	}
	buf.WriteString(`],"params":[`)
	for k := 0; k < 5; k++ {
		if k > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"key":"p%d","value":"v%d"}`, k, k)
	}
	buf.WriteString(`],"tags":[{"key":"team","value":"vision"},{"key":"mlflow.source.type","value":"LOCAL"}]}`)
	return buf.Bytes()
}

// runIDOf finds run_id in a create-run response.
func runIDOf(body []byte) (string, error) {
	const key = `"run_id":"`
	i := bytes.Index(body, []byte(key))
	if i < 0 || len(body) < i+len(key)+32 {
		return "", fmt.Errorf("no run_id in %q", body)
	}
	return string(body[i+len(key) : i+len(key)+32]), nil
}

// spin burns d of CPU, as a client library does between calls.
func spin(d time.Duration) {
	if d <= 0 {
		return
	}
	for t := time.Now(); time.Since(t) < d; {
	}
}

// BenchmarkLogBatch1000Seq: log-batch of 1,000 metrics from one client,
// one call after the other, as MLflow's client sends a batch: p50 and p99,
// and the server's share of the p50 beyond a trivial handler that reads
// the same body ("server-p50-ms").
func BenchmarkLogBatch1000Seq(b *testing.B) {
	_, ts := benchEnv(b)
	body := batchBody(benchRun(b, ts.URL), 1000)
	trivial := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("{}"))
	}))
	defer trivial.Close()
	var base latencies
	clients(b, 1, trivial.URL+"/api/2.0/mlflow/runs/log-batch", func(int64) []byte { return body }, &base)
	var lat latencies
	clients(b, 1, ts.URL+"/api/2.0/mlflow/runs/log-batch", func(int64) []byte { return body }, &lat)
	lat.report(b)
	p50 := func(l *latencies) time.Duration {
		sort.Slice(l.d, func(i, j int) bool { return l.d[i] < l.d[j] })
		return l.d[len(l.d)/2]
	}
	b.ReportMetric(float64((p50(&lat)-p50(&base)).Microseconds())/1000, "server-p50-ms")
}

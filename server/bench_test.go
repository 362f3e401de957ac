package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/repo"
)

// Benchmarks of the server over a real loopback listener, durable
// acknowledgement included. Run: go test -run '^$' -bench . ./server

func benchEnv(b *testing.B) (*Server, *httptest.Server) {
	b.Helper()
	gittest.Setenv(b)
	dir := gittest.NewRepo(b)
	r, _, err := repo.Init(dir, repo.Options{}, false)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	s, err := New(Config{Repo: r})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(s)
	b.Cleanup(ts.Close)
	return s, ts
}

func post(b *testing.B, hc *http.Client, url string, body []byte) {
	res, err := hc.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		b.Fatalf("status %d", res.StatusCode)
	}
}

func benchRun(b *testing.B, ts *httptest.Server) string {
	res, err := ts.Client().Post(ts.URL+"/api/2.0/mlflow/runs/create", "application/json", bytes.NewReader([]byte(`{}`)))
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

func BenchmarkLogMetricParallel(b *testing.B) {
	_, ts := benchEnv(b)
	id := benchRun(b, ts)
	var i atomic.Int64
	b.SetParallelism(8) // 8 × GOMAXPROCS clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		hc := ts.Client()
		for pb.Next() {
			n := i.Add(1)
			post(b, hc, ts.URL+"/api/2.0/mlflow/runs/log-metric", []byte(fmt.Sprintf(`{"run_id":"%s","key":"m","value":%d,"timestamp":1,"step":%d}`, id, n, n)))
		}
	})
}

func BenchmarkLogBatch1000(b *testing.B) {
	_, ts := benchEnv(b)
	var ids []string
	for i := 0; i < 4; i++ {
		ids = append(ids, benchRun(b, ts))
	}
	var ms []map[string]any
	for k := 0; k < 1000; k++ {
		ms = append(ms, map[string]any{"key": fmt.Sprintf("m%d", k%10), "value": k, "timestamp": 1, "step": k})
	}
	bodies := make([][]byte, len(ids))
	for i, id := range ids {
		bodies[i], _ = json.Marshal(map[string]any{"run_id": id, "metrics": ms})
	}
	var i atomic.Int64
	start := time.Now()
	b.SetParallelism(2)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		hc := ts.Client()
		for pb.Next() {
			post(b, hc, ts.URL+"/api/2.0/mlflow/runs/log-batch", bodies[int(i.Add(1))%len(bodies)])
		}
	})
	b.ReportMetric(float64(b.N*1000)/time.Since(start).Seconds(), "points/s")
}

func BenchmarkCreateRun(b *testing.B) {
	_, ts := benchEnv(b)
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		hc := ts.Client()
		for pb.Next() {
			post(b, hc, ts.URL+"/api/2.0/mlflow/runs/create", []byte(`{"experiment_id":"0"}`))
		}
	})
}

func BenchmarkSearchRuns1000(b *testing.B) {
	s, ts := benchEnv(b)
	for i := 0; i < 1000; i++ {
		d, err := s.r.CreateRun(repo.RunSpec{})
		if err != nil {
			b.Fatal(err)
		}
		body := fmt.Sprintf(`{"run_id":"%s","metrics":[{"key":"acc","value":%f,"timestamp":1}]}`, d.ID, float64(i)/1000)
		post(b, ts.Client(), ts.URL+"/api/2.0/mlflow/runs/log-batch", []byte(body))
	}
	if err := s.Checkpoint(); err != nil {
		b.Fatal(err)
	}
	q := []byte(`{"experiment_ids":["0"],"filter":"metrics.acc > 0.5","order_by":["metrics.acc DESC"],"max_results":100}`)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		post(b, ts.Client(), ts.URL+"/api/2.0/mlflow/runs/search", q)
	}
}

package ui_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
	"github.com/mlgit/mlgit/server"
)

// seriesAnswer is GET /ui/api/series's JSON.
type seriesAnswer struct {
	Key  string  `json:"key"`
	X    string  `json:"x"`
	Px   int     `json:"px"`
	XMin float64 `json:"xmin"`
	XMax float64 `json:"xmax"`
	Runs []struct {
		ID    string            `json:"id"`
		Name  string            `json:"name"`
		Total int               `json:"total"`
		Full  bool              `json:"full"`
		SameX bool              `json:"same_x"`
		X     []float64         `json:"x"`
		Y     []json.RawMessage `json:"y"`
	} `json:"runs"`
	ErrorCode string `json:"error_code"`
	Message   string `json:"message"`
}

// yval decodes a y value: a number or "NaN", "Infinity", "-Infinity".
func yval(t testing.TB, m json.RawMessage) float64 {
	t.Helper()
	var s string
	if json.Unmarshal(m, &s) == nil {
		v, err := manifest.ParseFloat(s)
		if err != nil {
			t.Fatalf("y value %s", m)
		}
		return v
	}
	var f float64
	if err := json.Unmarshal(m, &f); err != nil {
		t.Fatalf("y value %s: %v", m, err)
	}
	return f
}

// getSeries calls the series endpoint and decodes its answer.
func getSeries(t testing.TB, base string, q url.Values) (int, seriesAnswer) {
	t.Helper()
	resp, err := http.Get(base + "/ui/api/series?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var a seriesAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("series answer is not JSON (%d): %.300s", resp.StatusCode, body)
	}
	return resp.StatusCode, a
}

// newRun creates a run in the default experiment.
func newRun(t testing.TB, r *repo.Repo, name string, params map[string]string) string {
	t.Helper()
	run, err := r.CreateRun(repo.RunSpec{Name: name, Params: params, StartTime: fixedNow.UnixMilli()})
	if err != nil {
		t.Fatal(err)
	}
	return run.ID
}

// logSeries logs n points of key: step i, value f(i), one second apart.
func logSeries(t testing.TB, r *repo.Repo, id, key string, n int, f func(i int) float64) {
	t.Helper()
	const batch = 100_000
	t0 := fixedNow.UnixMilli()
	for from := 0; from < n; from += batch {
		pts := make([]manifest.MetricPoint, 0, min(batch, n-from))
		for i := from; i < min(n, from+batch); i++ {
			pts = append(pts, manifest.MetricPoint{Key: key, Value: f(i), Step: int64(i), Timestamp: t0 + int64(i)*1000})
		}
		if _, err := r.LogBatch(id, repo.Batch{Metrics: pts}); err != nil {
			t.Fatal(err)
		}
	}
}

// spiky is a slow wave with one spike, a NaN and an infinity.
func spiky(i int) float64 {
	switch i {
	case 54321:
		return 1e6
	case 70000:
		return math.NaN()
	case 80000:
		return math.Inf(1)
	}
	return math.Sin(float64(i)/5000) + float64(i%7)/100
}

// TestSeriesM4 checks the downsampled path against a reference M4 of the
// same points: every column's first, last, min and max are returned, the
// spike and the non-finite values are kept, and no more than 4·px
// (+ the non-finite points) come back.
func TestSeriesM4(t *testing.T) {
	e := newEnv(t)
	id := newRun(t, e.R, "big", nil)
	const n, px = 100_000, 500
	logSeries(t, e.R, id, "loss", n, spiky)
	if _, err := e.R.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	code, a := getSeries(t, e.URL, url.Values{"key": {"loss"}, "run": {id}, "px": {fmt.Sprint(px)}})
	if code != 200 || len(a.Runs) != 1 {
		t.Fatalf("%d %+v", code, a)
	}
	s := a.Runs[0]
	if s.Total != n || s.Full || s.Name != "big" || a.XMin != 0 || a.XMax != n-1 {
		t.Fatalf("total %d full %v name %q range %v..%v", s.Total, s.Full, s.Name, a.XMin, a.XMax)
	}
	if len(s.X) > 4*px+2 || len(s.X) != len(s.Y) {
		t.Fatalf("%d x and %d y values for px=%d", len(s.X), len(s.Y), px)
	}
	got := map[int]float64{}
	for i, x := range s.X {
		if i > 0 && x <= s.X[i-1] {
			t.Fatalf("x not ascending at %d: %v after %v", i, x, s.X[i-1])
		}
		got[int(x)] = yval(t, s.Y[i])
	}
	// Reference M4.
	type col struct{ first, last, lo, hi int }
	cols := map[int]*col{}
	for i := 0; i < n; i++ {
		c := int(float64(i) * px / float64(n-1))
		if c >= px {
			c = px - 1
		}
		cc := cols[c]
		if cc == nil {
			cc = &col{first: i, lo: -1, hi: -1}
			cols[c] = cc
		}
		cc.last = i
		v := spiky(i)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		if cc.lo < 0 || v < spiky(cc.lo) {
			cc.lo = i
		}
		if cc.hi < 0 || v > spiky(cc.hi) {
			cc.hi = i
		}
	}
	for c, cc := range cols {
		for _, i := range []int{cc.first, cc.last, cc.lo, cc.hi} {
			v, ok := got[i]
			if !ok {
				t.Fatalf("column %d: step %d (first/last/min/max) missing", c, i)
			}
			// y is sent with 9 significant digits.
			if want := spiky(i); math.Abs(v-want) > 1e-8*math.Abs(want) && !(math.IsNaN(v) && math.IsNaN(want)) && v != want {
				t.Fatalf("step %d: %v, want %v", i, v, want)
			}
		}
	}
	if got[54321] != 1e6 || !math.IsNaN(got[70000]) || !math.IsInf(got[80000], 1) {
		t.Fatalf("spike %v, NaN %v, Inf %v", got[54321], got[70000], got[80000])
	}

	// A zoom that fits comes back at full resolution, with one point
	// beyond each edge.
	code, a = getSeries(t, e.URL, url.Values{"key": {"loss"}, "run": {id}, "px": {fmt.Sprint(px)}, "xmin": {"1000"}, "xmax": {"2000"}})
	if code != 200 || !a.Runs[0].Full || len(a.Runs[0].X) != 1003 || a.Runs[0].X[0] != 999 || a.Runs[0].X[1002] != 2001 {
		t.Fatalf("zoom: %d full=%v %d points", code, a.Runs[0].Full, len(a.Runs[0].X))
	}
	// Wall time in seconds, relative time from the run's start.
	_, a = getSeries(t, e.URL, url.Values{"key": {"loss"}, "run": {id}, "x": {"wall"}, "xmin": {fmt.Sprint(fixedNow.Unix() + 10)}, "xmax": {fmt.Sprint(fixedNow.Unix() + 20)}})
	if x := a.Runs[0].X; len(x) != 13 || x[1] != float64(fixedNow.Unix()+10) {
		t.Fatalf("wall: %v", x)
	}
	_, a = getSeries(t, e.URL, url.Values{"key": {"loss"}, "run": {id}, "x": {"relative"}, "xmax": {"3"}})
	if x := a.Runs[0].X; len(x) != 5 || x[0] != 0 || x[3] != 3 {
		t.Fatalf("relative: %v", x)
	}
}

// TestSeriesRunsAndErrors: several runs share one range; a run without
// the metric has none; a run that logs more is read again; bad requests
// are 400 and unknown runs 404, as JSON.
func TestSeriesRunsAndErrors(t *testing.T) {
	e := newEnv(t)
	a1 := newRun(t, e.R, "alpha", nil)
	a2 := newRun(t, e.R, "<b>beta</b>", nil)
	a3 := newRun(t, e.R, "gamma", nil)
	logSeries(t, e.R, a1, "acc", 10, func(i int) float64 { return float64(i) })
	logSeries(t, e.R, a2, "acc", 20, func(i int) float64 { return float64(i) / 2 })
	code, a := getSeries(t, e.URL, url.Values{"key": {"acc"}, "run": {a1 + "," + a2, a3}})
	if code != 200 || len(a.Runs) != 3 || a.XMax != 19 {
		t.Fatalf("%d %+v", code, a)
	}
	if r := a.Runs[1]; r.Name != "<b>beta</b>" || r.Total != 20 || !r.Full || len(r.X) != 20 {
		t.Fatalf("beta: %+v", r)
	}
	if r := a.Runs[2]; r.Total != 0 || len(r.X) != 0 || !r.Full {
		t.Fatalf("gamma has no acc: %+v", r)
	}
	// Runs logged at the same steps send them once.
	a4 := newRun(t, e.R, "delta", nil)
	logSeries(t, e.R, a4, "acc", 20, func(i int) float64 { return -float64(i) })
	if _, a = getSeries(t, e.URL, url.Values{"key": {"acc"}, "run": {a2, a4}}); !a.Runs[1].SameX || a.Runs[1].X != nil || len(a.Runs[1].Y) != 20 || a.Runs[0].SameX || len(a.Runs[0].X) != 20 {
		t.Fatalf("same steps: %+v", a.Runs)
	}
	// More points after a read (the cache must notice).
	if _, err := e.R.LogBatch(a1, repo.Batch{Metrics: []manifest.MetricPoint{{Key: "acc", Value: 42, Step: 10, Timestamp: fixedNow.UnixMilli() + 99000}}}); err != nil {
		t.Fatal(err)
	}
	if _, a = getSeries(t, e.URL, url.Values{"key": {"acc"}, "run": {a1}}); a.Runs[0].Total != 11 {
		t.Fatalf("after logging one more: %+v", a.Runs[0])
	}
	// The whole checkpoint path too.
	if _, err := e.R.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if _, a = getSeries(t, e.URL, url.Values{"key": {"acc"}, "run": {a1}}); a.Runs[0].Total != 11 || yval(t, a.Runs[0].Y[10]) != 42 {
		t.Fatalf("after checkpoint: %+v", a.Runs[0])
	}

	many := make([]string, 1001)
	for i := range many {
		many[i] = fmt.Sprintf("%032x", i)
	}
	for _, c := range []struct {
		q    url.Values
		code int
	}{
		{url.Values{"run": {a1}}, 400},
		{url.Values{"key": {"acc"}}, 400},
		{url.Values{"key": {"acc"}, "run": {"nothex"}}, 400},
		{url.Values{"key": {"acc"}, "run": {a1}, "x": {"epoch"}}, 400},
		{url.Values{"key": {"acc"}, "run": {a1}, "px": {"0"}}, 400},
		{url.Values{"key": {"acc"}, "run": {a1}, "px": {"wide"}}, 400},
		{url.Values{"key": {"acc"}, "run": {a1}, "xmin": {"5"}, "xmax": {"1"}}, 400},
		{url.Values{"key": {"acc"}, "run": {a1}, "xmin": {"NaN"}}, 400},
		{url.Values{"key": {"acc"}, "run": {strings.Join(many, ",")}}, 400},
		{url.Values{"key": {"acc"}, "run": {a1, strings.Repeat("ab", 16)}}, 404},
	} {
		code, a := getSeries(t, e.URL, c.q)
		if code != c.code || a.ErrorCode == "" || a.Message == "" {
			t.Errorf("%v: %d %+v, want %d with an error", c.q, code, a, c.code)
		}
	}
}

// benchEnv is a server over a new repository for benchmarks.
func benchEnv(b *testing.B) (*repo.Repo, string) {
	gittest.Setenv(b)
	dir := gittest.NewRepo(b)
	r, _, err := repo.Init(dir, repo.Options{Now: func() time.Time { return fixedNow }}, false)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	s, err := server.New(server.Config{Repo: r, Version: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(s)
	b.Cleanup(func() { ts.Close(); s.Close() })
	return r, ts.URL
}

func benchGet(b *testing.B, u string) int {
	resp, err := http.Get(u)
	if err != nil {
		b.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("%s: %d", u, resp.StatusCode)
	}
	return int(n)
}

// TestSeriesSharedBudget: 40 runs on one chart of 800 pixels share the
// chart's point budget (20,000): each gets 125 wider columns, and still
// its spike (a different step in each run), its lowest value and its
// NaN and +Inf.
func TestSeriesSharedBudget(t *testing.T) {
	e := newEnv(t)
	const runs, n = 40, 5000
	ids := make([]string, runs)
	f := func(k int) func(int) float64 {
		return func(i int) float64 {
			switch i {
			case 1000 + 37*k:
				return 1e6 + float64(k)
			case 2000 + 41*k:
				return -1e6 - float64(k)
			case 4500 + k:
				return math.NaN()
			case 4600 + k:
				return math.Inf(1)
			}
			return float64(k) + math.Sin(float64(i)/50)
		}
	}
	for k := range ids {
		ids[k] = newRun(t, e.R, fmt.Sprint("run", k), nil)
		logSeries(t, e.R, ids[k], "loss", n, f(k))
	}
	code, a := getSeries(t, e.URL, url.Values{"key": {"loss"}, "px": {"800"}, "run": {strings.Join(ids, ",")}})
	if code != 200 || len(a.Runs) != runs {
		t.Fatalf("%d %d runs", code, len(a.Runs))
	}
	if a.Px != 125 {
		t.Fatalf("px %d, want 125 (20,000 points shared by 40 runs)", a.Px)
	}
	points := 0
	for k, s := range a.Runs {
		if s.Full || s.Total != n || s.SameX || len(s.Y) > 4*a.Px+2 {
			t.Fatalf("run %d: full %v total %d same_x %v, %d points", k, s.Full, s.Total, s.SameX, len(s.Y))
		}
		points += len(s.Y)
		got := map[int]float64{}
		for i, x := range s.X {
			got[int(x)] = yval(t, s.Y[i])
		}
		if got[1000+37*k] != 1e6+float64(k) || got[2000+41*k] != -1e6-float64(k) ||
			!math.IsNaN(got[4500+k]) || !math.IsInf(got[4600+k], 1) {
			t.Fatalf("run %d: max %v, min %v, NaN %v, Inf %v", k, got[1000+37*k], got[2000+41*k], got[4500+k], got[4600+k])
		}
	}
	if points > 20_000+runs*4 {
		t.Errorf("%d points in the chart, over the budget", points)
	}
	// One run alone keeps 4 points per pixel of its width.
	_, a = getSeries(t, e.URL, url.Values{"key": {"loss"}, "px": {"800"}, "run": {ids[0]}})
	if a.Px != 800 || len(a.Runs[0].Y) <= 4*250+2 {
		t.Errorf("one run: px %d, %d points", a.Px, len(a.Runs[0].Y))
	}
	// A zoom of the 40 runs that fits the budget (401 points each, at
	// most 4·125) returns every point.
	_, a = getSeries(t, e.URL, url.Values{"key": {"loss"}, "px": {"800"}, "xmin": {"1000"}, "xmax": {"1400"}, "run": {strings.Join(ids, ",")}})
	if !a.Runs[0].Full || len(a.Runs[0].Y) != 403 {
		t.Errorf("zoom: full %v, %d points", a.Runs[0].Full, len(a.Runs[0].Y))
	}
}

// BenchmarkMetricHistory1M: reading and parsing one 1,000,000-point
// history from the store (what the series cache saves).
func BenchmarkMetricHistory1M(b *testing.B) {
	r, _ := benchEnv(b)
	id := newRun(b, r, "big", nil)
	logSeries(b, r, id, "loss", 1_000_000, spiky)
	if _, err := r.Checkpoint(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		pts, err := r.MetricHistory(id, "loss")
		if err != nil || len(pts) != 1_000_000 {
			b.Fatal(err, len(pts))
		}
	}
}

// BenchmarkSeriesM4_1M: one chart of a 1,000,000-point history over HTTP,
// cold (first request reads the store) and warm (cached), whole range and
// a 1% zoom.
func BenchmarkSeriesM4_1M(b *testing.B) {
	r, base := benchEnv(b)
	id := newRun(b, r, "big", nil)
	logSeries(b, r, id, "loss", 1_000_000, spiky)
	if _, err := r.Checkpoint(); err != nil {
		b.Fatal(err)
	}
	u := base + "/ui/api/series?key=loss&px=800&run=" + id
	start := time.Now()
	n := benchGet(b, u)
	b.Logf("cold request: %v, %d bytes", time.Since(start), n)
	b.Run("whole", func(b *testing.B) {
		for b.Loop() {
			benchGet(b, u)
		}
	})
	b.Run("zoom1pct", func(b *testing.B) {
		for b.Loop() {
			benchGet(b, u+"&xmin=500000&xmax=510000")
		}
	})
}

// BenchmarkSeries100Runs10k: one chart of 100 runs × 10,000 steps (the
// compare page draws ten of these).
func BenchmarkSeries100Runs10k(b *testing.B) {
	r, base := benchEnv(b)
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = newRun(b, r, fmt.Sprint("run", i), nil)
		logSeries(b, r, ids[i], "loss", 10_000, func(j int) float64 { return float64(i) + math.Sin(float64(j)/100) })
	}
	if _, err := r.Checkpoint(); err != nil {
		b.Fatal(err)
	}
	u := base + "/ui/api/series?key=loss&px=600&run=" + strings.Join(ids, ",")
	start := time.Now()
	n := benchGet(b, u)
	b.Logf("cold request: %v, %d bytes", time.Since(start), n)
	for b.Loop() {
		benchGet(b, u)
	}
}

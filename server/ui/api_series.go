package ui

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/mlgit/mlgit/internal/par"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
)

// Limits of the series endpoint.
const (
	maxSeriesRuns = 1000
	defaultPx     = 800
	maxPx         = 10000
	// chartPoints is the point budget of one response (one chart) of
	// several runs: when runs·4·px would exceed it, px is lowered to
	// chartPoints/(4·runs), at least minSharedPx. A browser draws a
	// chart of 20,000 points in about 20 ms, and a line among a hundred
	// needs no more columns than the chart has pixels divided by ten
	// (MLflow's charts sample 320 points of each run; 100 runs here
	// keep 50 columns' first, last, min and max each). A chart of one
	// run is never lowered (its px is at most maxPx).
	chartPoints = 20_000
	minSharedPx = 16
	// cachePoints bounds the parsed histories kept between requests
	// (24 bytes a point).
	cachePoints = 20_000_000
)

// histories caches parsed histories for every Handler of the process
// (entries name their repository), so zooms and redraws skip reading
// and parsing the segments again.
var histories = newSeriesCache(cachePoints)

func (h *Handler) seriesRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /ui/api/series", h.series)
}

// seriesResponse is the answer of GET /ui/api/series.
type seriesResponse struct {
	Key  string
	X    string
	Px   int // pixel columns each run was downsampled to
	XMin float64
	XMax float64
	Runs []*seriesRun
}

type seriesRun struct {
	ID, Name string
	start    int64
	sum      manifest.MetricSummary
	cols     *columns
	Total    int // points in the history
	Full     bool
	x, y     []float64
	idx      []int32 // points of x/y returned; nil: all
}

// series serves GET /ui/api/series: one metric of up to 1,000 runs,
// downsampled for a chart of a given width.
//
// Query:
//
//	key=<metric>         required
//	run=<id>             repeated or comma-separated, 1 to 1,000 runs
//	x=step|wall|relative x unit: the step; Unix seconds; seconds since the
//	                     run's start time (its first point's when it has
//	                     none) (default step)
//	px=<pixels>          the chart's plot width (default 800, 1 to 10,000)
//	xmin=, xmax=         the visible x range (after a zoom), in the x unit
//
// Answer (200):
//
//	{"key": "loss", "x": "step", "px": 800, "xmin": 0, "xmax": 999999,
//	 "runs": [{"id": "…", "name": "…", "total": 1000000, "full": false,
//	           "x": [0, 17, …], "y": [0.93, "NaN", "Infinity", …]}]}
//
// total is the run's number of points of the metric (0 when it has none);
// x and y are its points in [xmin, xmax] (plus the nearest point outside
// on either side), ordered by x; a run whose x values are those of the
// run before it has "same_x": true instead of x (runs logged at the same
// steps send their steps once). y values (9 significant digits: a
// float32 exactly) are numbers or the strings
// "NaN", "Infinity" and "-Infinity". When the range holds at most 4·px
// points of a run they are all returned and full is true; otherwise they
// are downsampled with M4: per pixel column the first, last, lowest and
// highest point, plus every non-finite point. Without xmin/xmax the range
// is the union of the runs' x ranges, so every run shares the same pixel
// columns.
//
// The point budget is per chart, shared by its runs: when runs·4·px
// would exceed 20,000 points, px is lowered to 20,000/(4·runs), at least
// 16 (100 runs get 50 columns; 1,000 runs 16, 64,000 points), so each
// run gets wider columns (the answer's px says how many), still with
// each column's first, last, min and max and every non-finite point: a
// spike is never hidden, only drawn a little wider. One run keeps 4
// points per pixel of its px (up to 10,000). A zoom asks again for the
// visible range, under the same budget (every point when it fits).
//
// Errors are JSON {"error_code", "message"}: 400 for a missing or bad
// parameter, 404 for an unknown run.
func (h *Handler) series(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	key := q.Get("key")
	if key == "" {
		seriesError(w, invalid("the metric key is missing: add key=<metric>"))
		return
	}
	ids := queryList(r, "run")
	if len(ids) == 0 {
		seriesError(w, invalid("no run: add run=<run id> (repeated or comma-separated)"))
		return
	}
	if len(ids) > maxSeriesRuns {
		seriesError(w, invalid("%d runs requested: at most %d runs per chart", len(ids), maxSeriesRuns))
		return
	}
	seen := map[string]bool{}
	uniq := ids[:0:0]
	for _, id := range ids {
		if !manifest.ValidRunID(id) {
			seriesError(w, invalid("run id %q is not 32 lower-case hex characters", id))
			return
		}
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	ids = uniq
	axis := xStep
	switch q.Get("x") {
	case "", "step":
	case "wall":
		axis = xWall
	case "relative":
		axis = xRelative
	default:
		seriesError(w, invalid("x=%q: the x axis is step, wall or relative", q.Get("x")))
		return
	}
	px := defaultPx
	if s := q.Get("px"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPx {
			seriesError(w, invalid("px=%q: the chart width is a number of pixels from 1 to %d", s, maxPx))
			return
		}
		px = n
	}
	xmin, xmax := math.Inf(-1), math.Inf(1)
	for _, p := range []struct {
		name string
		v    *float64
	}{{"xmin", &xmin}, {"xmax", &xmax}} {
		if s := q.Get(p.name); s != "" {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil || !finite(f) {
				seriesError(w, invalid("%s=%q is not a number", p.name, s))
				return
			}
			*p.v = f
		}
	}
	if xmin > xmax {
		seriesError(w, invalid("xmin (%g) is above xmax (%g)", xmin, xmax))
		return
	}
	px = sharedPx(px, len(ids))

	runs, err := h.loadSeries(ids, key)
	if err != nil {
		seriesError(w, err)
		return
	}
	// The x range: what was asked, else the union of the runs' ranges.
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range runs {
		if s.cols == nil || s.cols.len() == 0 {
			continue
		}
		start := s.start
		switch {
		case axis == xWall:
			start = 0
		case start == 0: // a run without a start time: from its first point
			start = slices.Min(s.cols.ts)
		}
		v := s.cols.view(axis, start)
		s.x, s.y = v.x, v.y
		lo = min(lo, v.x[0])
		hi = max(hi, v.x[len(v.x)-1])
	}
	if !math.IsInf(xmin, -1) {
		lo = xmin
	}
	if !math.IsInf(xmax, 1) {
		hi = xmax
	}
	if lo > hi { // no points at all
		lo, hi = 0, 0
	}
	parallel(len(runs), func(i int) {
		s := runs[i]
		if s.x == nil {
			s.Full = true
			return
		}
		s.idx, s.Full = m4(s.x, s.y, lo, hi, px)
	})
	writeSeries(w, r, &seriesResponse{Key: key, X: [...]string{"step", "wall", "relative"}[axis], Px: px, XMin: lo, XMax: hi, Runs: runs})
}

// sharedPx is the pixel columns of each of n runs on a chart of px
// columns: px while n·4·px fits the chart's point budget, else the budget
// shared (see chartPoints).
func sharedPx(px, n int) int {
	if n > 1 && n*4*px > chartPoints {
		px = max(minSharedPx, chartPoints/(4*n))
	}
	return px
}

// loadSeries reads each run's name and its history of key, from the
// cache when the run's summary of key is unchanged, in parallel.
func (h *Handler) loadSeries(ids []string, key string) ([]*seriesRun, error) {
	runs := make([]*seriesRun, len(ids))
	errs := make([]error, len(ids))
	parallel(len(ids), func(i int) {
		doc, err := h.r.GetRun(ids[i])
		if err != nil {
			errs[i] = err
			return
		}
		s := &seriesRun{ID: doc.ID, Name: doc.Name, start: doc.StartTime}
		runs[i] = s
		sum, ok := doc.Metrics[key]
		if !ok {
			return
		}
		s.sum = sum
		k := seriesKey{repo: h.r, run: doc.ID, metric: key}
		if c := histories.get(k, sum); c != nil {
			s.cols = c
			s.Total = c.len()
			return
		}
		c, err := h.readHistory(doc, key)
		if err != nil {
			errs[i] = err
			return
		}
		s.cols = c
		s.Total = c.len()
	})
	for _, e := range errs {
		if e != nil {
			return nil, e
		}
	}
	return runs, nil
}

// allKeysPoints bounds the runs whose every metric is read and cached at
// once (their points take 24 bytes each as read, 384 MB at most).
const allKeysPoints = 16_000_000

// readHistory reads a run's history of key from the store and caches it.
// Reading one key parses every segment of the run anyway, so a run of at
// most allKeysPoints points has all its keys read and cached in the same
// pass: the run page's charts then cost one read, not one per key.
// Concurrent requests for the same run share one read.
func (h *Handler) readHistory(doc *manifest.Run, key string) (*columns, error) {
	total := int64(0)
	for _, m := range doc.Metrics {
		total += m.Count
	}
	all := total <= allKeysPoints
	fk := flightKey{repo: h.r, run: doc.ID}
	if !all {
		fk.metric = key
	}
	res, err := reads.do(fk, func() (map[string]*columns, error) {
		want := func(k string) bool { return k == key }
		if all {
			want = func(string) bool { return true }
		}
		hist, err := h.r.MetricHistoryColumns(doc.ID, want)
		if err != nil {
			return nil, err
		}
		out := make(map[string]*columns, len(hist))
		for k, mc := range hist {
			c := columnsOf(mc)
			delete(hist, k) // let the read columns go as soon as they are converted
			out[k] = c
			if sum, ok := doc.Metrics[k]; ok {
				histories.put(seriesKey{repo: h.r, run: doc.ID, metric: k}, sum, c)
			}
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	if c := res[key]; c != nil {
		return c, nil
	}
	return newColumns(nil), nil
}

// flightKey names one read of the store: a run's every metric (metric
// "") or one.
type flightKey struct {
	repo        *repo.Repo
	run, metric string
}

type flight struct {
	done chan struct{}
	res  map[string]*columns
	err  error
}

// flights lets concurrent requests share one read of a run.
type flights struct {
	mu sync.Mutex
	m  map[flightKey]*flight
}

var reads = &flights{m: map[flightKey]*flight{}}

func (f *flights) do(k flightKey, fn func() (map[string]*columns, error)) (map[string]*columns, error) {
	f.mu.Lock()
	if c := f.m[k]; c != nil {
		f.mu.Unlock()
		<-c.done
		return c.res, c.err
	}
	c := &flight{done: make(chan struct{})}
	f.m[k] = c
	f.mu.Unlock()
	c.res, c.err = fn()
	close(c.done)
	f.mu.Lock()
	delete(f.m, k)
	f.mu.Unlock()
	return c.res, c.err
}

// writeSeries writes the response by hand: numbers in their shortest
// form, non-finite values as strings, no reflection over millions of
// values.
func writeSeries(w http.ResponseWriter, r *http.Request, resp *seriesResponse) {
	n := 0
	for _, s := range resp.Runs {
		if s.idx != nil {
			n += len(s.idx)
		} else {
			n += len(s.x)
		}
	}
	b := make([]byte, 0, 256+n*24+len(resp.Runs)*128)
	b = append(b, `{"key":`...)
	b = appendJSONString(b, resp.Key)
	b = append(b, `,"x":"`...)
	b = append(b, resp.X...)
	b = append(b, `","px":`...)
	b = strconv.AppendInt(b, int64(resp.Px), 10)
	b = append(b, `,"xmin":`...)
	b = appendNum(b, resp.XMin)
	b = append(b, `,"xmax":`...)
	b = appendNum(b, resp.XMax)
	b = append(b, `,"runs":[`...)
	for i, s := range resp.Runs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":"`...)
		b = append(b, s.ID...) // 32 hex characters
		b = append(b, `","name":`...)
		b = appendJSONString(b, s.Name)
		b = append(b, `,"total":`...)
		b = strconv.AppendInt(b, int64(s.Total), 10)
		b = append(b, `,"full":`...)
		b = strconv.AppendBool(b, s.Full)
		// Runs logged at the same steps (the usual case) share their x:
		// sent once, referred to by "same_x".
		if i > 0 && sameX(resp.Runs[i-1], s) {
			b = append(b, `,"same_x":true,"y":[`...)
		} else {
			b = append(b, `,"x":[`...)
			b = appendCol(b, s, s.x, -1)
			b = append(b, `],"y":[`...)
		}
		b = appendCol(b, s, s.y, yDigits)
		b = append(b, "]}"...)
	}
	b = append(b, "]}\n"...)
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Vary", "Accept-Encoding")
	// Numbers compress about 3:1 at gzip's fastest level, which costs
	// less than moving the bytes through the browser's network stack.
	if len(b) >= gzipMin && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		zw := gzipWriters.Get().(*gzip.Writer)
		var buf bytes.Buffer
		buf.Grow(len(b) / 3)
		zw.Reset(&buf)
		zw.Write(b)
		zw.Close()
		gzipWriters.Put(zw)
		hd.Set("Content-Encoding", "gzip")
		b = buf.Bytes()
	}
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

// gzipMin is the smallest response worth compressing.
const gzipMin = 32 << 10

var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return zw
}}

// yDigits is the precision of the y values sent: 9 significant digits
// hold a float32 exactly (what most training loops log) and far more than
// a chart or its read-out (6 digits) shows; the response is about 40%
// smaller than with float64's 17.
const yDigits = 9

// appendCol appends the returned values of col (s.x or s.y) with digits
// significant digits (-1: as many as needed to read the float64 back).
func appendCol(b []byte, s *seriesRun, col []float64, digits int) []byte {
	if s.idx == nil {
		for j, v := range col {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendNumPrec(b, v, digits)
		}
		return b
	}
	for j, k := range s.idx {
		if j > 0 {
			b = append(b, ',')
		}
		b = appendNumPrec(b, col[k], digits)
	}
	return b
}

// sameX reports whether two runs return the same x values.
func sameX(a, b *seriesRun) bool {
	if len(a.idx) != len(b.idx) || a.x == nil || b.x == nil || a.idx == nil || b.idx == nil {
		return false
	}
	for j := range a.idx {
		if a.x[a.idx[j]] != b.x[b.idx[j]] {
			return false
		}
	}
	return true
}

// appendNum appends v as a JSON number, or as "NaN", "Infinity" or
// "-Infinity" (proto3 JSON's spelling).
func appendNum(b []byte, v float64) []byte { return appendNumPrec(b, v, -1) }

func appendNumPrec(b []byte, v float64, digits int) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, `"NaN"`...)
	case math.IsInf(v, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(v, -1):
		return append(b, `"-Infinity"`...)
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.AppendInt(b, int64(v), 10)
	}
	return strconv.AppendFloat(b, v, 'g', digits, 64)
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // escapes <, > and & too
	return append(b, q...)
}

// seriesError answers a UI API call with the JSON API's error shape.
func seriesError(w http.ResponseWriter, err error) {
	status, code := http.StatusInternalServerError, "INTERNAL_ERROR"
	switch {
	case errors.Is(err, repo.ErrNotFound):
		status, code = http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST"
	case errors.Is(err, repo.ErrInvalid):
		status, code = http.StatusBadRequest, "INVALID_PARAMETER_VALUE"
	}
	b, _ := json.Marshal(map[string]string{"error_code": code, "message": err.Error()})
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
	fmt.Fprintln(w)
}

// parallel calls fn(0..n-1) on at most GOMAXPROCS+2 goroutines (reading
// a history is part I/O, part parsing).
func parallel(n int, fn func(i int)) { par.Each(n, runtime.GOMAXPROCS(0)+2, fn) }

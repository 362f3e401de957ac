package ui

import (
	"math"
	"testing"

	"github.com/mlgit/mlgit/manifest"
)

// TestM4Edges: empty input, a single x, a column of NaNs only, and the
// neighbours of a zoomed range.
func TestM4Edges(t *testing.T) {
	if idx, full := m4(nil, nil, 0, 10, 100); len(idx) != 0 || !full {
		t.Fatalf("empty: %v %v", idx, full)
	}
	x := []float64{5, 5, 5}
	y := []float64{1, 2, 3}
	if idx, full := m4(x, y, 5, 5, 1); len(idx) != 3 || !full {
		t.Fatalf("one x: %v %v", idx, full)
	}
	// 1,000 points over 10 columns; column 3 (points 300..399) is all NaN.
	n := 1000
	x, y = make([]float64, n), make([]float64, n)
	for i := range x {
		x[i] = float64(i)
		y[i] = float64(i % 10)
		if i >= 300 && i < 400 {
			y[i] = math.NaN()
		}
	}
	idx, full := m4(x, y, 0, float64(n-1), 10)
	if full {
		t.Fatal("1,000 points in 10 columns must be downsampled")
	}
	nan := 0
	for i, k := range idx {
		if i > 0 && k <= idx[i-1] {
			t.Fatalf("indexes not ascending: %v", idx)
		}
		if math.IsNaN(y[k]) {
			nan++
		}
	}
	if nan != 100 {
		t.Errorf("%d NaN points kept, want all 100", nan)
	}
	if len(idx) > 9*4+100 {
		t.Errorf("%d points for 10 columns", len(idx))
	}
	// A zoom keeps one point beyond each edge.
	idx, full = m4(x, y, 500.5, 520.5, 100)
	if !full || x[idx[0]] != 500 || x[idx[len(idx)-1]] != 521 {
		t.Errorf("zoom: %v full=%v", idx, full)
	}
}

// TestSeriesCacheLRU: entries are evicted least recently used first when
// the points exceed the bound, and dropped when the summary changes.
func TestSeriesCacheLRU(t *testing.T) {
	c := newSeriesCache(250)
	cols := func(n int) *columns { return newColumns(make([]manifest.MetricPoint, n)) }
	sum := manifest.MetricSummary{Count: 100, Step: 99}
	a, b, d := seriesKey{run: "a"}, seriesKey{run: "b"}, seriesKey{run: "d"}
	c.put(a, sum, cols(100))
	c.put(b, sum, cols(100))
	if c.get(a, sum) == nil { // a is now the most recent
		t.Fatal("a missing")
	}
	c.put(d, sum, cols(100)) // 300 > 250: b goes
	if c.get(b, sum) != nil || c.get(a, sum) == nil || c.get(d, sum) == nil || c.points != 200 {
		t.Fatalf("after eviction: points %d", c.points)
	}
	if c.get(a, manifest.MetricSummary{Count: 101, Step: 100}) != nil || c.points != 100 {
		t.Fatal("a changed summary must miss and drop the entry")
	}
	c.put(seriesKey{run: "huge"}, sum, cols(1000)) // larger than the cache: not kept
	if c.points != 100 {
		t.Fatalf("points %d", c.points)
	}
}

// TestNewColumnsSorts: a history logged out of step order is sorted by
// step (ties in logging order), and its time order is derived once.
func TestNewColumnsSorts(t *testing.T) {
	c := newColumns([]manifest.MetricPoint{
		{Step: 2, Value: 20, Timestamp: 3},
		{Step: 1, Value: 10, Timestamp: 5},
		{Step: 2, Value: 21, Timestamp: 4},
	})
	if c.step[0] != 1 || c.val[1] != 20 || c.val[2] != 21 {
		t.Fatalf("step order: %v %v", c.step, c.val)
	}
	v := c.view(xWall, 0)
	if v.x[0] != 0.003 || v.y[0] != 20 || v.y[2] != 10 {
		t.Fatalf("time order: %v %v", v.x, v.y)
	}
}

// BenchmarkM4_1M: downsampling 1,000,000 points for an 800-pixel chart.
func BenchmarkM4_1M(b *testing.B) {
	n := 1_000_000
	x, y := make([]float64, n), make([]float64, n)
	for i := range x {
		x[i] = float64(i)
		y[i] = math.Sin(float64(i) / 1000)
	}
	for b.Loop() {
		idx, _ := m4(x, y, 0, float64(n-1), 800)
		if len(idx) > 3200 {
			b.Fatal(len(idx))
		}
	}
}

// TestSharedPx: the point budget is per chart, shared by its runs.
func TestSharedPx(t *testing.T) {
	for _, c := range []struct{ px, runs, want int }{
		{800, 1, 800},
		{maxPx, 1, maxPx}, // one run keeps 4 points per pixel column
		{250, 20, 250},    // 20,000 points: fits
		{800, 20, 250},
		{800, 21, chartPoints / (4 * 21)},
		{800, 100, 50},
		{800, 1000, 16},
		{800, 312, 16},
		{800, 200, 25},
		{5, 1000, 5}, // narrower than the floor: as asked
	} {
		got := sharedPx(c.px, c.runs)
		if got != c.want {
			t.Errorf("sharedPx(%d, %d) = %d, want %d", c.px, c.runs, got, c.want)
		}
		if c.runs > 1 && c.runs*4*got > chartPoints && got > minSharedPx {
			t.Errorf("sharedPx(%d, %d) = %d: %d points over the budget", c.px, c.runs, got, c.runs*4*got)
		}
	}
}

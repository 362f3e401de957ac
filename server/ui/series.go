package ui

import (
	"container/list"
	"math"
	"sort"
	"sync"

	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
)

// columns is one metric history as compact columns, ordered by step
// (ties keep logging order): what the series endpoint downsamples. A
// parsed history of n points takes 24n bytes here instead of the 56n+
// of []manifest.MetricPoint with its key strings.
type columns struct {
	step []float64
	val  []float64
	ts   []int64

	// byTime is the order of the points by timestamp (nil: the step order
	// is already time-ordered), computed once on first use.
	timeOnce sync.Once
	byTime   []int32
}

// newColumns turns a history (in logging order) into columns sorted by
// step. Training loops log in step order, so the sort is usually skipped.
func newColumns(pts []manifest.MetricPoint) *columns {
	n := len(pts)
	sorted := true
	for i := 1; i < n; i++ {
		if pts[i].Step < pts[i-1].Step {
			sorted = false
			break
		}
	}
	if !sorted {
		pts = append([]manifest.MetricPoint(nil), pts...)
		sort.SliceStable(pts, func(i, j int) bool { return pts[i].Step < pts[j].Step })
	}
	c := &columns{step: make([]float64, n), val: make([]float64, n), ts: make([]int64, n)}
	for i, p := range pts {
		c.step[i] = float64(p.Step)
		c.val[i] = p.Value
		c.ts[i] = p.Timestamp
	}
	return c
}

// columnsOf turns a history read as columns (in logging order) into
// series columns sorted by step, reusing its value and timestamp arrays
// when no sort is needed.
func columnsOf(mc *repo.MetricColumns) *columns {
	n := mc.Len()
	sorted := true
	for i := 1; i < n; i++ {
		if mc.Steps[i] < mc.Steps[i-1] {
			sorted = false
			break
		}
	}
	if !sorted {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return mc.Steps[idx[a]] < mc.Steps[idx[b]] })
		c := &columns{step: make([]float64, n), val: make([]float64, n), ts: make([]int64, n)}
		for i, j := range idx {
			c.step[i], c.val[i], c.ts[i] = float64(mc.Steps[j]), mc.Values[j], mc.Timestamps[j]
		}
		return c
	}
	c := &columns{step: make([]float64, n), val: mc.Values, ts: mc.Timestamps}
	for i, s := range mc.Steps {
		c.step[i] = float64(s)
	}
	return c
}

func (c *columns) len() int { return len(c.step) }

// timeOrder returns the point indexes ordered by timestamp, or nil when
// the step order is already ordered by time.
func (c *columns) timeOrder() []int32 {
	c.timeOnce.Do(func() {
		for i := 1; i < len(c.ts); i++ {
			if c.ts[i] < c.ts[i-1] {
				idx := make([]int32, len(c.ts))
				for j := range idx {
					idx[j] = int32(j)
				}
				sort.SliceStable(idx, func(a, b int) bool { return c.ts[idx[a]] < c.ts[idx[b]] })
				c.byTime = idx
				return
			}
		}
	})
	return c.byTime
}

// xAxis is the unit of a series' x values.
type xAxis int

const (
	xStep     xAxis = iota // the metric's step
	xWall                  // Unix seconds (uPlot's time unit), millisecond precision
	xRelative              // seconds since the run's start
)

// view is a run's history as (x, y) in one x unit, sorted by x.
type view struct {
	x, y []float64
}

// view returns the history's points as x/y columns for axis a; start is
// the run's start time (ms) for xRelative. The y column is shared with
// the cache: read only.
func (c *columns) view(a xAxis, start int64) view {
	if a == xStep {
		return view{x: c.step, y: c.val}
	}
	n := c.len()
	x := make([]float64, n)
	y := c.val
	if order := c.timeOrder(); order != nil {
		y = make([]float64, n)
		for i, j := range order {
			x[i] = float64(c.ts[j]-start) / 1000
			y[i] = c.val[j]
		}
	} else {
		for i, t := range c.ts {
			x[i] = float64(t-start) / 1000
		}
	}
	return view{x: x, y: y}
}

// finite reports whether v is neither NaN nor infinite.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// m4 downsamples the points of x (ascending) whose x lies in [xmin, xmax]
// for a chart px pixels wide: per pixel column it keeps the first, the
// last, the lowest and the highest finite point (Jugel et al., "M4",
// PVLDB 7(10), 2014: the drawn line equals the full one), and every
// non-finite point (NaN, ±Inf), so a spike or a NaN is never dropped.
// The points next to the range on either side are kept too, so lines run
// to the chart's edges after a zoom. When the range holds at most 4·px
// points all of them are returned and full is true. It returns indexes
// into x, ascending.
func m4(x, y []float64, xmin, xmax float64, px int) (idx []int32, full bool) {
	lo := sort.SearchFloat64s(x, xmin)
	hi := sort.Search(len(x), func(i int) bool { return x[i] > xmax })
	// One neighbour outside the range on each side.
	from, to := lo, hi
	if from > 0 {
		from--
	}
	if to < len(x) {
		to++
	}
	if hi-lo <= 4*px || !(xmax > xmin) {
		idx = make([]int32, 0, to-from)
		for i := from; i < to; i++ {
			idx = append(idx, int32(i))
		}
		return idx, true
	}
	idx = make([]int32, 0, 4*px+8)
	if from < lo {
		idx = append(idx, int32(from))
	}
	scale := float64(px) / (xmax - xmin)
	col := -1
	var first, last, minI, maxI int
	var extra []int32 // non-finite points of the current column
	flush := func() {
		if col < 0 {
			return
		}
		// first <= minI, maxI <= last; emit the distinct ones in order,
		// merged with the column's non-finite points.
		a, b := minI, maxI
		if a > b {
			a, b = b, a
		}
		pts := [4]int{first, a, b, last}
		prev := -1
		e := 0
		for _, p := range pts {
			if p < 0 {
				continue
			}
			for e < len(extra) && int(extra[e]) < p {
				if int(extra[e]) != prev {
					idx = append(idx, extra[e])
					prev = int(extra[e])
				}
				e++
			}
			if p != prev {
				idx = append(idx, int32(p))
				prev = p
			}
		}
		for ; e < len(extra); e++ {
			if int(extra[e]) != prev {
				idx = append(idx, extra[e])
				prev = int(extra[e])
			}
		}
		extra = extra[:0]
	}
	for i := lo; i < hi; i++ {
		c := int((x[i] - xmin) * scale)
		if c >= px {
			c = px - 1
		}
		if c != col {
			flush()
			col = c
			first, last, minI, maxI = i, i, -1, -1
		}
		last = i
		v := y[i]
		if !finite(v) {
			extra = append(extra, int32(i))
			continue
		}
		if minI < 0 || v < y[minI] {
			minI = i
		}
		if maxI < 0 || v > y[maxI] {
			maxI = i
		}
	}
	flush()
	if to > hi {
		idx = append(idx, int32(hi))
	}
	return idx, false
}

// seriesCache keeps parsed histories as columns, least recently used
// first out, up to maxPoints points in all (24 bytes each). An entry is
// valid while the run's summary of the metric (count, last step and
// timestamp) is unchanged: runs keep logging while the server runs.
type seriesCache struct {
	mu        sync.Mutex
	maxPoints int
	points    int
	ll        *list.List
	m         map[seriesKey]*list.Element
}

type seriesKey struct {
	repo        *repo.Repo
	run, metric string
}

type cacheEntry struct {
	key  seriesKey
	sum  manifest.MetricSummary
	cols *columns
}

func newSeriesCache(maxPoints int) *seriesCache {
	return &seriesCache{maxPoints: maxPoints, ll: list.New(), m: map[seriesKey]*list.Element{}}
}

// get returns the cached columns of a run's metric if its summary still
// matches.
func (c *seriesCache) get(k seriesKey, sum manifest.MetricSummary) *columns {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[k]
	if e == nil {
		return nil
	}
	ent := e.Value.(*cacheEntry)
	if !sameSummary(ent.sum, sum) {
		c.remove(e)
		return nil
	}
	c.ll.MoveToFront(e)
	return ent.cols
}

func sameSummary(a, b manifest.MetricSummary) bool {
	return a.Count == b.Count && a.Step == b.Step && a.Timestamp == b.Timestamp
}

// put stores columns (histories larger than the whole cache are not kept).
func (c *seriesCache) put(k seriesKey, sum manifest.MetricSummary, cols *columns) {
	n := cols.len()
	if n > c.maxPoints {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[k]; e != nil {
		c.remove(e)
	}
	c.m[k] = c.ll.PushFront(&cacheEntry{key: k, sum: sum, cols: cols})
	c.points += n
	for c.points > c.maxPoints {
		c.remove(c.ll.Back())
	}
}

func (c *seriesCache) remove(e *list.Element) {
	ent := e.Value.(*cacheEntry)
	c.ll.Remove(e)
	delete(c.m, ent.key)
	c.points -= ent.cols.len()
}

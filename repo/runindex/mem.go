package runindex

import (
	"cmp"
	"encoding/binary"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/query"
)

// Snap is the run index of one commit in memory; it is never changed once built.
type Snap struct {
	tip    plumbing.Hash
	idx    *Index
	shards map[string]*shard
	n      int
}

type shard struct {
	tree plumbing.Hash
	rows []MemRow
}

// kv is a param or tag, mkv a metric's latest value; k is a key id.
type kv struct {
	k uint32
	v string
}

type mkv struct {
	k uint32
	v float64
}

// MemRow is one run as a search sees it; it implements query.Row.
type MemRow struct {
	id, exp, name, status, lifecycle, user, uri string
	start, end                                  int64
	params, tags                                []kv  // sorted by key id
	metrics                                     []mkv // sorted by key id
	inputs                                      []query.DatasetInput
	yaml                                        plumbing.Hash
	doc                                         *manifest.Run // pending runs: the run itself
}

// Build makes the snapshot of idx, reusing the shards of old whose tree
// did not change.
func Build(idx *Index, old *Snap) *Snap {
	s := &Snap{tip: idx.commit, idx: idx, shards: make(map[string]*shard, len(idx.shards))}
	var ids []uint32 // idx's key ids to the process-wide ones
	for name, sh := range idx.shards {
		if old != nil {
			if o := old.shards[name]; o != nil && o.tree == sh.tree {
				s.shards[name] = o
				s.n += len(o.rows)
				continue
			}
		}
		if ids == nil {
			ids = make([]uint32, len(idx.keys))
			for i, k := range idx.keys {
				ids[i] = keyIDs.id(k)
			}
		}
		ms := buildShard(ids, sh)
		s.shards[name] = ms
		s.n += len(ms.rows)
	}
	return s
}

// rowSpan is where a row's params, tags and metrics are in a shard's
// scratch slices while the shard is parsed.
type rowSpan struct{ p0, p1, t0, t1, m0, m1 int }

// buildShard parses a shard's records. Strings are copied into one arena
// per shard (the rows do not pin the mapped cache file), params and tags
// into one slice and metrics into another, so a scan over the rows reads
// memory in order; low-cardinality attributes are interned.
func buildShard(ids []uint32, sh *idxShard) *shard {
	size := 0
	for _, ru := range sh.runs {
		size += len(ru.rec)
	}
	arena := make([]byte, 0, size)
	ms := &shard{tree: sh.tree, rows: make([]MemRow, 0, len(sh.runs))}
	var kvs []kv
	var mkvs []mkv
	var spans []rowSpan
	for _, ru := range sh.runs {
		start := len(arena)
		arena = append(arena, ru.rec...)
		row, sp, ok := parseRecord(ids, arena[start:len(arena):len(arena)], &kvs, &mkvs)
		if ok {
			ms.rows = append(ms.rows, row)
			spans = append(spans, sp)
		}
	}
	kvArena := make([]kv, len(kvs))
	copy(kvArena, kvs)
	mArena := make([]mkv, len(mkvs))
	copy(mArena, mkvs)
	for i := range ms.rows {
		sp := spans[i]
		ms.rows[i].params = kvArena[sp.p0:sp.p1:sp.p1]
		ms.rows[i].tags = kvArena[sp.t0:sp.t1:sp.t1]
		ms.rows[i].metrics = mArena[sp.m0:sp.m1:sp.m1]
	}
	return ms
}

// parseRecord parses one index record; its params, tags and metrics are
// appended to kvs and mkvs (sorted by key id) at the returned span.
func parseRecord(ids []uint32, rec []byte, kvs *[]kv, mkvs *[]mkv) (MemRow, rowSpan, bool) {
	var row MemRow
	var sp rowSpan
	br := &byteReader{b: rec}
	row.id = ustr(br.bytes(32))
	row.exp, row.name, row.status = internAttr(br.str()), ustr(br.str()), internAttr(br.str())
	row.lifecycle, row.user, row.uri = internAttr(br.str()), internAttr(br.str()), ustr(br.str())
	var n int
	row.start, n = binary.Varint(br.b)
	br.bytes(n)
	row.end, n = binary.Varint(br.b)
	br.bytes(n)
	key := func(id uint64) uint32 {
		if id < uint64(len(ids)) {
			return ids[id]
		}
		br.err = true
		return 0
	}
	for sec := 0; sec < 2; sec++ {
		cnt := int(br.uvarint())
		if cnt > len(br.b) {
			return row, sp, false
		}
		from := len(*kvs)
		for i := 0; i < cnt && !br.err; i++ {
			k := key(br.uvarint())
			*kvs = append(*kvs, kv{k, ustr(br.str())})
		}
		sortKV((*kvs)[from:])
		if sec == 0 {
			sp.p0, sp.p1 = from, len(*kvs)
		} else {
			sp.t0, sp.t1 = from, len(*kvs)
		}
	}
	cnt := int(br.uvarint())
	if cnt > len(br.b) {
		return row, sp, false
	}
	sp.m0 = len(*mkvs)
	for i := 0; i < cnt && !br.err; i++ {
		k := key(br.uvarint())
		v := br.bytes(8)
		if len(v) == 8 {
			*mkvs = append(*mkvs, mkv{k, math.Float64frombits(binary.LittleEndian.Uint64(v))})
		}
	}
	sp.m1 = len(*mkvs)
	slices.SortFunc((*mkvs)[sp.m0:sp.m1], func(a, b mkv) int { return cmp.Compare(a.k, b.k) })
	cnt = int(br.uvarint())
	for i := 0; i < cnt && !br.err; i++ {
		row.inputs = append(row.inputs, query.DatasetInput{Name: ustr(br.str()), Digest: ustr(br.str()), Context: ustr(br.str())})
	}
	copy(row.yaml[:], br.bytes(20))
	return row, sp, !br.err
}

func sortKV(s []kv) { slices.SortFunc(s, func(a, b kv) int { return cmp.Compare(a.k, b.k) }) }

// attrs interns attribute values that few runs do not share (experiment,
// status, lifecycle, user): a scan compares them from a few cache lines,
// and the lifecycle constants by address.
var attrs = struct {
	sync.RWMutex
	m map[string]string
}{m: map[string]string{manifest.LifecycleActive: manifest.LifecycleActive, manifest.LifecycleDeleted: manifest.LifecycleDeleted}}

func internAttr(b []byte) string {
	attrs.RLock()
	s, ok := attrs.m[string(b)]
	attrs.RUnlock()
	if ok {
		return s
	}
	attrs.Lock()
	defer attrs.Unlock()
	if s, ok := attrs.m[string(b)]; ok {
		return s
	}
	s = string(b)
	if len(attrs.m) < 10000 {
		attrs.m[s] = s
	}
	return s
}

// RowOfRun makes the row of a run with pending records; doc must not
// change afterwards.
func RowOfRun(doc *manifest.Run) *MemRow {
	row := &MemRow{id: doc.ID, exp: doc.ExperimentID, name: doc.Name, status: doc.Status, lifecycle: doc.LifecycleStage,
		user: doc.User, uri: doc.ArtifactURI, start: doc.StartTime, end: doc.EndTime, doc: doc}
	for i, m := range []map[string]string{doc.Params, doc.Tags} {
		kvs := make([]kv, 0, len(m))
		for k, v := range m {
			kvs = append(kvs, kv{keyIDs.id(k), v})
		}
		sortKV(kvs)
		if i == 0 {
			row.params = kvs
		} else {
			row.tags = kvs
		}
	}
	row.metrics = make([]mkv, 0, len(doc.Metrics))
	for k, m := range doc.Metrics {
		row.metrics = append(row.metrics, mkv{keyIDs.id(k), m.Value})
	}
	slices.SortFunc(row.metrics, func(a, b mkv) int { return cmp.Compare(a.k, b.k) })
	for _, d := range doc.Inputs {
		row.inputs = append(row.inputs, query.DatasetInput{Name: d.Name, Digest: d.Digest, Context: d.Context})
	}
	return row
}

// keyTable numbers the param, tag and metric keys of every run index in
// the process, so rows compare small integers rather than strings. A
// lookup by a string the caller passes again and again (a filter's key)
// hits a small cache by the string's address.
type keyTable struct {
	mu    sync.RWMutex
	ids   map[string]uint32
	cache [16]atomic.Pointer[keyCacheEntry]
}

type keyCacheEntry struct {
	key string
	id  uint32
	ok  bool
}

var keyIDs = &keyTable{ids: map[string]uint32{}}

// id returns the id of k, numbering it if new.
func (t *keyTable) id(k string) uint32 {
	t.mu.RLock()
	id, ok := t.ids[k]
	t.mu.RUnlock()
	if ok {
		return id
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if id, ok := t.ids[k]; ok {
		return id
	}
	id = uint32(len(t.ids)) + 1
	t.ids[strings.Clone(k)] = id
	return id
}

// lookup returns the id of k, if any run has it.
func (t *keyTable) lookup(k string) (uint32, bool) {
	p := unsafe.StringData(k)
	slot := &t.cache[(uintptr(unsafe.Pointer(p))>>4)%uintptr(len(t.cache))]
	if e := slot.Load(); e != nil && unsafe.StringData(e.key) == p && len(e.key) == len(k) {
		return e.id, e.ok
	}
	t.mu.RLock()
	id, ok := t.ids[k]
	t.mu.RUnlock()
	if ok { // a missing key may be numbered later: not cached
		slot.Store(&keyCacheEntry{key: k, id: id, ok: ok})
	}
	return id, ok
}

// findKV and Metric are the same binary search over two element types,
// written out: a generic version (slices.BinarySearchFunc over a keyID
// method) made SearchRuns10k 20% slower, as searches call them per row.
func findKV(s []kv, key string) (string, bool) {
	id, ok := keyIDs.lookup(key)
	if !ok {
		return "", false
	}
	for lo, hi := 0, len(s); lo < hi; {
		m := int(uint(lo+hi) >> 1)
		switch {
		case s[m].k < id:
			lo = m + 1
		case s[m].k > id:
			hi = m
		default:
			return s[m].v, true
		}
	}
	return "", false
}

// Metric implements query.Row.
func (row *MemRow) Metric(key string) (float64, bool) {
	id, ok := keyIDs.lookup(key)
	if !ok {
		return 0, false
	}
	s := row.metrics
	for lo, hi := 0, len(s); lo < hi; {
		m := int(uint(lo+hi) >> 1)
		switch {
		case s[m].k < id:
			lo = m + 1
		case s[m].k > id:
			hi = m
		default:
			return s[m].v, true
		}
	}
	return 0, false
}

// Param implements query.Row.
func (row *MemRow) Param(key string) (string, bool) { return findKV(row.params, key) }

// Tag implements query.Row.
func (row *MemRow) Tag(key string) (string, bool) { return findKV(row.tags, key) }

// Attr implements query.Row.
func (row *MemRow) Attr(name string) (query.Value, bool) {
	a := Attrs{row.id, row.exp, row.name, row.status, row.lifecycle, row.user, row.uri, row.start, row.end}
	return a.Attr(name)
}

// Datasets implements query.Row.
func (row *MemRow) Datasets() []query.DatasetInput { return row.inputs }

// sortKey is a row's key for one order, as query.Compare sees it: a
// value, then NaN, then missing, in both directions.
type sortKey struct {
	class int8 // 0 value, 1 NaN, 2 missing
	num   float64
	str   string
}

// keyOf returns the key of row for o; false when o is not one this index
// computes itself (query.Compare then decides alone).
func keyOf(row *MemRow, o query.Order) (sortKey, bool) {
	switch o.Entity {
	case query.Metric:
		v, ok := row.Metric(o.Key)
		switch {
		case !ok:
			return sortKey{class: 2}, true
		case math.IsNaN(v):
			return sortKey{class: 1}, true
		}
		return sortKey{num: v}, true
	case query.Param, query.Tag:
		var v string
		var ok bool
		if o.Entity == query.Param {
			v, ok = row.Param(o.Key)
		} else {
			v, ok = row.Tag(o.Key)
		}
		if !ok {
			return sortKey{class: 2}, true
		}
		return sortKey{str: v}, true
	case query.Attribute:
		switch o.Key {
		case "start_time":
			return sortKey{num: float64(row.start)}, true
		case "end_time":
			if row.end == 0 {
				return sortKey{class: 2}, true
			}
			return sortKey{num: float64(row.end)}, true
		case "run_id", "run_name", "status", "artifact_uri", "user_id":
			v, _ := row.Attr(o.Key)
			return sortKey{str: v.Str}, true
		}
	}
	return sortKey{}, false
}

type keyedRow struct {
	row *MemRow
	key sortKey
}

// TopRows returns the first k rows in order, sorted. The first order's
// key is computed once per row; query.Compare breaks its ties.
func TopRows(rows []*MemRow, k int, orders []query.Order) []*MemRow {
	if k > len(rows) {
		k = len(rows)
	}
	if k == 0 {
		return nil
	}
	keyed := make([]keyedRow, len(rows))
	first, rest := orders[0], orders[1:]
	own := true
	for i, row := range rows {
		keyed[i].row = row
		if own {
			keyed[i].key, own = keyOf(row, first)
		}
	}
	numeric := first.Entity == query.Metric || first.Key == "start_time" || first.Key == "end_time"
	less := func(a, b *keyedRow) bool {
		if !own {
			return query.Compare(a.row, b.row, orders) < 0
		}
		if a.key.class != b.key.class {
			return a.key.class < b.key.class
		}
		if a.key.class == 0 {
			var c int
			if numeric {
				c = cmp.Compare(a.key.num, b.key.num)
			} else {
				c = strings.Compare(a.key.str, b.key.str)
			}
			if first.Desc {
				c = -c
			}
			if c != 0 {
				return c < 0
			}
		}
		return query.Compare(a.row, b.row, rest) < 0
	}
	out := make([]*MemRow, 0, k)
	if k >= len(rows)/4 {
		sort.Slice(keyed, func(i, j int) bool { return less(&keyed[i], &keyed[j]) })
		for _, kr := range keyed[:k] {
			out = append(out, kr.row)
		}
		return out
	}
	// A max-heap of the k best so far: its root is the worst of them.
	h := make([]keyedRow, 0, k)
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(h) {
				return
			}
			w := l
			if r := l + 1; r < len(h) && less(&h[l], &h[r]) {
				w = r
			}
			if !less(&h[i], &h[w]) {
				return
			}
			h[i], h[w] = h[w], h[i]
			i = w
		}
	}
	for i := range keyed {
		kr := &keyed[i]
		if len(h) < k {
			h = append(h, *kr)
			for j := len(h) - 1; j > 0; {
				p := (j - 1) / 2
				if !less(&h[p], &h[j]) {
					break
				}
				h[p], h[j] = h[j], h[p]
				j = p
			}
			continue
		}
		if less(kr, &h[0]) {
			h[0] = *kr
			down(0)
		}
	}
	sort.Slice(h, func(i, j int) bool { return less(&h[i], &h[j]) })
	for _, kr := range h {
		out = append(out, kr.row)
	}
	return out
}

// DocCache keeps decoded run manifests by blob id, up to max; when full,
// an arbitrary eighth is dropped.
type DocCache struct {
	mu  sync.Mutex
	m   map[plumbing.Hash]*manifest.Run
	max int
}

// Get returns the manifest of blob h, if cached.
func (c *DocCache) Get(h plumbing.Hash) *manifest.Run {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[h]
}

// Put caches the manifest of blob h.
func (c *DocCache) Put(h plumbing.Hash, d *manifest.Run) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[plumbing.Hash]*manifest.Run{}
	}
	if len(c.m) >= c.max {
		drop := c.max / 8
		for k := range c.m {
			if drop <= 0 {
				break
			}
			delete(c.m, k)
			drop--
		}
	}
	c.m[h] = d
}

// NewDocCache returns a cache of up to max manifests.
func NewDocCache(max int) *DocCache { return &DocCache{max: max} }

// Tip returns the commit of the snapshot.
func (s *Snap) Tip() plumbing.Hash { return s.tip }

// Index returns the run index the snapshot was built from.
func (s *Snap) Index() *Index { return s.idx }

// Select returns the rows keep accepts: the committed runs of the snapshot,
// except those with a row in pend, which replace them (nil: the run does
// not exist).
func (s *Snap) Select(pend map[string]*MemRow, keep func(*MemRow) bool) []*MemRow {
	// Shards holding runs with pending records (those rows are replaced).
	pendShards := map[string]bool{}
	for id := range pend {
		if len(id) >= 2 {
			pendShards[id[:2]] = true
		}
	}
	var rows []*MemRow
	for name, sh := range s.shards {
		check := pendShards[name]
		for i := range sh.rows {
			row := &sh.rows[i]
			if check {
				if _, p := pend[row.id]; p {
					continue
				}
			}
			if keep(row) {
				rows = append(rows, row)
			}
		}
	}
	for _, row := range pend {
		if row != nil && keep(row) {
			rows = append(rows, row)
		}
	}
	return rows
}

// RunID returns the run's id.
func (row *MemRow) RunID() string { return row.id }

// ExperimentID returns the run's experiment.
func (row *MemRow) ExperimentID() string { return row.exp }

// LifecycleStage returns the run's lifecycle stage.
func (row *MemRow) LifecycleStage() string { return row.lifecycle }

// Run returns the manifest of a run with pending records, nil for a
// committed run (see Blob).
func (row *MemRow) Run() *manifest.Run { return row.doc }

// Blob returns the id of a committed run's run.yaml.
func (row *MemRow) Blob() plumbing.Hash { return row.yaml }

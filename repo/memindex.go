package repo

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

// The in-memory run index of a live Repo (StartLive with Index). It holds
// every committed run of the live tip as a compact row (attributes, params,
// tags, latest metric values, dataset inputs) parsed once from the run
// index (index.go) into Go values, per shard, so a search filters and
// orders without decoding or allocating per run. It is built at start from
// the index cache (runs.idx, mmapped) and follows the tip incrementally:
// when the branch moves (our checkpoints, another process's commit, a
// pull), refreshIndex reads only the shards and runs whose tree changed,
// and only those shards' rows are parsed again. Runs with pending journal
// records are rows built from the live state's materialized runs, rebuilt
// only when a run changes. A search therefore costs one pass over the rows
// plus a top-k selection, and decodes only the runs it returns (a cache
// keeps the decoded manifests of recent results).

type memIndex struct {
	r  *Repo
	ls *liveState

	mu  sync.Mutex // serializes refreshes
	cur atomic.Pointer[memSnap]

	pmu  sync.Mutex
	pend map[string]*pendRow

	docs docCache
}

// memSnap is the index of one commit; it is never changed once built.
type memSnap struct {
	tip    plumbing.Hash
	idx    *runIndex
	shards map[string]*memShard
	n      int
}

type memShard struct {
	tree plumbing.Hash
	rows []memRow
}

type pendRow struct {
	ver uint64
	row *memRow // nil: the run does not exist
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

// memRow is one run as a search sees it; it implements query.Row.
type memRow struct {
	id, exp, name, status, lifecycle, user, uri string
	start, end                                  int64
	params, tags                                []kv  // sorted by key id
	metrics                                     []mkv // sorted by key id
	inputs                                      []query.DatasetInput
	yaml                                        plumbing.Hash
	doc                                         *manifest.Run // pending runs: the run itself
}

func newMemIndex(r *Repo, ls *liveState) (*memIndex, error) {
	mi := &memIndex{r: r, ls: ls, pend: map[string]*pendRow{}}
	mi.docs.max = 8192
	ls.mu.Lock()
	tip := ls.tip
	ls.mu.Unlock()
	idx, err := r.runIndexAt(tip) // from the cache; refreshed and saved if stale
	if err != nil {
		return nil, err
	}
	mi.cur.Store(mi.build(idx, nil))
	return mi, nil
}

// saveCache writes the index cache for the current tip.
func (mi *memIndex) saveCache() error {
	s := mi.cur.Load()
	if s == nil {
		return nil
	}
	if old := mi.r.loadRunIndex(); old != nil && old.commit == s.tip {
		return nil
	}
	return mi.r.saveRunIndex(s.idx)
}

// build makes the snapshot of idx, reusing the shards of old whose tree
// did not change.
func (mi *memIndex) build(idx *runIndex, old *memSnap) *memSnap {
	s := &memSnap{tip: idx.commit, idx: idx, shards: make(map[string]*memShard, len(idx.shards))}
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
func buildShard(ids []uint32, sh *idxShard) *memShard {
	size := 0
	for _, ru := range sh.runs {
		size += len(ru.rec)
	}
	arena := make([]byte, 0, size)
	ms := &memShard{tree: sh.tree, rows: make([]memRow, 0, len(sh.runs))}
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
func parseRecord(ids []uint32, rec []byte, kvs *[]kv, mkvs *[]mkv) (memRow, rowSpan, bool) {
	var row memRow
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

// rowOfDoc makes the row of a run with pending records; doc must not
// change afterwards.
func (mi *memIndex) rowOfDoc(doc *manifest.Run) *memRow {
	row := &memRow{id: doc.ID, exp: doc.ExperimentID, name: doc.Name, status: doc.Status, lifecycle: doc.LifecycleStage,
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
func (row *memRow) Metric(key string) (float64, bool) {
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
func (row *memRow) Param(key string) (string, bool) { return findKV(row.params, key) }

// Tag implements query.Row.
func (row *memRow) Tag(key string) (string, bool) { return findKV(row.tags, key) }

// Attr implements query.Row.
func (row *memRow) Attr(name string) (query.Value, bool) {
	a := runAttrs{row.id, row.exp, row.name, row.status, row.lifecycle, row.user, row.uri, row.start, row.end}
	return a.attr(name)
}

// Datasets implements query.Row.
func (row *memRow) Datasets() []query.DatasetInput { return row.inputs }

// pendingRows returns the tip of the live state and the rows of the runs
// with pending records at that tip (nil rows: runs that do not exist).
func (mi *memIndex) pendingRows() (plumbing.Hash, map[string]*memRow, error) {
	var tip plumbing.Hash
	out := map[string]*memRow{}
	err := mi.ls.pendingRuns(func(t plumbing.Hash, runs map[string]*liveRun) {
		tip = t
		mi.pmu.Lock()
		defer mi.pmu.Unlock()
		next := make(map[string]*pendRow, len(runs))
		for id, lr := range runs {
			p := mi.pend[id]
			if p == nil || p.ver != lr.ver {
				p = &pendRow{ver: lr.ver}
				if lr.doc != nil {
					p.row = mi.rowOfDoc(cloneRun(lr.doc))
				}
			}
			next[id] = p
			out[id] = p.row
		}
		mi.pend = next
	})
	return tip, out, err
}

// at returns the snapshot of commit tip, refreshed from the current one.
func (mi *memIndex) at(tip plumbing.Hash) (*memSnap, error) {
	if s := mi.cur.Load(); s.tip == tip {
		return s, nil
	}
	mi.mu.Lock()
	defer mi.mu.Unlock()
	old := mi.cur.Load()
	if old.tip == tip {
		return old, nil
	}
	idx, err := mi.r.refreshIndex(old.idx, tip)
	if err != nil {
		return nil, err
	}
	s := mi.build(idx, old)
	mi.cur.Store(s)
	return s, nil
}

// search is SearchRuns over the in-memory index; the arguments are
// SearchRuns's, parsed and checked.
func (mi *memIndex) search(s RunSearch, f *query.Filter, orders []query.Order, offset, max int) (RunPage, error) {
	var page RunPage
	var tip plumbing.Hash
	var pend map[string]*memRow
	var snap *memSnap
	// The pending rows and the committed ones must be of the same tip;
	// should the tip move in between, read both again.
	for attempt := 0; ; attempt++ {
		var err error
		tip, pend, err = mi.pendingRows()
		if err != nil {
			return page, err
		}
		if snap, err = mi.at(tip); err != nil {
			return page, err
		}
		if snap.tip == tip || attempt >= 3 {
			break
		}
	}
	exps := s.ExperimentIDs
	keep := func(row *memRow) bool {
		if len(exps) > 0 {
			in := false
			for _, e := range exps {
				if row.exp == e {
					in = true
					break
				}
			}
			if !in {
				return false
			}
		}
		return s.View.match(row.lifecycle) && f.Match(row)
	}
	// Shards holding runs with pending records (those rows are replaced).
	pendShards := map[string]bool{}
	for id := range pend {
		if len(id) >= 2 {
			pendShards[id[:2]] = true
		}
	}
	var rows []*memRow
	for name, sh := range snap.shards {
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
	page.Total = len(rows)
	if offset > len(rows) {
		offset = len(rows)
	}
	end := offset + max
	if end > len(rows) {
		end = len(rows)
	}
	top := topRows(rows, end, orders)
	for _, row := range top[offset:end] {
		d, err := mi.decode(row)
		if err != nil {
			return page, err
		}
		page.Runs = append(page.Runs, d)
	}
	if end < len(rows) {
		page.NextPageToken = encodePageToken(end)
	}
	return page, nil
}

// sortKey is a row's key for one order, as query.Compare sees it: a
// value, then NaN, then missing, in both directions.
type sortKey struct {
	class int8 // 0 value, 1 NaN, 2 missing
	num   float64
	str   string
}

// keyOf returns the key of row for o; false when o is not one this index
// computes itself (query.Compare then decides alone).
func keyOf(row *memRow, o query.Order) (sortKey, bool) {
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
	row *memRow
	key sortKey
}

// topRows returns the first k rows in order, sorted. The first order's
// key is computed once per row; query.Compare breaks its ties.
func topRows(rows []*memRow, k int, orders []query.Order) []*memRow {
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
	out := make([]*memRow, 0, k)
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

// decode returns the full manifest of a row. Manifests returned are
// shared between searches: callers must not change them.
func (mi *memIndex) decode(row *memRow) (*manifest.Run, error) {
	if row.doc != nil {
		return row.doc, nil
	}
	if d := mi.docs.get(row.yaml); d != nil {
		return d, nil
	}
	data, err := mi.r.objects.ReadObject(plumbing.BlobObject, row.yaml)
	if err != nil {
		return nil, err
	}
	d, err := manifest.DecodeRun(data)
	if err != nil {
		return nil, err
	}
	mi.docs.put(row.yaml, d)
	return d, nil
}

// docCache keeps decoded run manifests by blob id, up to max; when full,
// an arbitrary eighth is dropped.
type docCache struct {
	mu  sync.Mutex
	m   map[plumbing.Hash]*manifest.Run
	max int
}

func (c *docCache) get(h plumbing.Hash) *manifest.Run {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[h]
}

func (c *docCache) put(h plumbing.Hash, d *manifest.Run) {
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

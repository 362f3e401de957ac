package repo

import (
	"sync"
	"sync/atomic"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/query"
	"github.com/mlgit/mlgit/repo/internal/live"
	"github.com/mlgit/mlgit/repo/journal"
	"github.com/mlgit/mlgit/repo/runindex"
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
	r *Repo
	v *live.View

	mu  sync.Mutex // serializes refreshes
	cur atomic.Pointer[runindex.Snap]

	pmu  sync.Mutex
	pend map[string]*pendRow

	docs *runindex.DocCache
}

type pendRow struct {
	ver uint64
	row *runindex.MemRow // nil: the run does not exist
}

func newMemIndex(r *Repo, v *live.View) (*memIndex, error) {
	mi := &memIndex{r: r, v: v, pend: map[string]*pendRow{}}
	mi.docs = runindex.NewDocCache(8192)
	idx, err := r.runIndexAt(v.Tip()) // from the cache; refreshed and saved if stale
	if err != nil {
		return nil, err
	}
	mi.cur.Store(runindex.Build(idx, nil))
	return mi, nil
}

// saveCache writes the index cache for the current tip.
func (mi *memIndex) saveCache() error {
	s := mi.cur.Load()
	if s == nil {
		return nil
	}
	if old := runindex.Load(mi.r.indexPath()); old != nil && old.Commit() == s.Tip() {
		return nil
	}
	return s.Index().Save(mi.r.indexPath())
}

// pendingRows returns the tip of the live state and the rows of the runs
// with pending records at that tip (nil rows: runs that do not exist).
func (mi *memIndex) pendingRows() (plumbing.Hash, map[string]*runindex.MemRow, error) {
	var tip plumbing.Hash
	out := map[string]*runindex.MemRow{}
	err := mi.v.PendingRuns(func(t plumbing.Hash, runs map[string]*live.Run) {
		tip = t
		mi.pmu.Lock()
		defer mi.pmu.Unlock()
		next := make(map[string]*pendRow, len(runs))
		for id, lr := range runs {
			p := mi.pend[id]
			if p == nil || p.ver != lr.Ver {
				p = &pendRow{ver: lr.Ver}
				if lr.Doc != nil {
					p.row = runindex.RowOfRun(journal.CloneRun(lr.Doc))
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
func (mi *memIndex) at(tip plumbing.Hash) (*runindex.Snap, error) {
	if s := mi.cur.Load(); s.Tip() == tip {
		return s, nil
	}
	mi.mu.Lock()
	defer mi.mu.Unlock()
	old := mi.cur.Load()
	if old.Tip() == tip {
		return old, nil
	}
	idx, err := runindex.Refresh(mi.r.objects, old.Index(), tip)
	if err != nil {
		return nil, err
	}
	s := runindex.Build(idx, old)
	mi.cur.Store(s)
	return s, nil
}

// search is SearchRuns over the in-memory index; the arguments are
// SearchRuns's, parsed and checked.
func (mi *memIndex) search(s RunSearch, f *query.Filter, orders []query.Order, offset, max int) (RunPage, error) {
	var page RunPage
	var tip plumbing.Hash
	var pend map[string]*runindex.MemRow
	var snap *runindex.Snap
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
		if snap.Tip() == tip || attempt >= 3 {
			break
		}
	}
	exps := s.ExperimentIDs
	keep := func(row *runindex.MemRow) bool {
		if len(exps) > 0 {
			in := false
			for _, e := range exps {
				if row.ExperimentID() == e {
					in = true
					break
				}
			}
			if !in {
				return false
			}
		}
		return s.View.match(row.LifecycleStage()) && f.Match(row)
	}
	rows := snap.Select(pend, keep)
	page.Total = len(rows)
	if offset > len(rows) {
		offset = len(rows)
	}
	end := offset + max
	if end > len(rows) {
		end = len(rows)
	}
	top := runindex.TopRows(rows, end, orders)
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

// decode returns the full manifest of a row. Manifests returned are
// shared between searches: callers must not change them.
func (mi *memIndex) decode(row *runindex.MemRow) (*manifest.Run, error) {
	if doc := row.Run(); doc != nil {
		return doc, nil
	}
	if d := mi.docs.Get(row.Blob()); d != nil {
		return d, nil
	}
	data, err := mi.r.objects.ReadObject(plumbing.BlobObject, row.Blob())
	if err != nil {
		return nil, err
	}
	d, err := manifest.DecodeRun(data)
	if err != nil {
		return nil, err
	}
	mi.docs.Put(row.Blob(), d)
	return d, nil
}

package repo

import (
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/mlgit/mlgit/query"
	"github.com/mlgit/mlgit/repo/internal/live"
	"github.com/mlgit/mlgit/repo/runindex"
)

// The in-memory run index of a live Repo (StartLive with Index) is a
// runindex.Live, built at start from the index cache and following the
// live view's tip; the rows of runs with pending journal records come
// from the view's materialized runs. What a search means (experiments,
// view types, page tokens) is SearchRuns's, here.

type memIndex struct {
	v   *live.View
	idx *runindex.Live
}

func newMemIndex(r *Repo, v *live.View) (*memIndex, error) {
	idx, err := r.index.At(v.Tip()) // from the cache; refreshed and saved if stale
	if err != nil {
		return nil, err
	}
	return &memIndex{v: v, idx: runindex.NewLive(r.objects, idx)}, nil
}

// pendingRows returns the tip of the live view and the rows of the runs
// with pending records at that tip (nil rows: runs that do not exist).
func (mi *memIndex) pendingRows() (plumbing.Hash, map[string]*runindex.MemRow, error) {
	var tip plumbing.Hash
	var out map[string]*runindex.MemRow
	err := mi.v.PendingRuns(func(t plumbing.Hash, runs map[string]*live.Run) {
		tip = t
		out = mi.idx.PendingRows(len(runs), func(yield func(string, runindex.PendingRun) bool) {
			for id, lr := range runs {
				if !yield(id, runindex.PendingRun{Doc: lr.Doc, Ver: lr.Ver}) {
					return
				}
			}
		})
	})
	return tip, out, err
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
		if snap, err = mi.idx.At(tip); err != nil {
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
		d, err := mi.idx.Decode(row)
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

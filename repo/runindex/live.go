package runindex

import (
	"iter"
	"sync"
	"sync/atomic"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
	"github.com/mlgit/mlgit/repo/journal"
)

// Live is the in-memory run index of a live store. It holds every
// committed run of the live tip as a compact row (attributes, params,
// tags, latest metric values, dataset inputs) parsed once from the run
// index into Go values, per shard (Snap), so a search filters and orders
// without decoding or allocating per run. It is built from an Index (the
// cache file's, mmapped) and follows the tip incrementally: when the
// branch moves, At reads only the shards and runs whose tree changed, and
// only those shards' rows are parsed again. Runs with pending journal
// records are rows built from the live view's materialized runs, rebuilt
// only when a run changes (PendingRows). A search therefore costs one pass
// over the rows plus a top-k selection, and decodes only the runs it
// returns (Decode keeps the decoded manifests of recent results).
type Live struct {
	db *gitobj.DB

	mu  sync.Mutex // serializes refreshes
	cur atomic.Pointer[Snap]

	pmu  sync.Mutex
	pend map[string]*pendRow

	docs *DocCache
}

type pendRow struct {
	ver uint64
	row *MemRow // nil: the run does not exist
}

// NewLive returns the in-memory index of idx, of the repository db.
func NewLive(db *gitobj.DB, idx *Index) *Live {
	l := &Live{db: db, pend: map[string]*pendRow{}, docs: NewDocCache(8192)}
	l.cur.Store(Build(idx, nil))
	return l
}

// SaveCache writes the current snapshot's index to the cache file path,
// unless the file is of that commit already.
func (l *Live) SaveCache(path string) error {
	s := l.cur.Load()
	if s == nil {
		return nil
	}
	if old := Load(path); old != nil && old.Commit() == s.Tip() {
		return nil
	}
	return s.Index().Save(path)
}

// PendingRun is a run with pending journal records as the live view
// materialized it: Doc is nil when the run does not exist, and Ver changes
// whenever Doc does.
type PendingRun struct {
	Doc *manifest.Run
	Ver uint64
}

// PendingRows returns the rows of the pending runs (n of them; nil rows:
// runs that do not exist), one tip's at a time. A run's row is built again
// only when its Ver changed; the rows of runs no longer pending are
// dropped. Docs are copied, never kept.
func (l *Live) PendingRows(n int, runs iter.Seq2[string, PendingRun]) map[string]*MemRow {
	out := make(map[string]*MemRow, n)
	l.pmu.Lock()
	defer l.pmu.Unlock()
	next := make(map[string]*pendRow, n)
	for id, pr := range runs {
		p := l.pend[id]
		if p == nil || p.ver != pr.Ver {
			p = &pendRow{ver: pr.Ver}
			if pr.Doc != nil {
				p.row = RowOfRun(journal.CloneRun(pr.Doc))
			}
		}
		next[id] = p
		out[id] = p.row
	}
	l.pend = next
	return out
}

// At returns the snapshot of commit tip, refreshed from the current one.
func (l *Live) At(tip plumbing.Hash) (*Snap, error) {
	if s := l.cur.Load(); s.Tip() == tip {
		return s, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.cur.Load()
	if old.Tip() == tip {
		return old, nil
	}
	idx, err := Refresh(l.db, old.Index(), tip)
	if err != nil {
		return nil, err
	}
	s := Build(idx, old)
	l.cur.Store(s)
	return s, nil
}

// Decode returns the full manifest of a row. Manifests returned are
// shared between searches: callers must not change them.
func (l *Live) Decode(row *MemRow) (*manifest.Run, error) {
	if doc := row.Run(); doc != nil {
		return doc, nil
	}
	if d := l.docs.Get(row.Blob()); d != nil {
		return d, nil
	}
	data, err := l.db.ReadObject(plumbing.BlobObject, row.Blob())
	if err != nil {
		return nil, err
	}
	d, err := manifest.DecodeRun(data)
	if err != nil {
		return nil, err
	}
	l.docs.Put(row.Blob(), d)
	return d, nil
}

package repo

import (
	"path/filepath"

	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/query"
	"github.com/mlgit/mlgit/repo/journal"
	"github.com/mlgit/mlgit/repo/runindex"
)

func (r *Repo) indexPath() string { return filepath.Join(r.branchState(), "index", "runs.idx") }

// runRow is what a search sees: a lazily read indexed run, or a run with
// pending journal records applied.
type runRow interface {
	query.Row
	runID() string
	experimentID() string
	lifecycleStage() string
	decode() (*manifest.Run, error)
}

// decodedRow is a run with pending journal records applied.
type decodedRow struct{ RunRow }

func (r decodedRow) runID() string                  { return r.ID }
func (r decodedRow) experimentID() string           { return r.ExperimentID }
func (r decodedRow) lifecycleStage() string         { return r.LifecycleStage }
func (r decodedRow) decode() (*manifest.Run, error) { return r.Run, nil }

// indexedRow is a run read in place from the run index.
type indexedRow struct{ *runindex.Row }

func (r indexedRow) runID() string                  { return r.RunID() }
func (r indexedRow) experimentID() string           { return r.ExperimentID() }
func (r indexedRow) lifecycleStage() string         { return r.LifecycleStage() }
func (r indexedRow) decode() (*manifest.Run, error) { return r.Decode() }

// runRows returns every run as acknowledged: committed runs read in place
// from the index, and runs with pending journal records materialized with
// those records applied.
func (r *Repo) runRows() ([]runRow, error) {
	tip, ops, err := r.snapshot("")
	if err != nil {
		return nil, err
	}
	idx, err := r.index.At(tip)
	if err != nil {
		return nil, err
	}
	pending := map[string]*manifest.Run{}
	var pendingOrder []string
	for _, o := range ops {
		doc, ok := pending[o.Run]
		if !ok {
			if row := idx.Row(r.objects, o.Run); row != nil {
				if doc, err = row.Decode(); err != nil {
					return nil, err
				}
			}
			pendingOrder = append(pendingOrder, o.Run)
		}
		pending[o.Run] = journal.Overlay(doc, o)
	}
	rows, err := idx.Rows(r.objects, func(id string) bool { _, ok := pending[id]; return ok })
	if err != nil {
		return nil, err
	}
	out := make([]runRow, 0, len(rows)+len(pending))
	for _, row := range rows {
		out = append(out, indexedRow{row})
	}
	for _, id := range pendingOrder {
		if d := pending[id]; d != nil {
			out = append(out, decodedRow{RunRow{Run: d}})
		}
	}
	return out, nil
}

// AllRuns returns every run as acknowledged (committed plus pending
// journal records), in no particular order. It decodes every run; searches
// should use SearchRuns, which reads the index in place.
func (r *Repo) AllRuns() ([]*manifest.Run, error) {
	rows, err := r.runRows()
	if err != nil {
		return nil, err
	}
	out := make([]*manifest.Run, 0, len(rows))
	for _, row := range rows {
		d, err := row.decode()
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

package repo

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mlgit/mlgit/internal/pagetoken"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/query"
	"github.com/mlgit/mlgit/repo/runindex"
)

// RunRow adapts a run manifest to query.Row.
type RunRow = runindex.RunRow

// RunSearch is a search over runs (mlgit run list, MLflow's search-runs).
type RunSearch struct {
	ExperimentIDs []string // empty: all experiments
	Filter        string
	OrderBy       []string
	MaxResults    int // 0: 1000
	View          ViewType
	PageToken     string
}

// RunPage is one page of results.
type RunPage struct {
	Runs          []*manifest.Run
	NextPageToken string
	Total         int
}

// MaxSearchResults is MLflow's upper bound on max_results.
const MaxSearchResults = 50000

// SearchRuns filters and orders runs with MLflow's search grammar.
func (r *Repo) SearchRuns(s RunSearch) (RunPage, error) {
	var page RunPage
	f, err := query.ParseFilter(query.Runs, s.Filter)
	if err != nil {
		return page, fmt.Errorf("%w: filter: %v", ErrInvalid, err)
	}
	orders, err := query.ParseOrderByList(query.Runs, s.OrderBy)
	if err != nil {
		return page, fmt.Errorf("%w: order by: %v", ErrInvalid, err)
	}
	if len(orders) == 0 {
		orders = query.DefaultRunOrder()
	} else {
		orders = query.WithTieBreak(query.Runs, orders)
	}
	max := s.MaxResults
	if max <= 0 {
		max = 1000
	}
	if max > MaxSearchResults {
		return page, fmt.Errorf("%w: max_results %d is over the limit of %d", ErrInvalid, max, MaxSearchResults)
	}
	offset, err := decodePageToken(s.PageToken)
	if err != nil {
		return page, err
	}
	if mi := r.liveIndex; mi != nil {
		return mi.search(s, f, orders, offset, max)
	}
	all, err := r.runRows()
	if err != nil {
		return page, err
	}
	exps := map[string]bool{}
	for _, id := range s.ExperimentIDs {
		exps[id] = true
	}
	var rows []runRow
	for _, row := range all {
		if len(exps) > 0 && !exps[row.experimentID()] {
			continue
		}
		if !s.View.match(row.lifecycleStage()) {
			continue
		}
		if f.Match(row) {
			rows = append(rows, row)
		}
	}
	// Only the first offset+max rows are needed in order.
	cmp := func(i, j int) bool { return query.Compare(rows[i], rows[j], orders) < 0 }
	sort.Slice(rows, cmp)
	page.Total = len(rows)
	if offset > len(rows) {
		offset = len(rows)
	}
	end := offset + max
	if end > len(rows) {
		end = len(rows)
	}
	for _, row := range rows[offset:end] {
		d, err := row.decode()
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

func encodePageToken(offset int) string { return pagetoken.Encode(offset) }

func decodePageToken(tok string) (int, error) {
	n, err := pagetoken.Decode(tok)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return n, nil
}

// ResolveRunID returns the full id of the run whose id is runID or starts
// with it (at least 4 characters, unique).
func (r *Repo) ResolveRunID(runID string) (string, error) {
	if manifest.ValidRunID(runID) {
		return runID, nil
	}
	if len(runID) < 4 || len(runID) > 32 {
		return "", fmt.Errorf("%w: run id %q: give the 32-character id or a unique prefix of at least 4", ErrInvalid, runID)
	}
	rows, err := r.runRows()
	if err != nil {
		return "", err
	}
	var found []string
	for _, row := range rows {
		id := row.runID()
		if len(id) >= len(runID) && id[:len(runID)] == runID {
			found = append(found, strings.Clone(id))
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%w: no run id starts with %q", ErrNotFound, runID)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("%w: run id prefix %q is ambiguous (%d runs)", ErrInvalid, runID, len(found))
}

// PageToken returns the page token of SearchRuns that starts at offset
// (0: the first page), for callers that page by position (the web UI).
func PageToken(offset int) string {
	if offset <= 0 {
		return ""
	}
	return encodePageToken(offset)
}

package diff

import (
	"sort"
	"strings"

	"github.com/mlgit/mlgit/manifest"
)

// RunTable compares any number of runs side by side: one row per field,
// param, metric (its latest value) and tag, one column per run. Rows whose
// values are the same in every run are left out unless Options.All.
type RunTable struct {
	Runs []RunRef   `json:"runs"`
	Rows []TableRow `json:"rows"`
	// Same counts the rows left out because every run has the same value.
	Same int `json:"same"`
}

// TableRow is one compared value; Values[i] is the value in Runs[i] ("" when
// the run has none, Missing[i] true).
type TableRow struct {
	Section string   `json:"section"` // run, params, metrics or tags
	Key     string   `json:"key"`
	Values  []string `json:"values"`
	Missing []bool   `json:"missing,omitempty"`
	Differs bool     `json:"differs"`
}

// Empty reports whether no row differs.
func (t *RunTable) Empty() bool {
	for _, r := range t.Rows {
		if r.Differs {
			return false
		}
	}
	return true
}

// RunsTable compares runs (labels[i], when given, names run i).
func RunsTable(runs []*manifest.Run, labels []string, opt Options) *RunTable {
	t := &RunTable{}
	for i, r := range runs {
		label := ""
		if i < len(labels) {
			label = labels[i]
		}
		t.Runs = append(t.Runs, runRef(r, label))
	}
	add := func(section, key string, value func(*manifest.Run) (string, bool)) {
		row := TableRow{Section: section, Key: key, Values: make([]string, len(runs)), Missing: make([]bool, len(runs))}
		anyMissing := false
		for i, r := range runs {
			v, ok := value(r)
			row.Values[i], row.Missing[i] = v, !ok
			anyMissing = anyMissing || !ok
			if i > 0 && (v != row.Values[0] || row.Missing[i] != row.Missing[0]) {
				row.Differs = true
			}
		}
		if !anyMissing {
			row.Missing = nil
		}
		if row.Differs || opt.All {
			t.Rows = append(t.Rows, row)
		} else {
			t.Same++
		}
	}
	add("run", "status", func(r *manifest.Run) (string, bool) { return r.Status, true })
	add("run", "experiment", func(r *manifest.Run) (string, bool) { return r.ExperimentID, true })
	add("run", "commit", func(r *manifest.Run) (string, bool) { c := sourceCommit(r.Source); return c, c != "" })
	add("run", "datasets", func(r *manifest.Run) (string, bool) { d := datasets(r.Inputs); return d, d != "" })
	keys := func(get func(*manifest.Run) []string) []string {
		seen := map[string]bool{}
		var out []string
		for _, r := range runs {
			for _, k := range get(r) {
				if !seen[k] {
					seen[k] = true
					out = append(out, k)
				}
			}
		}
		sort.Strings(out)
		return out
	}
	for _, k := range keys(func(r *manifest.Run) []string { return mapKeys(r.Params) }) {
		add("params", k, func(r *manifest.Run) (string, bool) { v, ok := r.Params[k]; return v, ok })
	}
	for _, k := range keys(func(r *manifest.Run) []string { return mapKeys(r.Metrics) }) {
		add("metrics", k, func(r *manifest.Run) (string, bool) {
			m, ok := r.Metrics[k]
			if !ok {
				return "", false
			}
			return Num(m.Value), true
		})
	}
	for _, k := range keys(func(r *manifest.Run) []string { return mapKeys(r.Tags) }) {
		if strings.HasPrefix(k, "mlflow.") && !opt.All {
			continue // the client's bookkeeping (source name, user, log-model history)
		}
		add("tags", k, func(r *manifest.Run) (string, bool) { v, ok := r.Tags[k]; return v, ok })
	}
	return t
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func (t *RunTable) header() []string {
	h := []string{""}
	for _, r := range t.Runs {
		h = append(h, runTitle(r))
	}
	return h
}

func (t *RunTable) cells(row TableRow) []string {
	out := []string{row.Section + "." + row.Key}
	if row.Section == "run" {
		out[0] = row.Key
	}
	for i, v := range row.Values {
		if row.Missing != nil && row.Missing[i] {
			v = "-"
		}
		out = append(out, cell(v))
	}
	return out
}

func (t *RunTable) table(w *writer) {
	rows := [][]string{t.header()}
	for _, r := range t.Rows {
		rows = append(rows, t.cells(r))
	}
	if len(t.Rows) == 0 {
		w.printf("The %d runs have the same params, metrics and tags.\n", len(t.Runs))
		return
	}
	w.table(rows)
	if t.Same > 0 {
		w.printf("(%d equal %s not shown; --all shows them)\n", t.Same, plural(t.Same, "row", "rows"))
	}
}

func (t *RunTable) markdown(w *writer) {
	if len(t.Rows) == 0 {
		w.printf("The %d runs have the same params, metrics and tags.\n", len(t.Runs))
		return
	}
	var rows [][]string
	for _, r := range t.Rows {
		rows = append(rows, t.cells(r))
	}
	w.mdTable(t.header(), "l", rows)
	if t.Same > 0 {
		w.printf("\n%d equal %s not shown.\n", t.Same, plural(t.Same, "row", "rows"))
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

package ui

import (
	"net/http"
	"sort"
	"strings"

	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
)

type experimentRow struct {
	Exp          *manifest.Experiment
	Runs         int
	LastActivity int64 // ms: the experiment's last update or its newest run's start
	Tags         []kv
	Deleted      bool
}

type kv struct{ Key, Value string }

type experimentsData struct {
	Rows  []experimentRow
	Query string
	View  string
	Total int
}

// experimentsPage lists experiments: name, id, runs, last activity, tags;
// search by name (?q=), active/deleted/all (?view=); create, rename,
// delete and restore through the JSON API.
func (h *Handler) experimentsPage(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	view, vt := viewParam(r)
	exps, err := h.r.ListExperiments(vt)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := experimentsData{Query: q, View: view, Total: len(exps)}
	lq := strings.ToLower(q)
	for _, e := range exps {
		if lq != "" && !strings.Contains(strings.ToLower(e.Name), lq) && e.ID != q {
			continue
		}
		row := experimentRow{Exp: e, LastActivity: e.LastUpdateTime, Deleted: e.LifecycleStage == "deleted", Tags: sortedKV(e.Tags, true)}
		page, err := h.r.SearchRuns(repo.RunSearch{ExperimentIDs: []string{e.ID}, MaxResults: 1, View: repo.ViewAll, OrderBy: []string{"attributes.start_time DESC"}})
		if err != nil {
			h.fail(w, r, err)
			return
		}
		row.Runs = page.Total
		if len(page.Runs) > 0 {
			if t := max(page.Runs[0].StartTime, page.Runs[0].EndTime); t > row.LastActivity {
				row.LastActivity = t
			}
		}
		d.Rows = append(d.Rows, row)
	}
	sort.SliceStable(d.Rows, func(i, j int) bool { return d.Rows[i].LastActivity > d.Rows[j].LastActivity })
	h.render(w, r, "experiments", &Page{Title: "Experiments", Section: "experiments", Data: d})
}

// viewParam reads ?view=active|deleted|all.
func viewParam(r *http.Request) (string, repo.ViewType) {
	switch r.URL.Query().Get("view") {
	case "deleted":
		return "deleted", repo.ViewDeleted
	case "all":
		return "all", repo.ViewAll
	}
	return "active", repo.ViewActive
}

// sortedKV returns a map's entries sorted by key; hideSystem leaves out
// mlflow.* keys.
func sortedKV(m map[string]string, hideSystem bool) []kv {
	out := make([]kv, 0, len(m))
	for k, v := range m {
		if hideSystem && strings.HasPrefix(k, "mlflow.") {
			continue
		}
		out = append(out, kv{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

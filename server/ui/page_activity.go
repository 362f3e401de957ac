package ui

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/mlgit/mlgit/repo"
)

// activityPageSize is how many commits one activity page shows.
const activityPageSize = 100

// maxEntryLinks bounds the run links of one entry (a checkpoint may
// record hundreds of runs).
const maxEntryLinks = 12

// activityLink is one thing a commit changed.
type activityLink struct {
	Kind  string // run, experiment, model, version
	Label string
	Href  string
}

type activityEntry struct {
	repo.Event
	Links []activityLink
	More  int // links left out
}

type activityData struct {
	Entries []activityEntry
	Before  string
	Next    string // the before of the next (older) page
	Branch  string
}

// activityPage is the tracking branch's history as mlgit log prints it,
// newest first, activityPageSize per page (?before=<commit> reads the
// commits older than it), each entry linked to what it changed (from the
// commit's Mlgit-* trailers) and anchored as id="c-<commit>".
func (h *Handler) activityPage(w http.ResponseWriter, r *http.Request) {
	before := strings.TrimSpace(r.URL.Query().Get("before"))
	evs, more, err := h.r.HistoryPage(before, activityPageSize)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := activityData{Before: before, Branch: h.r.Branch()}
	for _, e := range evs {
		d.Entries = append(d.Entries, activityEntryOf(e))
	}
	if more && len(evs) > 0 {
		d.Next = evs[len(evs)-1].Commit
	}
	crumbs := []Crumb{{Label: "Activity", Href: "/activity"}}
	if before != "" {
		crumbs = append(crumbs, Crumb{Label: "before " + shortHash(before)})
	}
	h.render(w, r, "activity", &Page{Title: "Activity", Section: "activity", Crumbs: crumbs, Data: d})
}

// activityEntryOf links an event to what it changed, from its trailers:
// Mlgit-Run (runs), Mlgit-Experiment, Mlgit-Model with Mlgit-Version (a
// registered model or version; logged models are MLflow 3's and have no
// page here).
func activityEntryOf(e repo.Event) activityEntry {
	out := activityEntry{Event: e}
	add := func(l activityLink) {
		if len(out.Links) >= maxEntryLinks {
			out.More++
			return
		}
		out.Links = append(out.Links, l)
	}
	tr := e.Trailers
	for _, id := range tr["Mlgit-Experiment"] {
		add(activityLink{Kind: "experiment", Label: "experiment " + id, Href: "/experiments/" + pathEscape(id)})
	}
	if !strings.HasPrefix(e.Op, "logged-model") {
		for _, key := range tr["Mlgit-Model"] {
			name, err := repo.ModelName(key)
			if err != nil {
				continue
			}
			vs := tr["Mlgit-Version"]
			if len(vs) == 0 || e.Op == "version-delete" {
				add(activityLink{Kind: "model", Label: name, Href: modelHref(name)})
			}
			if e.Op == "version-delete" {
				continue
			}
			for _, v := range vs {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil || n < 1 {
					continue
				}
				add(activityLink{Kind: "version", Label: name + " v" + v, Href: versionHref(name, n)})
			}
		}
	}
	for _, id := range tr["Mlgit-Run"] {
		add(activityLink{Kind: "run", Label: "run " + shortHash(id), Href: "/runs/" + pathEscape(id)})
	}
	return out
}

package ui

import (
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strconv"

	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
)

// versionRow is one version on the model page.
type versionRow struct {
	V       *manifest.ModelVersion
	Aliases []string
	Run     *srcRun
	Digest  string
	// Prev is the version before it (0: none), for the diff link.
	Prev int64
}

// srcRun names a run and where its page is.
type srcRun struct {
	ID, Name, ExperimentID string
	Missing                bool // not on this branch
}

// Href is the run's page.
func (l *srcRun) Href() string {
	return "/experiments/" + pathEscape(l.ExperimentID) + "/runs/" + pathEscape(l.ID)
}

// Label is the run's name, else its short id.
func (l *srcRun) Label() string {
	if l.Name != "" {
		return l.Name
	}
	return shortHash(l.ID)
}

type modelData struct {
	Model    *manifest.RegisteredModel
	Versions []versionRow
	Aliases  []aliasRef
	Tags     []kv
	Latest   []*manifest.ModelVersion
	// History is the model's newest stage and alias events (from the
	// tags), newest first; Older counts those left out.
	History []repo.HistoryEntry
	Older   int
}

// modelHistoryMax bounds the events the model page lists.
const modelHistoryMax = 50

// modelPage shows a registered model: its versions with stage and alias
// badges, source run, creation time and digest; description and tags
// (edited through the JSON API).
func (h *Handler) modelPage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	m, err := h.r.GetModel(name)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	vs, err := h.r.ListVersions(name, "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	latest, err := h.r.LatestVersions(name)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].Version > vs[j].Version })
	byVersion := map[int64][]string{}
	for _, a := range aliasList(m.Aliases) {
		byVersion[a.Version] = append(byVersion[a.Version], a.Alias)
	}
	d := modelData{Model: m, Aliases: aliasList(m.Aliases), Tags: sortedKV(m.Tags, false), Latest: latest}
	runs := map[string]*srcRun{}
	for i, v := range vs {
		row := versionRow{V: v, Aliases: byVersion[v.Version], Digest: repo.VersionDigest(v.Artifacts), Run: h.lookupRun(v.RunID, runs)}
		if i+1 < len(vs) {
			row.Prev = vs[i+1].Version
		}
		d.Versions = append(d.Versions, row)
	}
	hist, _, err := h.r.ModelHistory(name)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for i := len(hist) - 1; i >= 0; i-- {
		if len(d.History) == modelHistoryMax {
			d.Older = i + 1
			break
		}
		d.History = append(d.History, hist[i])
	}
	h.render(w, r, "model", &Page{Title: m.Name + " · Models", Section: "models",
		Crumbs: []Crumb{{Label: "Models", Href: "/models"}, {Label: m.Name}}, Data: d})
}

// lookupRun looks a run up once per page (nil for no run; Missing when the
// run is not on this branch).
func (h *Handler) lookupRun(id string, cache map[string]*srcRun) *srcRun {
	if id == "" {
		return nil
	}
	if l, ok := cache[id]; ok {
		return l
	}
	l := &srcRun{ID: id}
	run, err := h.r.GetRun(id)
	switch {
	case err == nil:
		l.Name, l.ExperimentID = run.Name, run.ExperimentID
	case errors.Is(err, repo.ErrNotFound):
		l.Missing = true
	default:
		h.log.Warn("ui: read run", "run", id, "err", err)
		l.Missing = true
	}
	cache[id] = l
	return l
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func init() {
	funcs["dict"] = func(kvs ...any) (map[string]any, error) {
		m := make(map[string]any, len(kvs)/2)
		for i := 0; i+1 < len(kvs); i += 2 {
			k, ok := kvs[i].(string)
			if !ok {
				return nil, errors.New("dict: key is not a string")
			}
			m[k] = kvs[i+1]
		}
		return m, nil
	}
	// mergeBody adds key, value pairs to a data-body JSON object made by
	// body: {{mergeBody $body "key" .Key}}.
	funcs["mergeBody"] = func(base string, kvs ...any) (string, error) {
		m := map[string]any{}
		if err := json.Unmarshal([]byte(base), &m); err != nil {
			return "", err
		}
		for i := 0; i+1 < len(kvs); i += 2 {
			k, ok := kvs[i].(string)
			if !ok {
				return "", errors.New("mergeBody: key is not a string")
			}
			m[k] = kvs[i+1]
		}
		b, err := json.Marshal(m)
		return string(b), err
	}
}

package ui

import (
	"net/http"
	"sort"
	"strings"

	"github.com/mlgit/mlgit/manifest"
)

// modelRow is one registered model on the models page.
type modelRow struct {
	Model *manifest.RegisteredModel
	// Latest is the highest version per stage (MLflow's latest_versions).
	Latest  []*manifest.ModelVersion
	Aliases []aliasRef
	Tags    []kv
	// Newest is the highest live version (0: none).
	Newest int64
}

// aliasRef is an alias and the version it names.
type aliasRef struct {
	Alias   string
	Version int64
}

type modelsData struct {
	Rows  []modelRow
	Query string
	Total int
}

// modelsPage lists the registered models: the latest version per stage,
// aliases, description and tags; ?q= filters by name (substring, any
// case). Sorted by name, as MLflow's list.
func (h *Handler) modelsPage(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	models, err := h.r.ListModels()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := modelsData{Query: q, Total: len(models)}
	lq := strings.ToLower(q)
	for _, m := range models {
		if lq != "" && !strings.Contains(strings.ToLower(m.Name), lq) {
			continue
		}
		latest, err := h.r.LatestVersions(m.Name)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		row := modelRow{Model: m, Latest: latest, Aliases: aliasList(m.Aliases), Tags: sortedKV(m.Tags, false)}
		for _, v := range latest {
			row.Newest = max(row.Newest, v.Version)
		}
		d.Rows = append(d.Rows, row)
	}
	sort.SliceStable(d.Rows, func(i, j int) bool { return d.Rows[i].Model.Name < d.Rows[j].Model.Name })
	h.render(w, r, "models", &Page{Title: "Models", Section: "models", Crumbs: []Crumb{{Label: "Models"}}, Data: d})
}

// aliasList returns a model's aliases sorted by name.
func aliasList(m map[string]int64) []aliasRef {
	out := make([]aliasRef, 0, len(m))
	for a, v := range m {
		out = append(out, aliasRef{a, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Alias < out[j].Alias })
	return out
}

// stageClass is the CSS class of a stage badge: stage-production,
// stage-staging, stage-archived, stage-none, stage-<custom>.
func stageClass(stage string) string {
	var b strings.Builder
	b.WriteString("stage-")
	for _, c := range strings.ToLower(stage) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			b.WriteRune(c)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

func init() {
	funcs["stageClass"] = stageClass
	funcs["modelHref"] = modelHref
	funcs["versionHref"] = versionHref
}

// modelHref is the model page of a name.
func modelHref(name string) string { return "/models/" + pathEscape(name) }

// versionHref is the page of a model version.
func versionHref(name string, v int64) string {
	return "/models/" + pathEscape(name) + "/versions/" + itoa(v)
}

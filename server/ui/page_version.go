package ui

import (
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
)

// metricRow is one metric of the version's run.
type metricRow struct {
	Key   string
	S     manifest.MetricSummary
	Value string
}

// stageOption is one choice of the promote form.
type stageOption struct {
	Name    string
	Current bool
	// Review says the stage's policy requires review: the form proposes.
	Review bool
}

// proposalRow is a proposal branch of the version; Pending when the
// version is not in its stage yet.
type proposalRow struct {
	repo.ProposalInfo
	Pending     bool
	PushCommand string
}

type versionData struct {
	Model   *manifest.RegisteredModel
	V       *manifest.ModelVersion
	Ref     string // name@v<n>
	Aliases []string
	// ModelAliases are all the model's aliases (to move one here).
	ModelAliases []aliasRef
	Digest       string
	Tags         []kv
	Run          *srcRun
	Metrics      []metricRow
	Params       []kv
	Lineage      *repo.Lineage
	LineageError string
	Files        []manifest.Artifact
	FilesSize    int64
	History      []repo.HistoryEntry
	Warnings     []string
	Stages       []stageOption
	Proposals    []proposalRow
	Pending      []proposalRow
	Prev         int64
	Branch       string // the tracking branch
}

// versionPage shows a model version: lineage (version, run, code, datasets,
// parent model), files, the run's metrics and params, the stage and alias
// history from the tags, pending proposals, and the actions: promote (or
// propose, when the stage needs review), set and remove aliases, edit the
// description and tags, all through the JSON API.
func (h *Handler) versionPage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	n, err := strconv.ParseInt(strings.TrimPrefix(r.PathValue("version"), "v"), 10, 64)
	if err != nil || n < 1 {
		h.fail(w, r, invalid("version %q is not a version number (1, 2, …)", r.PathValue("version")))
		return
	}
	m, err := h.r.GetModel(name)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v, err := h.r.GetVersion(name, n)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ref := name + "@v" + itoa(n)
	d := versionData{Model: m, V: v, Ref: ref, ModelAliases: aliasList(m.Aliases), Digest: repo.VersionDigest(v.Artifacts),
		Tags: sortedKV(v.Tags, false), Files: v.Artifacts, Branch: h.r.Branch()}
	for _, a := range d.ModelAliases {
		if a.Version == n {
			d.Aliases = append(d.Aliases, a.Alias)
		}
	}
	for _, f := range v.Artifacts {
		d.FilesSize += f.Size
	}
	runs := map[string]*srcRun{}
	d.Run = h.lookupRun(v.RunID, runs)
	if d.Run != nil && !d.Run.Missing {
		if run, err := h.r.GetRun(v.RunID); err == nil {
			d.Params = sortedKV(run.Params, false)
			for k, s := range run.Metrics {
				d.Metrics = append(d.Metrics, metricRow{Key: k, S: s, Value: formatNum(s.Value)})
			}
			sort.Slice(d.Metrics, func(i, j int) bool { return d.Metrics[i].Key < d.Metrics[j].Key })
		}
	}
	if l, err := h.r.Lineage(ref); err != nil {
		d.LineageError = err.Error()
	} else {
		d.Lineage = l
	}
	hist, warns, err := h.r.ModelHistory(name)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for _, e := range hist {
		if e.Version == n {
			d.History = append(d.History, e)
		}
	}
	d.Warnings = warns
	cfg, err := h.r.Config()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	stages, err := h.r.Stages()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for _, s := range stages.Names() {
		d.Stages = append(d.Stages, stageOption{Name: s, Current: strings.EqualFold(s, v.Stage), Review: repo.ReviewRequired(cfg, s)})
	}
	props, err := h.r.Proposals(name, n)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for _, p := range props {
		row := proposalRow{ProposalInfo: p, Pending: !strings.EqualFold(p.Stage, v.Stage),
			PushCommand: "git push origin refs/heads/" + p.Branch + ":refs/heads/" + p.Branch}
		d.Proposals = append(d.Proposals, row)
		if row.Pending {
			d.Pending = append(d.Pending, row)
		}
	}
	if vs, err := h.r.ListVersions(name, ""); err == nil {
		for _, o := range vs {
			if o.Version < n && o.Version > d.Prev {
				d.Prev = o.Version
			}
		}
	}
	h.render(w, r, "version", &Page{Title: name + " v" + itoa(n) + " · Models", Section: "models",
		Crumbs:  []Crumb{{Label: "Models", Href: "/models"}, {Label: name, Href: modelHref(name)}, {Label: "Version " + itoa(n)}},
		Scripts: []string{"registry.js"}, Data: d})
}

// eventText says what a history entry did, in words.
func eventText(e repo.HistoryEntry) string {
	switch e.Kind {
	case repo.TagRegistration:
		return "registered"
	case repo.TagDeregistration:
		return "deleted"
	case repo.EventStage:
		return "stage " + orNone(e.From) + " → " + e.To
	case repo.EventAlias:
		if e.From != "" {
			return "alias " + e.Label + " moved here (was " + e.From + ")"
		}
		return "alias " + e.Label + " set"
	case repo.EventAliasRemoved:
		return "alias " + e.Label + " removed"
	}
	return e.Kind
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func init() {
	funcs["eventText"] = eventText
	funcs["shortDigest"] = func(d string) string {
		if len(d) > len("sha256:")+12 {
			return d[:len("sha256:")+12]
		}
		return d
	}
}

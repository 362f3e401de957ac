package ui

import (
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/mlgit/mlgit/diff"
	"github.com/mlgit/mlgit/diff/load"
	"github.com/mlgit/mlgit/manifest"
)

type diffData struct {
	A, B string
	// Changed shows only the differences (?changed=1); by default every
	// entry is listed and the changed rows are highlighted.
	Changed  bool
	Runs     *diff.RunDiff
	Versions *diff.VersionDiff
	Changes  *diff.ChangeSet
	Warnings []string
	Error    string
	// RunHrefs link the run ids of the comparison to their pages.
	RunHrefs map[string]string
}

// diffPage compares two runs, two model versions or two revisions of the
// tracking branch side by side (/diff?a=&b=, or a=A..B alone), with the
// same resolution and comparison as mlgit diff (package diff/load). The
// form picks a and b.
func (h *Handler) diffPage(w http.ResponseWriter, r *http.Request) {
	qv := r.URL.Query()
	d := diffData{A: strings.TrimSpace(qv.Get("a")), B: strings.TrimSpace(qv.Get("b")), Changed: qv.Get("changed") == "1", RunHrefs: map[string]string{}}
	page := &Page{Title: "Diff", Section: "activity", Crumbs: []Crumb{{Label: "Diff"}}, Data: &d}
	if d.A == "" && d.B == "" {
		h.render(w, r, "diff", page)
		return
	}
	args := []string{d.A, d.B}
	if d.B == "" {
		args = args[:1]
	}
	q, err := load.Parse(args)
	if err != nil {
		h.fail(w, r, invalid("%v", err))
		return
	}
	q.Options = diff.Options{All: !d.Changed}
	res, err := load.Diff(r.Context(), h.r, q, func(ws ...string) { d.Warnings = append(d.Warnings, ws...) })
	if err != nil {
		h.fail(w, r, err)
		return
	}
	switch x := res.(type) {
	case *diff.RunDiff:
		d.Runs = x
		page.Title = "Diff " + x.Old.Label + " → " + x.New.Label
		h.linkRuns(d.RunHrefs, x.Old.ID, x.New.ID)
	case *diff.VersionDiff:
		d.Versions = x
		page.Title = "Diff " + x.Old.Label + " → " + x.New.Label
		page.Section = "models"
		h.linkRuns(d.RunHrefs, x.Old.RunID, x.New.RunID)
	case *diff.ChangeSet:
		d.Changes = x
		page.Title = "Diff " + x.From + " → " + x.To
	}
	page.Crumbs = append(page.Crumbs, Crumb{Label: d.A + " → " + d.B})
	h.render(w, r, "diff", page)
}

func (h *Handler) linkRuns(m map[string]string, ids ...string) {
	cache := map[string]*srcRun{}
	for _, id := range ids {
		if l := h.lookupRun(id, cache); l != nil && !l.Missing {
			m[id] = l.Href()
		}
	}
}

// fptr formats a metric side ("—" when absent).
func fptr(p *manifest.JSONFloat) string {
	if p == nil {
		return "—"
	}
	return diff.Num(float64(*p))
}

// sptr formats a param, tag or alias side ("—" when absent).
func sptr(p *string) string {
	if p == nil {
		return "—"
	}
	if *p == "" {
		return `""`
	}
	return *p
}

// deltaText is "+0.02" or "-1".
func deltaText(p *manifest.JSONFloat) string {
	if p == nil {
		return ""
	}
	v := float64(*p)
	s := diff.Num(v)
	if v > 0 || (v == 0 && !math.Signbit(v)) {
		s = "+" + s
	}
	return s
}

// percentText is "+2.25%".
func percentText(p *manifest.JSONFloat) string {
	if p == nil {
		return ""
	}
	v := float64(*p)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return diff.Num(v)
	}
	s := strconv.FormatFloat(v, 'f', 2, 64) + "%"
	if v >= 0 {
		s = "+" + s
	}
	return s
}

// deltaClass is "up", "down" or "".
func deltaClass(p *manifest.JSONFloat) string {
	if p == nil {
		return ""
	}
	switch v := float64(*p); {
	case v > 0:
		return "up"
	case v < 0:
		return "down"
	}
	return ""
}

// artifactText is "sha256:0123456789ab (1.2 KiB)" or "—".
func artifactText(a *diff.ArtifactInfo) string {
	if a == nil {
		return "—"
	}
	d := a.Digest
	if len(d) > len("sha256:")+12 {
		d = d[:len("sha256:")+12]
	}
	return d + " (" + diff.Size(a.Size) + ")"
}

// anyChanged reports whether a list of changes has a difference.
func anyChanged(v any) bool {
	switch cs := v.(type) {
	case []diff.StringChange:
		for _, c := range cs {
			if c.Change != diff.Unchanged {
				return true
			}
		}
	case []diff.MetricChange:
		for _, c := range cs {
			if c.Change != diff.Unchanged {
				return true
			}
		}
	case []diff.ArtifactChange:
		for _, c := range cs {
			if c.Change != diff.Unchanged {
				return true
			}
		}
	}
	return false
}

// extraFields are the version fields the overview does not show.
func extraFields(fs []diff.FieldChange) []diff.FieldChange {
	out := make([]diff.FieldChange, 0, len(fs))
	for _, f := range fs {
		switch f.Field {
		case "name", "version", "stage", "run_id":
			continue
		}
		out = append(out, f)
	}
	return out
}

func init() {
	funcs["fptr"] = fptr
	funcs["sptr"] = sptr
	funcs["deltaText"] = deltaText
	funcs["percentText"] = percentText
	funcs["deltaClass"] = deltaClass
	funcs["artifactText"] = artifactText
	funcs["anyChanged"] = anyChanged
	funcs["extraFields"] = extraFields
	funcs["orDash"] = func(s string) string {
		if s == "" {
			return "—"
		}
		return s
	}
}

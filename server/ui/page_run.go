package ui

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
)

// The run page: /experiments/{eid}/runs/{rid}[/{tab...}] with MLflow's
// tabs (overview, model-metrics, system-metrics, artifacts/<path>). Every
// section is rendered once; run.js switches between them without a
// round trip and keeps the URL in step.

// runHistoryDepth bounds the tracking-branch commits searched for the
// ones that recorded a run.
const runHistoryDepth = 500

// overviewMetrics is how many metrics the overview lists (the Metrics tab
// has them all).
const overviewMetrics = 12

// maxChildRuns bounds the child runs listed.
const maxChildRuns = 200

type runData struct {
	Run        *manifest.Run
	Name       string
	Experiment *manifest.Experiment
	ExpName    string
	Base       string // /experiments/<eid>/runs/<rid>
	Tab        string // overview, metrics or artifacts
	ArtPath    string // the artifacts/<path> of the URL
	Duration   string
	Note       string
	Source     *manifest.Source
	SourceName string // mlflow.source.name when there is no Source
	Command    string

	Parent        *runPageLink
	Children      []runPageLink
	ChildrenTotal int

	Params   []runParam
	Tags     []runTagRow
	SysTags  int
	UserTags int
	Metrics  []runMetricRow
	// Long tables send their first rows as rows and the rest in a
	// <template> that run.js moves in: the browser lays the table out once
	// instead of at every pause of the parser.
	MetricsHead, MetricsRest []runMetricRow
	ParamsHead, ParamsRest   []runParam
	TopMetrics               []runMetricRow // the overview's first few
	Inputs                   []manifest.Dataset
	Versions                 []runVersion
	Models                   []runModelRow
	Commits                  []runCommit
	Truncated                bool // the commit search stopped at runHistoryDepth
	Depth                    int

	ArtifactCount int
	ArtifactSize  int64
	SetTagBody    string
}

// runCommit is a commit that recorded the run, with its place on the
// activity page.
type runCommit struct {
	repo.Event
	Href string
}

type runPageLink struct {
	ID, Name, Href string
}

type runParam struct{ Key, Value string }

type runTagRow struct {
	Key, Value string
	System     bool
	DeleteBody string
}

type runMetricRow struct {
	Key string
	manifest.MetricSummary
}

type runModelRow struct {
	ID, Name, Status, Type string
	Step                   int64
	HasStep                bool
}

// runArtifactEntry is one file in the page's artifact list (the browser
// builds folders from the paths).
type runArtifactEntry struct {
	Path   string `json:"p"`
	Size   int64  `json:"s"`
	Digest string `json:"d"`
}

func (h *Handler) runPage(w http.ResponseWriter, r *http.Request) {
	eid, rid, tab := r.PathValue("eid"), r.PathValue("rid"), r.PathValue("tab")
	run, err := h.r.GetRun(rid)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	base := "/experiments/" + url.PathEscape(run.ExperimentID) + "/runs/" + url.PathEscape(run.ID)
	if run.ExperimentID != eid {
		to := base
		if tab != "" {
			to += "/" + (&url.URL{Path: tab}).EscapedPath()
		}
		if r.URL.RawQuery != "" {
			to += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, to, http.StatusFound)
		return
	}
	d := &runData{Run: run, Base: base, Name: run.Name, Tab: "overview"}
	if d.Name == "" {
		d.Name = run.ID
	}
	switch {
	case tab == "model-metrics" || tab == "system-metrics" || tab == "metrics":
		d.Tab = "metrics"
	case tab == "artifacts" || strings.HasPrefix(tab, "artifacts/"):
		d.Tab = "artifacts"
		d.ArtPath = strings.Trim(strings.TrimPrefix(tab, "artifacts"), "/")
	}
	d.ExpName = run.ExperimentID
	if exp, err := h.r.GetExperiment(run.ExperimentID); err == nil {
		d.Experiment = exp
		d.ExpName = exp.Name
	}
	d.Duration = duration(run.StartTime, run.EndTime)
	d.Note = run.Tags["mlflow.note.content"]
	d.Source = run.Source
	if d.Source != nil && len(d.Source.Command) > 0 {
		d.Command = runShellJoin(d.Source.Command)
	}
	if d.Source == nil {
		if c := run.Tags["mlflow.source.git.commit"]; c != "" {
			d.Source = &manifest.Source{Commit: c, Branch: run.Tags["mlflow.source.git.branch"]}
		}
	}
	d.SourceName = run.Tags["mlflow.source.name"]

	if pid := run.Tags["mlflow.parentRunId"]; pid != "" {
		d.Parent = &runPageLink{ID: pid, Name: pid, Href: "/runs/" + url.PathEscape(pid)}
		if p, err := h.r.GetRun(pid); err == nil {
			d.Parent.Name = runDisplayName(p)
			d.Parent.Href = runPageHref(p)
		}
	}
	if page, err := h.r.SearchRuns(repo.RunSearch{
		ExperimentIDs: []string{run.ExperimentID},
		Filter:        "tags.mlflow.parentRunId = '" + run.ID + "'",
		MaxResults:    maxChildRuns,
		View:          repo.ViewAll,
	}); err == nil {
		d.ChildrenTotal = page.Total
		for _, c := range page.Runs {
			d.Children = append(d.Children, runPageLink{ID: c.ID, Name: runDisplayName(c), Href: runPageHref(c)})
		}
	} else {
		h.log.Warn("run page: child runs", "run", run.ID, "err", err)
	}

	for k, v := range run.Params {
		d.Params = append(d.Params, runParam{k, v})
	}
	sort.Slice(d.Params, func(i, j int) bool { return d.Params[i].Key < d.Params[j].Key })
	for k, v := range run.Tags {
		sys := strings.HasPrefix(k, "mlflow.")
		if sys {
			d.SysTags++
		} else {
			d.UserTags++
		}
		d.Tags = append(d.Tags, runTagRow{Key: k, Value: v, System: sys, DeleteBody: runJSON(map[string]string{"run_id": run.ID, "key": k})})
	}
	sort.Slice(d.Tags, func(i, j int) bool {
		if d.Tags[i].System != d.Tags[j].System {
			return !d.Tags[i].System
		}
		return d.Tags[i].Key < d.Tags[j].Key
	})
	d.SetTagBody = runJSON(map[string]string{"run_id": run.ID})
	for k, m := range run.Metrics {
		d.Metrics = append(d.Metrics, runMetricRow{k, m})
	}
	sort.Slice(d.Metrics, func(i, j int) bool { return d.Metrics[i].Key < d.Metrics[j].Key })
	d.MetricsHead, d.MetricsRest = runSplitRows(d.Metrics)
	d.ParamsHead, d.ParamsRest = runSplitRows(d.Params)
	d.TopMetrics = d.Metrics
	if len(d.TopMetrics) > overviewMetrics {
		d.TopMetrics = d.TopMetrics[:overviewMetrics]
	}
	d.Inputs = run.Inputs
	d.Models = h.runModels(run)
	d.Versions = h.versionsOfRun(run.ID)

	for _, a := range run.Artifacts {
		d.ArtifactSize += a.Size
	}
	d.ArtifactCount = len(run.Artifacts)

	d.Commits, d.Truncated = h.runCommits(run.ID)
	d.Depth = runHistoryDepth

	h.render(w, r, "run", &Page{
		Title:   d.Name,
		Section: "experiments",
		Crumbs: []Crumb{
			{Label: "Experiments", Href: "/experiments"},
			{Label: d.ExpName, Href: "/experiments/" + url.PathEscape(run.ExperimentID)},
			{Label: d.Name},
		},
		Charts:  true,
		Scripts: []string{"run.js"},
		Data:    d,
	})
}

// runModels lists the logged models the run produced: its outputs and the
// models whose source run it is.
func (h *Handler) runModels(run *manifest.Run) []runModelRow {
	var out []runModelRow
	seen := map[string]bool{}
	for _, o := range run.Outputs {
		if seen[o.ModelID] {
			continue
		}
		seen[o.ModelID] = true
		row := runModelRow{ID: o.ModelID, Name: o.ModelID, Step: o.Step, HasStep: true}
		if m, err := h.r.GetLoggedModel(o.ModelID); err == nil {
			row.Name, row.Status, row.Type = m.Name, m.Status, m.ModelType
		}
		out = append(out, row)
	}
	all, err := h.r.ListLoggedModels()
	if err != nil {
		h.log.Warn("run page: logged models", "run", run.ID, "err", err)
	}
	for _, m := range all {
		if m.SourceRunID != run.ID || seen[m.ID] {
			continue
		}
		seen[m.ID] = true
		out = append(out, runModelRow{ID: m.ID, Name: m.Name, Status: m.Status, Type: m.ModelType})
	}
	return out
}

// runVersion is a registered model version made from a run.
type runVersion struct {
	Name       string
	Version    int64
	Stage      string
	StageClass string // stage-<lower-case stage> (the registry pages' badges)
	Aliases    []string
	Href       string
}

// runVersionsCache maps run ids to the model versions made from them, per
// tip of the tracking branch (the registry is read once per change).
type runVersionsCache struct {
	sync.Mutex
	tip   string
	byRun map[string][]runVersion
}

// versionsOfRun returns the registered model versions whose source run is
// id.
func (h *Handler) versionsOfRun(id string) []runVersion {
	tip, err := h.r.Tip()
	if err != nil {
		return nil
	}
	c := &h.runVersions
	c.Lock()
	defer c.Unlock()
	if c.tip == tip && c.byRun != nil {
		return c.byRun[id]
	}
	models, err := h.r.ListModels()
	if err != nil {
		h.log.Warn("run page: registered models", "err", err)
		return nil
	}
	byRun := map[string][]runVersion{}
	for _, m := range models {
		vs, err := h.r.ListVersions(m.Name, "")
		if err != nil {
			h.log.Warn("run page: model versions", "model", m.Name, "err", err)
			continue
		}
		for _, v := range vs {
			if v.RunID == "" {
				continue
			}
			rv := runVersion{Name: v.Name, Version: v.Version, Stage: v.Stage, StageClass: "stage-" + strings.ToLower(v.Stage),
				Href: "/models/" + url.PathEscape(v.Name) + "/versions/" + strconv.FormatInt(v.Version, 10)}
			for a, n := range m.Aliases {
				if n == v.Version {
					rv.Aliases = append(rv.Aliases, a)
				}
			}
			sort.Strings(rv.Aliases)
			byRun[v.RunID] = append(byRun[v.RunID], rv)
		}
	}
	c.tip, c.byRun = tip, byRun
	return byRun[id]
}

// runHistoryCache caches the last runHistoryDepth commits of the tracking
// branch per tip, so that opening run pages does not walk them each time.
type runHistoryCache struct {
	sync.Mutex
	tip    string
	events []repo.Event
}

func (h *Handler) runRecentHistory() ([]repo.Event, error) {
	tip, err := h.r.Tip()
	if err != nil {
		return nil, err
	}
	c := &h.runHistory
	c.Lock()
	defer c.Unlock()
	if c.tip == tip && c.events != nil {
		return c.events, nil
	}
	if c.events != nil {
		// Usually a few commits were added on top: read those only.
		if recent, err := h.r.History(32); err == nil {
			for j, e := range recent {
				if e.Commit == c.tip {
					ev := append(append(make([]repo.Event, 0, runHistoryDepth), recent[:j]...), c.events...)
					if len(ev) > runHistoryDepth {
						ev = ev[:runHistoryDepth]
					}
					c.tip, c.events = ev[0].Commit, ev
					return ev, nil
				}
			}
		}
	}
	ev, err := h.r.History(runHistoryDepth)
	if err != nil {
		return nil, err
	}
	c.tip, c.events = tip, ev
	if len(ev) > 0 {
		c.tip = ev[0].Commit
	}
	return ev, nil
}

// runCommits returns the recent commits of the tracking branch that name
// the run in a Mlgit-Run trailer, and whether the search stopped before
// the branch's first commit.
func (h *Handler) runCommits(id string) ([]runCommit, bool) {
	ev, err := h.runRecentHistory()
	if err != nil {
		if !errors.Is(err, repo.ErrNotFound) {
			h.log.Warn("run page: history", "run", id, "err", err)
		}
		return nil, false
	}
	var out []runCommit
	for i, e := range ev {
		for _, v := range e.Trailers["Mlgit-Run"] {
			if strings.TrimSpace(v) == id {
				// The activity page lists commits older than ?before=:
				// its first row is then this commit.
				href := "/activity#c-" + e.Commit
				if i > 0 {
					href = "/activity?before=" + ev[i-1].Commit + "#c-" + e.Commit
				}
				out = append(out, runCommit{e, href})
				break
			}
		}
	}
	return out, len(ev) >= runHistoryDepth
}

func runDisplayName(r *manifest.Run) string {
	if r.Name != "" {
		return r.Name
	}
	return r.ID
}

func runPageHref(r *manifest.Run) string {
	return "/experiments/" + url.PathEscape(r.ExperimentID) + "/runs/" + url.PathEscape(r.ID)
}

func runJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// runShellJoin quotes a command's arguments as a POSIX shell would read them.
func runShellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
			out[i] = a
		} else {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}

// runTableHead is how many rows of a long table are sent as rows.
const runTableHead = 100

func runSplitRows[T any](rows []T) (head, rest []T) {
	if len(rows) <= runTableHead {
		return rows, nil
	}
	return rows[:runTableHead], rows[runTableHead:]
}

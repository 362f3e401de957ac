package mlflowimport

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/internal/par"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
)

// Difference is one way the repository differs from the source.
type Difference struct {
	Item string `json:"item"`
	What string `json:"what"`
}

func (d Difference) String() string { return d.Item + ": " + d.What }

// Verify compares the repository with src after an import: the experiments
// and runs selected by o.Experiments (ids, names, lifecycle, status, times,
// every param, tag and metric point) and every artifact file's digest,
// read again from the source; and the MLflow 3 logged models. An item the
// import skipped is a difference too. It returns the differences (none:
// the import is complete).
func Verify(ctx context.Context, r *repo.Repo, src *Store, o Options) ([]Difference, error) {
	exps, err := selectExperiments(src.Experiments, o.Experiments)
	if err != nil {
		return nil, err
	}
	var (
		diffs []Difference
		mu    sync.Mutex
	)
	add := func(item, format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		diffs = append(diffs, Difference{Item: item, What: fmt.Sprintf(format, args...)})
	}
	var runs []*Run
	for _, e := range exps {
		item := fmt.Sprintf("experiment %s (%s)", e.ID, e.Name)
		got, err := r.GetExperiment(e.ID)
		if errors.Is(err, repo.ErrNotFound) {
			add(item, "missing")
			continue
		} else if err != nil {
			return nil, err
		}
		want := experimentDoc(e)
		if got.Name != want.Name || got.LifecycleStage != want.LifecycleStage || got.CreationTime != want.CreationTime {
			add(item, "name, lifecycle or creation time differ: %q %s %d, source %q %s %d",
				got.Name, got.LifecycleStage, got.CreationTime, want.Name, want.LifecycleStage, want.CreationTime)
		}
		diffMaps(item, "tag", got.Tags, want.Tags, add)
		runs = append(runs, e.Runs...)
		for _, m := range e.LoggedModels {
			verifyLoggedModel(ctx, r, src, m, add)
		}
	}
	if len(o.Experiments) == 0 {
		for _, m := range src.Models {
			verifyModel(r, m, add)
		}
		// The tags must say what the manifests say (stages, aliases).
		rep, err := r.Fsck()
		if err != nil {
			return nil, err
		}
		for _, p := range rep.Problems {
			add("registered model "+p.Model, "%s", p.Message)
		}
	}
	errs := make([]error, len(runs))
	par.Each(len(runs), 4, func(i int) { errs[i] = verifyRun(ctx, r, src, runs[i], add) })
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.Slice(diffs, func(i, j int) bool {
		if diffs[i].Item != diffs[j].Item {
			return diffs[i].Item < diffs[j].Item
		}
		return diffs[i].What < diffs[j].What
	})
	return diffs, nil
}

type addFunc func(item, format string, args ...any)

func diffMaps(item, what string, got, want map[string]string, add addFunc) {
	for k, v := range want {
		g, ok := got[k]
		switch {
		case !ok:
			add(item, "%s %s missing", what, k)
		case g != v:
			add(item, "%s %s = %q, source %q", what, k, abbrev(g), abbrev(v))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			add(item, "%s %s is not in the source", what, k)
		}
	}
}

func abbrev(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

func verifyRun(ctx context.Context, r *repo.Repo, src *Store, sr *Run, add addFunc) error {
	item := fmt.Sprintf("run %s (%s)", sr.ID, sr.Name)
	got, err := r.GetRun(sr.ID)
	if errors.Is(err, repo.ErrNotFound) {
		add(item, "missing")
		return nil
	} else if err != nil {
		return err
	}
	want := runDoc(sr)
	if got.ExperimentID != want.ExperimentID || got.Name != want.Name || got.Status != want.Status ||
		got.LifecycleStage != want.LifecycleStage || got.User != want.User || got.StartTime != want.StartTime || got.EndTime != want.EndTime {
		add(item, "fields differ: experiment %s name %q status %s lifecycle %s user %q start %d end %d; source %s %q %s %s %q %d %d",
			got.ExperimentID, got.Name, got.Status, got.LifecycleStage, got.User, got.StartTime, got.EndTime,
			want.ExperimentID, want.Name, want.Status, want.LifecycleStage, want.User, want.StartTime, want.EndTime)
	}
	diffMaps(item, "param", got.Params, want.Params, add)
	diffMaps(item, "tag", got.Tags, want.Tags, add)
	if len(got.Inputs) != len(want.Inputs) {
		add(item, "%d datasets, source %d", len(got.Inputs), len(want.Inputs))
	}
	ms, err := src.RunMetrics(ctx, sr)
	if err != nil {
		add(item, "source metrics unreadable: %v", err)
		return nil
	}
	hist, err := r.AllMetricHistory(sr.ID)
	if err != nil {
		return err
	}
	for _, k := range sr.MetricKeys {
		g, w := hist[k], ms[k]
		if len(g) != len(w) {
			add(item, "metric %s: %d points, source %d", k, len(g), len(w))
			continue
		}
		for i := range w {
			same := g[i].Value == w[i].Value || math.IsNaN(g[i].Value) && math.IsNaN(w[i].Value)
			if !same || g[i].Step != w[i].Step || g[i].Timestamp != w[i].Timestamp {
				add(item, "metric %s point %d: step %d time %d value %v, source %d %d %v", k, i, g[i].Step, g[i].Timestamp, g[i].Value, w[i].Step, w[i].Timestamp, w[i].Value)
				break
			}
		}
	}
	if len(hist) > len(sr.MetricKeys) {
		add(item, "%d metric keys, source %d", len(hist), len(sr.MetricKeys))
	}
	files, err := src.RunFiles(ctx, sr)
	if err != nil {
		add(item, "source artifacts unreadable: %v", err)
		return nil
	}
	return verifyArtifacts(ctx, item, files, got.Artifacts, add)
}

// verifyArtifacts reads every source file again and compares its digest
// with the artifact index.
func verifyArtifacts(ctx context.Context, item string, files []File, got []manifest.Artifact, add addFunc) error {
	byPath := map[string]manifest.Artifact{}
	for _, a := range got {
		byPath[a.Path] = a
	}
	for _, f := range files {
		a, ok := byPath[f.Path]
		if !ok {
			add(item, "artifact %s missing", f.Path)
			continue
		}
		rc, err := f.Open(ctx)
		if err != nil {
			return err
		}
		dg, n, err := blob.DigestReader(rc)
		rc.Close()
		if err != nil {
			return err
		}
		if dg.String() != a.Digest || n != a.Size {
			add(item, "artifact %s: %s (%d bytes), source %s (%d bytes)", f.Path, a.Digest, a.Size, dg, n)
		}
	}
	if len(got) > len(files) {
		add(item, "%d artifacts, source %d", len(got), len(files))
	}
	return nil
}

func verifyLoggedModel(ctx context.Context, r *repo.Repo, src *Store, m *LoggedModel, add addFunc) {
	item := fmt.Sprintf("logged model %s (%s)", m.ID, m.Name)
	got, err := r.GetLoggedModel(m.ID)
	if err != nil {
		add(item, "missing (%v)", err)
		return
	}
	if got.Name != m.Name || got.SourceRunID != m.SourceRunID || got.ExperimentID != m.ExperimentID {
		add(item, "name %q run %s experiment %s; source %q %s %s", got.Name, got.SourceRunID, got.ExperimentID, m.Name, m.SourceRunID, m.ExperimentID)
	}
	diffMaps(item, "param", got.Params, m.Params, add)
	diffMaps(item, "tag", got.Tags, m.Tags, add)
	files, err := src.ModelFiles(ctx, m)
	if err == nil {
		err = verifyArtifacts(ctx, item, files, got.Artifacts, add)
	}
	if err != nil {
		add(item, "artifacts: %v", err)
	}
}

// verifyModel compares a registered model: description, tags, every
// version's stage, run and description, and the aliases as the tags
// resolve them (what a deployment reads).
func verifyModel(r *repo.Repo, sm *RegisteredModel, add addFunc) {
	item := "registered model " + sm.Name
	m, err := r.GetModel(sm.Name)
	if err != nil {
		add(item, "missing (%v)", err)
		return
	}
	if m.Description != sm.Description {
		add(item, "description %q, source %q", abbrev(m.Description), abbrev(sm.Description))
	}
	diffMaps(item, "tag", m.Tags, sm.Tags, add)
	for _, sv := range sm.Versions {
		if sv.Stage == deletedStage {
			continue
		}
		vi := fmt.Sprintf("%s v%d", sm.Name, sv.Version)
		v, err := r.GetVersion(sm.Name, sv.Version)
		if err != nil {
			add(vi, "missing (%v)", err)
			continue
		}
		if !strings.EqualFold(v.Stage, sv.Stage) || v.RunID != sv.RunID || v.Description != sv.Description {
			add(vi, "stage %s run %s description %q; source %s %s %q", v.Stage, v.RunID, abbrev(v.Description), sv.Stage, sv.RunID, abbrev(sv.Description))
		}
		diffMaps(vi, "tag", v.Tags, sv.Tags, add)
	}
	for a, n := range sm.Aliases {
		res, err := r.Resolve(sm.Name + "@" + a)
		switch {
		case err != nil:
			add(item, "alias %s does not resolve: %v", a, err)
		case res.Version != n:
			add(item, "alias %s resolves to v%d, source v%d", a, res.Version, n)
		}
	}
}

package diff

import (
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/mlgit/mlgit/manifest"
)

// Change says how an entry differs between the old and the new side.
type Change string

// Kinds of change.
const (
	Added     Change = "added"
	Removed   Change = "removed"
	Changed   Change = "changed"
	Unchanged Change = "unchanged"
)

// Options control what a comparison keeps.
type Options struct {
	// All keeps unchanged params, metrics, tags and artifacts too (as
	// `dvc metrics diff --all`); by default only differences are kept.
	All bool
}

// StringChange is a param or tag (or alias) on both sides. Old or New is
// nil when the key is missing on that side.
type StringChange struct {
	Key    string  `json:"key"`
	Old    *string `json:"old"`
	New    *string `json:"new"`
	Change Change  `json:"change"`
}

// MetricChange is the latest value of a metric on both sides. Delta is
// new − old when both sides have the metric (it may be NaN or ±Inf, which
// JSON writes as "NaN", "Infinity", "-Infinity"); Percent is the delta
// relative to |old|, absent when old is 0, NaN or infinite.
type MetricChange struct {
	Key     string              `json:"key"`
	Old     *manifest.JSONFloat `json:"old"`
	New     *manifest.JSONFloat `json:"new"`
	Delta   *manifest.JSONFloat `json:"delta"`
	Percent *manifest.JSONFloat `json:"percent"`
	Change  Change              `json:"change"`
}

// ArtifactInfo is one side of an artifact: its content digest and size.
type ArtifactInfo struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
	Mode   string `json:"mode,omitempty"`
}

// ArtifactChange is an artifact path on both sides; it changed when its
// digest, size or mode did.
type ArtifactChange struct {
	Path   string        `json:"path"`
	Old    *ArtifactInfo `json:"old"`
	New    *ArtifactInfo `json:"new"`
	Change Change        `json:"change"`
}

// FieldChange is a scalar field (status, stage, run, ...) that differs.
type FieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// RunRef names one side of a run comparison.
type RunRef struct {
	ID           string `json:"run_id"`
	Name         string `json:"run_name,omitempty"`
	ExperimentID string `json:"experiment_id"`
	Status       string `json:"status"`
	// Label is how the side is headed in tables (the argument as given).
	Label string `json:"label"`
}

// RunDiff is the comparison of two runs.
type RunDiff struct {
	Kind      string           `json:"kind"` // always "runs"
	Old       RunRef           `json:"old"`
	New       RunRef           `json:"new"`
	Fields    []FieldChange    `json:"fields"`
	Params    []StringChange   `json:"params"`
	Metrics   []MetricChange   `json:"metrics"`
	Tags      []StringChange   `json:"tags"`
	Artifacts []ArtifactChange `json:"artifacts"`
}

// Empty reports whether the two runs have no differences at all.
func (d *RunDiff) Empty() bool {
	return len(d.Fields) == 0 && !anyStringChange(d.Params) && !anyMetricChange(d.Metrics) &&
		!anyStringChange(d.Tags) && !anyArtifactChange(d.Artifacts)
}

// Runs compares run a (old) with run b (new). The labels head the two
// sides in tables; empty labels default to the short run ids.
func Runs(a, b *manifest.Run, oldLabel, newLabel string, opt Options) *RunDiff {
	d := &RunDiff{
		Kind: "runs",
		Old:  runRef(a, oldLabel),
		New:  runRef(b, newLabel),
	}
	d.Fields = runFields(a, b)
	d.Params = Strings(a.Params, b.Params, opt)
	d.Metrics = Metrics(a.Metrics, b.Metrics, opt)
	d.Tags = Strings(a.Tags, b.Tags, opt)
	d.Artifacts = Artifacts(a.Artifacts, b.Artifacts, opt)
	return d
}

func runRef(r *manifest.Run, label string) RunRef {
	if label == "" {
		label = short(r.ID)
	}
	return RunRef{ID: r.ID, Name: r.Name, ExperimentID: r.ExperimentID, Status: r.Status, Label: label}
}

func runFields(a, b *manifest.Run) []FieldChange {
	fs := []FieldChange{}
	add := func(name, o, n string) {
		if o != n {
			fs = append(fs, FieldChange{Field: name, Old: o, New: n})
		}
	}
	add("run_name", a.Name, b.Name)
	add("experiment_id", a.ExperimentID, b.ExperimentID)
	add("status", a.Status, b.Status)
	add("lifecycle_stage", a.LifecycleStage, b.LifecycleStage)
	add("source_commit", sourceCommit(a.Source), sourceCommit(b.Source))
	add("parent_model", a.ParentModel, b.ParentModel)
	add("inputs", datasets(a.Inputs), datasets(b.Inputs))
	return fs
}

func sourceCommit(s *manifest.Source) string {
	if s == nil {
		return ""
	}
	if s.Dirty && s.Commit != "" {
		return s.Commit + " (dirty)"
	}
	return s.Commit
}

func datasets(ds []manifest.Dataset) string {
	parts := make([]string, 0, len(ds))
	for _, d := range ds {
		parts = append(parts, d.Name+"@"+d.Digest)
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// Strings compares two string maps (params or tags), sorted by key.
func Strings(a, b map[string]string, opt Options) []StringChange {
	return compareMaps(a, b, opt, func(k string, ch Change, old, new *string) StringChange {
		return StringChange{Key: k, Change: ch, Old: old, New: new}
	})
}

// compareMaps lists the keys of a and b, sorted, with what became of each
// (the unchanged ones only with opt.All): mk makes a key's row, with
// the old and new values where they are present.
func compareMaps[V comparable, C any](a, b map[string]V, opt Options, mk func(k string, ch Change, old, new *V) C) []C {
	keys := unionKeys(a, b)
	out := make([]C, 0, len(keys))
	for _, k := range keys {
		o, inA := a[k]
		n, inB := b[k]
		var ch Change
		switch {
		case inA && inB && o == n:
			if !opt.All {
				continue
			}
			ch = Unchanged
		case inA && inB:
			ch = Changed
		case inA:
			ch = Removed
		default:
			ch = Added
		}
		var op, np *V
		if inA {
			op = &o
		}
		if inB {
			np = &n
		}
		out = append(out, mk(k, ch, op, np))
	}
	return out
}

func unionKeys[V any](a, b map[string]V) []string {
	keys := make([]string, 0, len(a)+len(b)/8)
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// Metrics compares the latest values of two runs' metrics, sorted by key.
// Two NaNs are equal (unchanged); so are two infinities of one sign.
func Metrics(a, b map[string]manifest.MetricSummary, opt Options) []MetricChange {
	keys := unionKeys(a, b)
	out := make([]MetricChange, 0, len(keys))
	for _, k := range keys {
		o, inA := a[k]
		n, inB := b[k]
		c := MetricChange{Key: k}
		switch {
		case inA && inB && sameFloat(o.Value, n.Value):
			if !opt.All {
				continue
			}
			c.Change = Unchanged
		case inA && inB:
			c.Change = Changed
		case inA:
			c.Change = Removed
		default:
			c.Change = Added
		}
		if inA {
			c.Old = jf(o.Value)
		}
		if inB {
			c.New = jf(n.Value)
		}
		if inA && inB {
			delta, pct, hasPct := Delta(o.Value, n.Value)
			c.Delta = jf(delta)
			if hasPct {
				c.Percent = jf(pct)
			}
		}
		out = append(out, c)
	}
	return out
}

// Delta returns new − old and, when old is finite and not zero, the change
// as a percentage of |old|. Equal values (two NaNs, two equal infinities)
// have a delta of 0 rather than NaN.
func Delta(old, new float64) (delta, percent float64, hasPercent bool) {
	if sameFloat(old, new) {
		delta = 0
	} else {
		delta = new - old
	}
	if old == 0 || math.IsNaN(old) || math.IsInf(old, 0) {
		return delta, 0, false
	}
	return delta, delta / math.Abs(old) * 100, true
}

func sameFloat(a, b float64) bool {
	return a == b || (math.IsNaN(a) && math.IsNaN(b))
}

func jf(v float64) *manifest.JSONFloat {
	f := manifest.JSONFloat(v)
	return &f
}

// Artifacts compares two artifact indexes by path, sorted by path.
func Artifacts(a, b []manifest.Artifact, opt Options) []ArtifactChange {
	am := make(map[string]ArtifactInfo, len(a))
	for _, x := range a {
		am[x.Path] = ArtifactInfo{Digest: x.Digest, Size: x.Size, Mode: x.Mode}
	}
	bm := make(map[string]ArtifactInfo, len(b))
	for _, x := range b {
		bm[x.Path] = ArtifactInfo{Digest: x.Digest, Size: x.Size, Mode: x.Mode}
	}
	return compareMaps(am, bm, opt, func(k string, ch Change, old, new *ArtifactInfo) ArtifactChange {
		return ArtifactChange{Path: k, Change: ch, Old: old, New: new}
	})
}

func anyStringChange(cs []StringChange) bool {
	for _, c := range cs {
		if c.Change != Unchanged {
			return true
		}
	}
	return false
}

func anyMetricChange(cs []MetricChange) bool {
	for _, c := range cs {
		if c.Change != Unchanged {
			return true
		}
	}
	return false
}

func anyArtifactChange(cs []ArtifactChange) bool {
	for _, c := range cs {
		if c.Change != Unchanged {
			return true
		}
	}
	return false
}

// VersionInput is one side of a model-version comparison: the version,
// the aliases that point at it (nil when unknown) and, when the caller has
// it, the run it was registered from (for params and metrics).
type VersionInput struct {
	Version *manifest.ModelVersion
	Aliases []string
	Run     *manifest.Run
	// Label heads the side in tables (the reference as given, e.g.
	// churn@production); empty means name@v<n>.
	Label string
}

// VersionRef names one side of a version comparison.
type VersionRef struct {
	Name    string   `json:"name"`
	Version int64    `json:"version"`
	Stage   string   `json:"stage"`
	Aliases []string `json:"aliases"`
	RunID   string   `json:"run_id,omitempty"`
	Label   string   `json:"label"`
}

// VersionDiff is the comparison of two model versions. Run is the
// comparison of their runs, when both runs were given.
type VersionDiff struct {
	Kind      string           `json:"kind"` // always "versions"
	Old       VersionRef       `json:"old"`
	New       VersionRef       `json:"new"`
	Fields    []FieldChange    `json:"fields"`
	Aliases   []StringChange   `json:"aliases"`
	Tags      []StringChange   `json:"tags"`
	Artifacts []ArtifactChange `json:"artifacts"`
	Run       *RunDiff         `json:"run,omitempty"`
}

// Versions compares model version a (old, e.g. the current production
// version) with b (new, e.g. the candidate).
func Versions(a, b VersionInput, opt Options) *VersionDiff {
	va, vb := a.Version, b.Version
	d := &VersionDiff{Kind: "versions", Old: versionRef(a), New: versionRef(b), Fields: []FieldChange{}}
	add := func(name, o, n string) {
		if o != n {
			d.Fields = append(d.Fields, FieldChange{Field: name, Old: o, New: n})
		}
	}
	add("name", va.Name, vb.Name)
	add("version", strconv.FormatInt(va.Version, 10), strconv.FormatInt(vb.Version, 10))
	add("stage", va.Stage, vb.Stage)
	add("status", va.Status, vb.Status)
	add("run_id", va.RunID, vb.RunID)
	add("source", va.Source, vb.Source)
	add("model_id", va.ModelID, vb.ModelID)
	add("description", va.Description, vb.Description)
	add("flavors", strings.Join(va.Flavors, ", "), strings.Join(vb.Flavors, ", "))
	add("signature", va.Signature, vb.Signature)
	add("model_size", sizeOrEmpty(va.ModelSize), sizeOrEmpty(vb.ModelSize))
	d.Aliases = []StringChange{}
	if a.Aliases != nil || b.Aliases != nil {
		d.Aliases = Strings(aliasSet(a.Aliases, va.Version), aliasSet(b.Aliases, vb.Version), opt)
	}
	d.Tags = Strings(va.Tags, vb.Tags, opt)
	d.Artifacts = Artifacts(va.Artifacts, vb.Artifacts, opt)
	if a.Run != nil && b.Run != nil {
		d.Run = Runs(a.Run, b.Run, d.Old.Label, d.New.Label, opt)
	}
	return d
}

func versionRef(in VersionInput) VersionRef {
	v := in.Version
	label := in.Label
	if label == "" {
		label = v.Name + "@v" + strconv.FormatInt(v.Version, 10)
	}
	aliases := append([]string{}, in.Aliases...)
	sort.Strings(aliases)
	return VersionRef{Name: v.Name, Version: v.Version, Stage: v.Stage, Aliases: aliases, RunID: v.RunID, Label: label}
}

// aliasSet turns the aliases of version n into a map alias → "v<n>": an
// alias on one side only shows as removed (old side) or added (new side),
// with the version it points at.
func aliasSet(as []string, n int64) map[string]string {
	m := make(map[string]string, len(as))
	v := "v" + strconv.FormatInt(n, 10)
	for _, a := range as {
		m[a] = v
	}
	return m
}

func sizeOrEmpty(n int64) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

// Empty reports whether the two versions have no differences at all.
func (d *VersionDiff) Empty() bool {
	return len(d.Fields) == 0 && !anyStringChange(d.Aliases) && !anyStringChange(d.Tags) &&
		!anyArtifactChange(d.Artifacts) && (d.Run == nil || d.Run.Empty())
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

package journal

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mlgit/mlgit/manifest"
)

// Overlay applies one pending record to a run as readers see it (doc nil:
// the run is not known yet) and returns the run. Readers and the run index
// share it, so they never disagree about pending data.
func Overlay(doc *manifest.Run, o Op) *manifest.Run {
	switch {
	case o.Op == OpCreate:
		if doc == nil && o.Doc != nil {
			d := *o.Doc
			doc = &d
		}
	case doc == nil:
	case o.Op == OpMetric:
		doc.Metrics = AddPoint(doc.Metrics, o.Point)
	default:
		Apply(doc, o)
	}
	return doc
}

func AddPoint(m map[string]manifest.MetricSummary, p manifest.MetricPoint) map[string]manifest.MetricSummary {
	if m == nil {
		m = map[string]manifest.MetricSummary{}
	}
	cur, ok := m[p.Key]
	if ok {
		m[p.Key] = cur.Add(p)
	} else {
		m[p.Key] = (*manifest.MetricSummary)(nil).Add(p)
	}
	return m
}

// Apply applies one non-metric record to a run. It returns a warning when
// the record cannot apply (a param logged twice with different values by
// racing writers: the first one wins, as MLflow's write-once rule).
func Apply(doc *manifest.Run, o Op) string {
	switch o.Op {
	case OpParam:
		if old, ok := doc.Params[o.Key]; ok && old != o.Value {
			return fmt.Sprintf("run %s: param %q already has value %q; the value %q was not applied", doc.ID, o.Key, old, o.Value)
		}
		if doc.Params == nil {
			doc.Params = map[string]string{}
		}
		doc.Params[o.Key] = o.Value
	case OpTag:
		if doc.Tags == nil {
			doc.Tags = map[string]string{}
		}
		doc.Tags[o.Key] = o.Value
		if o.Key == "mlflow.runName" {
			doc.Name = o.Value
		}
	case OpDelTag:
		delete(doc.Tags, o.Key)
	case OpUpdate:
		if o.Status != "" {
			doc.Status = o.Status
		}
		if o.EndTime != 0 {
			doc.EndTime = o.EndTime
		}
		if o.Exit != nil {
			if doc.Source == nil {
				doc.Source = &manifest.Source{}
			}
			doc.Source.Exit = o.Exit
		}
		if o.Name != nil {
			doc.Name = *o.Name
			if doc.Tags == nil {
				doc.Tags = map[string]string{}
			}
			doc.Tags["mlflow.runName"] = *o.Name
		}
	case OpDelete:
		doc.LifecycleStage = manifest.LifecycleDeleted
		doc.DeletedTime = o.Time
	case OpRestore:
		doc.LifecycleStage = manifest.LifecycleActive
		doc.DeletedTime = 0
	case OpInputs:
		for _, in := range o.Inputs {
			dup := false
			for _, have := range doc.Inputs {
				if have.Name == in.Name && have.Digest == in.Digest && have.Context == in.Context {
					dup = true
					break
				}
			}
			if !dup {
				doc.Inputs = append(doc.Inputs, in)
			}
		}
	case OpOutputs:
		for _, out := range o.Outputs {
			if !slices.Contains(doc.Outputs, out) {
				doc.Outputs = append(doc.Outputs, out)
			}
		}
	case OpArtifacts:
		doc.Artifacts = manifest.SortArtifacts(append(doc.Artifacts, o.Artifacts...))
	case OpDelArtifacts:
		doc.Artifacts, _ = RemoveArtifacts(doc.Artifacts, o.Key)
	}
	return ""
}

// RemoveArtifacts drops from arts the file p and every file below the
// folder p, and says how many it dropped. arts is not changed.
func RemoveArtifacts(arts []manifest.Artifact, p string) ([]manifest.Artifact, int) {
	var kept []manifest.Artifact
	removed := 0
	for _, a := range arts {
		if a.Path == p || strings.HasPrefix(a.Path, p+"/") {
			removed++
			continue
		}
		kept = append(kept, a)
	}
	return kept, removed
}

// AddPoints adds points to the metric summaries in m, in order, as
// AddPoint does one by one.
func AddPoints(m map[string]manifest.MetricSummary, points []manifest.MetricPoint) map[string]manifest.MetricSummary {
	if len(points) == 0 {
		return m
	}
	if m == nil {
		m = map[string]manifest.MetricSummary{}
	}
	// A batch repeats a few keys: summarize in a small slice first.
	type acc struct {
		key string
		sum manifest.MetricSummary
		ok  bool
	}
	var accs []acc
	for _, p := range points {
		i := 0
		for i < len(accs) && accs[i].key != p.Key {
			i++
		}
		if i == len(accs) {
			if len(accs) >= 32 {
				m = AddPoint(m, p)
				continue
			}
			cur, ok := m[p.Key]
			accs = append(accs, acc{key: p.Key, sum: cur, ok: ok})
		}
		a := &accs[i]
		if a.ok {
			a.sum = a.sum.Add(p)
		} else {
			a.sum = (*manifest.MetricSummary)(nil).Add(p)
			a.ok = true
		}
	}
	for _, a := range accs {
		m[a.key] = a.sum
	}
	return m
}

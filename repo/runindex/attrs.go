package runindex

import (
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/query"
)

// RunRow adapts a run manifest to query.Row.
type RunRow struct{ *manifest.Run }

// Metric returns the latest value of a metric.
func (r RunRow) Metric(key string) (float64, bool) {
	m, ok := r.Metrics[key]
	return m.Value, ok
}

// Param returns a param.
func (r RunRow) Param(key string) (string, bool) { v, ok := r.Params[key]; return v, ok }

// Tag returns a tag.
func (r RunRow) Tag(key string) (string, bool) { v, ok := r.Tags[key]; return v, ok }

// Attr returns a run attribute by its canonical name.
func (r RunRow) Attr(name string) (query.Value, bool) {
	a := Attrs{ID: r.ID, Experiment: r.ExperimentID, Name: r.Name, Status: r.Status, Lifecycle: r.LifecycleStage, User: r.User, URI: r.ArtifactURI, Start: r.StartTime, End: r.EndTime}
	return a.Attr(name)
}

// Datasets returns the run's dataset inputs.
func (r RunRow) Datasets() []query.DatasetInput {
	if len(r.Inputs) == 0 {
		return nil
	}
	out := make([]query.DatasetInput, len(r.Inputs))
	for i, d := range r.Inputs {
		out[i] = query.DatasetInput{Name: d.Name, Digest: d.Digest, Context: d.Context}
	}
	return out
}

// Attrs are a run's attributes as filters and orders name them; every
// row type (decoded run, index record, in-memory row) answers Attr with it.
type Attrs struct {
	ID, Experiment, Name, Status, Lifecycle, User, URI string
	Start, End                                         int64
}

// Attr returns the attribute called name as the search grammar sees it.
func (a *Attrs) Attr(name string) (query.Value, bool) {
	switch name {
	case "run_id":
		return query.StrValue(a.ID), true
	case "run_name":
		return query.StrValue(a.Name), true
	case "status":
		return query.StrValue(a.Status), true
	case "artifact_uri":
		return query.StrValue(a.URI), true
	case "user_id":
		return query.StrValue(a.User), true
	case "experiment_id":
		return query.StrValue(a.Experiment), true
	case "lifecycle_stage":
		return query.StrValue(a.Lifecycle), true
	case "start_time":
		return query.NumValue(float64(a.Start)), true
	case "end_time":
		if a.End == 0 {
			return query.Value{}, false
		}
		return query.NumValue(float64(a.End)), true
	}
	return query.Value{}, false
}

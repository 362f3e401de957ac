package runindex

import "github.com/mlgit/mlgit/query"

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

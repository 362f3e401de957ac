package query_test

import (
	"fmt"
	"slices"

	"github.com/mlgit/mlgit/query"
)

// run is a minimal query.Row.
type run struct {
	id      string
	start   int64
	metrics map[string]float64
	params  map[string]string
}

func (r run) Metric(k string) (float64, bool) { v, ok := r.metrics[k]; return v, ok }
func (r run) Param(k string) (string, bool)   { v, ok := r.params[k]; return v, ok }
func (r run) Tag(string) (string, bool)       { return "", false }
func (r run) Datasets() []query.DatasetInput  { return nil }
func (r run) Attr(name string) (query.Value, bool) {
	switch name {
	case "run_id":
		return query.StrValue(r.id), true
	case "start_time":
		return query.NumValue(float64(r.start)), true
	}
	return query.Value{}, false
}

func Example() {
	runs := []run{
		{id: "a1", start: 100, metrics: map[string]float64{"acc": 0.91}, params: map[string]string{"optimizer": "adam"}},
		{id: "b2", start: 200, metrics: map[string]float64{"acc": 0.95}, params: map[string]string{"optimizer": "adam"}},
		{id: "c3", start: 300, metrics: map[string]float64{"acc": 0.97}, params: map[string]string{"optimizer": "sgd"}},
		{id: "d4", start: 400, params: map[string]string{"optimizer": "adam"}},
	}
	f, err := query.ParseFilter(query.Runs, "metrics.acc > 0.9 and params.optimizer = 'adam'")
	if err != nil {
		panic(err)
	}
	orders, err := query.ParseOrderByList(query.Runs, []string{"metrics.acc DESC"})
	if err != nil {
		panic(err)
	}
	orders = query.WithTieBreak(query.Runs, orders)

	var hits []run
	for _, r := range runs {
		if f.Match(r) {
			hits = append(hits, r)
		}
	}
	slices.SortStableFunc(hits, func(a, b run) int { return query.Compare(a, b, orders) })
	for _, r := range hits {
		fmt.Println(r.id, r.metrics["acc"])
	}
	fmt.Println(f)
	fmt.Println(orders)
	// Output:
	// b2 0.95
	// a1 0.91
	// metrics.acc > 0.9 AND params.optimizer = 'adam'
	// [metrics.acc DESC attributes.start_time DESC attributes.run_id ASC]
}

func ExampleParseFilter_error() {
	_, err := query.ParseFilter(query.Runs, "params.optimizer > 'adam'")
	fmt.Println(err)
	_, err = query.ParseFilter(query.Runs, "foo = 'x'")
	fmt.Println(err)
	// Output:
	// Invalid comparator '>' for param 'optimizer': only =, !=, LIKE, ILIKE, IS NULL, IS NOT NULL are allowed (at position 17)
	// Invalid attribute key 'foo' specified. Valid keys are: run_id, run_name, status, artifact_uri, user_id, start_time, end_time (aliases: Created = start_time, Run Name = run_name, Run name = run_name, created = start_time, run name = run_name) (at position 0)
}

package query

import (
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func run(id string, start float64, metrics map[string]float64, params map[string]string) *testRow {
	r := &testRow{
		id:      id,
		metrics: metrics,
		params:  params,
		attrs:   map[string]Value{"run_id": StrValue(id), "start_time": NumValue(start)},
	}
	if start < 0 { // no start time
		delete(r.attrs, "start_time")
	}
	return r
}

func sortIDs(t *testing.T, rows []*testRow, orders ...string) string {
	t.Helper()
	os, err := ParseOrderByList(Runs, orders)
	if err != nil {
		t.Fatal(err)
	}
	os = WithTieBreak(Runs, os)
	rs := slices.Clone(rows)
	slices.SortStableFunc(rs, func(a, b *testRow) int { return Compare(a, b, os) })
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.id
	}
	return strings.Join(ids, " ")
}

func TestCompare(t *testing.T) {
	rows := []*testRow{
		run("a", 100, map[string]float64{"acc": 0.5, "loss": 1}, map[string]string{"opt": "sgd", "lr": "0.1"}),
		run("b", 300, map[string]float64{"acc": 0.9}, map[string]string{"opt": "adam"}),
		run("c", 200, map[string]float64{"acc": math.NaN(), "loss": 3}, map[string]string{"opt": "Adam", "lr": "0.01"}),
		run("d", 200, nil, map[string]string{"lr": "1"}),
		run("e", 50, map[string]float64{"acc": 0.9, "loss": -1}, nil),
		run("f", -1, map[string]float64{"acc": math.Inf(-1)}, map[string]string{"opt": "adam"}),
	}
	tests := []struct {
		orders []string
		want   string
	}{
		// Default: start_time DESC, run_id ASC; a missing start_time is last.
		{nil, "b c d a e f"},
		{[]string{"start_time"}, "e a c d b f"},
		{[]string{"created DESC"}, "b c d a e f"},
		// Numbers, then NaN, then missing, in both directions; ties broken
		// by start_time DESC then run_id.
		{[]string{"metrics.acc"}, "f a b e c d"},
		{[]string{"metrics.acc DESC"}, "b e a f c d"},
		{[]string{"metrics.loss"}, "e a c b d f"},
		{[]string{"metrics.loss DESC"}, "c a e b d f"},
		// Strings compare bytewise: "Adam" < "adam" < "sgd".
		{[]string{"params.opt"}, "c b f a d e"},
		{[]string{"params.opt DESC"}, "a b f c d e"},
		{[]string{"params.lr"}, "c a d b e f"}, // "0.01" < "0.1" < "1" (strings)
		// Multi-key: acc DESC, then opt ASC.
		{[]string{"metrics.acc DESC", "params.opt"}, "b e a f c d"},
		{[]string{"metrics.acc DESC", "params.opt DESC"}, "b e a f c d"},
		{[]string{"params.opt", "metrics.acc DESC"}, "c b f a e d"},
		// run_id named explicitly replaces the tie-breaker.
		{[]string{"run_id DESC"}, "f e d c b a"},
		// A missing tag for everyone: the tie-breakers decide.
		{[]string{"tags.none"}, "b c d a e f"},
	}
	for _, tt := range tests {
		if got := sortIDs(t, rows, tt.orders...); got != tt.want {
			t.Errorf("order by %q = %s, want %s", tt.orders, got, tt.want)
		}
	}
}

func TestCompareValues(t *testing.T) {
	a := &testRow{attrs: map[string]Value{"start_time": StrValue("20"), "status": NumValue(5)}}
	b := &testRow{attrs: map[string]Value{"start_time": NumValue(100), "status": StrValue("FINISHED")}}
	c := &testRow{attrs: map[string]Value{"start_time": StrValue("not a number")}}
	start := []Order{{Entity: Attribute, Key: "start_time"}}
	// Numeric attributes compare as numbers even when given as strings.
	if got := Compare(a, b, start); got != -1 {
		t.Errorf("20 vs 100 = %d", got)
	}
	// An unparseable numeric attribute counts as missing.
	if got := Compare(c, b, start); got != 1 {
		t.Errorf("unparseable vs 100 = %d", got)
	}
	if got := Compare(b, c, []Order{{Entity: Attribute, Key: "start_time", Desc: true}}); got != -1 {
		t.Errorf("100 vs unparseable DESC = %d", got)
	}
	// String attributes compare as strings: "5" < "FINISHED".
	if got := Compare(a, b, []Order{{Entity: Attribute, Key: "status"}}); got != -1 {
		t.Errorf("status = %d", got)
	}
	if got := Compare(a, a, start); got != 0 {
		t.Errorf("self = %d", got)
	}
	if got := Compare(a, b, nil); got != 0 {
		t.Errorf("no orders = %d", got)
	}
	nan1 := &testRow{metrics: map[string]float64{"m": math.NaN()}}
	nan2 := &testRow{metrics: map[string]float64{"m": math.NaN()}}
	if got := Compare(nan1, nan2, []Order{{Entity: Metric, Key: "m"}}); got != 0 {
		t.Errorf("NaN vs NaN = %d", got)
	}
	// Dataset orders are ignored.
	if got := Compare(a, b, []Order{{Entity: Dataset, Key: "name"}}); got != 0 {
		t.Errorf("dataset order = %d", got)
	}
	// Tags.
	ta := &testRow{tags: map[string]string{"k": "x"}}
	tb := &testRow{tags: map[string]string{"k": "y"}}
	if got := Compare(ta, tb, []Order{{Entity: Tag, Key: "k", Desc: true}}); got != 1 {
		t.Errorf("tag DESC = %d", got)
	}
}

func TestDefaultOrderAndTieBreak(t *testing.T) {
	o := func(s string) Order {
		desc := strings.HasSuffix(s, "-")
		return Order{Entity: Attribute, Key: strings.TrimSuffix(s, "-"), Desc: desc}
	}
	acc := Order{Entity: Metric, Key: "acc", Desc: true}
	tests := []struct {
		kind   Kind
		orders []Order
		want   []Order
	}{
		{Runs, nil, []Order{o("start_time-"), o("run_id")}},
		{Runs, []Order{acc}, []Order{acc, o("start_time-"), o("run_id")}},
		{Runs, []Order{o("start_time")}, []Order{o("start_time"), o("run_id")}},
		{Runs, []Order{o("run_id-")}, []Order{o("run_id-"), o("start_time-")}},
		{Experiments, nil, []Order{o("creation_time-"), o("experiment_id")}},
		{Experiments, []Order{o("name")}, []Order{o("name"), o("experiment_id")}},
		{RegisteredModels, nil, []Order{o("name")}},
		{RegisteredModels, []Order{o("last_updated_timestamp-")}, []Order{o("last_updated_timestamp-"), o("name")}},
		{ModelVersions, nil, []Order{o("last_updated_timestamp-"), o("name"), o("version_number-")}},
		{ModelVersions, []Order{o("version_number")}, []Order{o("version_number"), o("name")}},
		{LoggedModels, nil, []Order{o("creation_timestamp-"), o("model_id")}},
		{LoggedModels, []Order{acc}, []Order{acc, o("creation_timestamp-"), o("model_id")}},
		{Kind(9), nil, nil},
	}
	for _, tt := range tests {
		in := slices.Clone(tt.orders)
		got := WithTieBreak(tt.kind, tt.orders)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("WithTieBreak(%v, %v) = %v, want %v", tt.kind, tt.orders, got, tt.want)
		}
		if !reflect.DeepEqual(in, tt.orders) {
			t.Errorf("WithTieBreak modified its input")
		}
	}
	if got, want := DefaultRunOrder(), []Order{o("start_time-"), o("run_id")}; !reflect.DeepEqual(got, want) {
		t.Errorf("DefaultRunOrder() = %v", got)
	}
	// Callers may append to the result without aliasing.
	d := DefaultRunOrder()
	d[0].Key = "x"
	if DefaultRunOrder()[0].Key != "start_time" {
		t.Error("DefaultRunOrder shares its slice")
	}
	// Every default order parses back from its String form.
	for k := Runs; k <= LoggedModels; k++ {
		for _, ord := range DefaultOrder(k) {
			if got, err := ParseOrderBy(k, ord.String()); err != nil || got != ord {
				t.Errorf("%v: %q reparsed as %v, %v", k, ord, got, err)
			}
		}
	}
}

package query

import (
	"math"
	"testing"
)

var (
	runA = &testRow{
		id:      "A",
		metrics: map[string]float64{"acc": 0.95, "loss": 0.1, "nan": math.NaN(), "inf": math.Inf(1), "neg": -2},
		params:  map[string]string{"optimizer": "adam", "lr": "0.01", "model.lr": "1e-3", "empty": "", "path": `C:\data\x.csv`},
		tags:    map[string]string{"team-x": "ml-platform", "mlflow.runName": "brave-owl", "model class": "Forest (v2)"},
		attrs: map[string]Value{
			"run_id":       StrValue("a1"),
			"run_name":     StrValue("brave-owl"),
			"status":       StrValue("FINISHED"),
			"artifact_uri": StrValue("mlflow-artifacts:/0/a1/artifacts"),
			"user_id":      StrValue("alice"),
			"start_time":   NumValue(1000),
			"end_time":     NumValue(2000),
		},
		datasets: []DatasetInput{
			{Name: "iris", Digest: "d1", Context: "training"},
			{Name: "iris-eval", Digest: "d2", Context: "eval"},
			{Name: "raw", Digest: "d3"},
		},
	}
	runB = &testRow{
		id:      "B",
		metrics: map[string]float64{"acc": 0.8},
		params:  map[string]string{"optimizer": "SGD"},
		tags:    map[string]string{},
		attrs: map[string]Value{
			"run_id":     StrValue("b2"),
			"run_name":   StrValue("calm-fox"),
			"status":     StrValue("RUNNING"),
			"user_id":    StrValue("bob"),
			"start_time": StrValue("1500"), // numeric attribute given as a string
		},
	}
)

func TestMatch(t *testing.T) {
	tests := []struct {
		filter string
		a, b   bool // matches runA, runB
	}{
		{"", true, true},
		{"metrics.acc > 0.9", true, false},
		{"metrics.acc >= 0.8", true, true},
		{"metrics.acc = 0.8", false, true},
		{"metrics.acc != 0.8", true, false},
		{"metrics.acc < 0.8", false, false},
		{"metrics.acc <= 0.8", false, true},
		{"metrics.neg < -1", true, false},
		{"metrics.inf > 1e308", true, false},
		{"metrics.inf = 1e999", true, false},
		// Missing keys: every comparison is false, != included.
		{"metrics.loss != 5", true, false},
		{"metrics.loss < 5", true, false},
		{"params.lr != 'x'", true, false},
		{"tags.`team-x` != 'x'", true, false},
		// NaN: only != holds.
		{"metrics.nan = 0", false, false},
		{"metrics.nan != 0", true, false},
		{"metrics.nan > 0", false, false},
		{"metrics.nan < 0", false, false},
		{"metrics.nan >= 0", false, false},
		{"metrics.nan <= 0", false, false},
		// Strings are case-sensitive.
		{"params.optimizer = 'adam'", true, false},
		{"params.optimizer = 'ADAM'", false, false},
		{"params.optimizer != 'adam'", false, true},
		{"params.optimizer LIKE 'a%'", true, false},
		{"params.optimizer LIKE 'A%'", false, false},
		{"params.optimizer ILIKE 'A%'", true, false},
		{"params.optimizer ILIKE 's_d'", false, true},
		{"params.model.lr = '1e-3'", true, false},
		{"params.empty = ''", true, false},
		{"params.empty LIKE '%'", true, false},
		{`params.path = 'C:\data\x.csv'`, true, false},
		{`params.path LIKE 'C:\data\%'`, true, false},
		{"params.lr LIKE '0.0_'", true, false},
		{"params.lr LIKE '0.0'", false, false},
		{"tags.`model class` LIKE 'Forest (v_)'", true, false},
		{"tags.`model class` LIKE 'Forest .v2.'", false, false}, // '.' is not a wildcard
		{"tags.mlflow.runName = 'brave-owl'", true, false},
		// IS NULL / IS NOT NULL.
		{"metrics.loss IS NULL", false, true},
		{"metrics.loss IS NOT NULL", true, false},
		{"metrics.nan IS NOT NULL", true, false},
		{"params.lr IS NULL", false, true},
		{"tags.`team-x` IS NOT NULL", true, false},
		{"end_time IS NULL", false, true},
		{"end_time IS NOT NULL", true, false},
		{"artifact_uri IS NULL", false, true},
		// Attributes.
		{"status = 'FINISHED'", true, false},
		{"attributes.status != 'FINISHED'", false, true},
		{"run_id IN ('a1', 'zz')", true, false},
		{"run_id NOT IN ('a1')", false, true},
		{"`Run name` LIKE '%-owl'", true, false},
		{"run_name ILIKE 'CALM%'", false, true},
		{"user_id = 'bob'", false, true},
		{"start_time > 1200", false, true},
		{"created <= 1000", true, false},
		{"start_time = 1500", false, true},
		{"end_time > 0", true, false}, // runB has no end_time
		{"end_time != 0", true, false},
		{"artifact_uri LIKE 'mlflow-artifacts:/0/%'", true, false},
		// Datasets: any input may satisfy the clause.
		{"datasets.name = 'iris'", true, false},
		{"datasets.name != 'iris'", true, false}, // iris-eval and raw differ
		{"datasets.name IN ('raw', 'x')", true, false},
		{"datasets.name NOT IN ('iris', 'iris-eval', 'raw')", false, false},
		{"datasets.digest LIKE 'd%'", true, false},
		{"datasets.context = 'eval'", true, false},
		{"datasets.context ILIKE 'TRAIN%'", true, false},
		{"datasets.context = ''", false, false}, // inputs without context never match
		{"datasets.context NOT IN ('training', 'eval')", false, false},
		// Conjunctions.
		{"metrics.acc > 0.9 AND params.optimizer = 'adam' AND tags.`team-x` LIKE 'ml%' AND status = 'FINISHED'", true, false},
		{"metrics.acc > 0.5 AND params.optimizer = 'adam'", true, false},
		{"metrics.acc > 0.5 AND status = 'RUNNING'", false, true},
		{"metrics.acc > 0.5 AND status = 'NOPE'", false, false},
	}
	for _, tt := range tests {
		f := mustFilter(t, Runs, tt.filter)
		if got := f.Match(runA); got != tt.a {
			t.Errorf("%q on run A = %v, want %v", tt.filter, got, tt.a)
		}
		if got := f.Match(runB); got != tt.b {
			t.Errorf("%q on run B = %v, want %v", tt.filter, got, tt.b)
		}
	}
}

func TestMatchLoggedModels(t *testing.T) {
	m := &testRow{
		metrics: map[string]float64{"accuracy": 0.93},
		params:  map[string]string{"model_type": "xgb"},
		tags:    map[string]string{"stage": "candidate"},
		attrs: map[string]Value{
			"name":               StrValue("model"),
			"model_id":           StrValue("m-1"),
			"status":             StrValue("READY"),
			"creation_timestamp": NumValue(50),
		},
	}
	tests := []struct {
		filter string
		want   bool
	}{
		{"metrics.accuracy > 0.9 AND params.model_type IN ('xgb', 'lgbm')", true},
		{"params.model_type NOT IN ('xgb')", false},
		{"params.missing NOT IN ('xgb')", false},
		{"tags.stage NOT IN ('prod')", true},
		{"name = 'model' AND creation_time > 10", true},
		{"last_updated_timestamp > 0", false}, // missing attribute
		{"model_id IN ('m-1')", true},
		{"status NOT IN ('READY')", false},
	}
	for _, tt := range tests {
		if got := mustFilter(t, LoggedModels, tt.filter).Match(m); got != tt.want {
			t.Errorf("%q = %v, want %v", tt.filter, got, tt.want)
		}
	}
}

func TestMatchModelVersions(t *testing.T) {
	mv := &testRow{
		tags: map[string]string{"validated": "true"},
		attrs: map[string]Value{
			"name":           StrValue("churn"),
			"version_number": NumValue(3),
			"run_id":         StrValue("r3"),
			"source_path":    StrValue("models:/m-abc"),
		},
	}
	tests := []struct {
		filter string
		want   bool
	}{
		{"name = 'churn' AND version_number >= 2", true},
		{"version_number = 3", true},
		{"version_number > 3", false},
		{"run_id IN ('r1', 'r3')", true},
		{"source_path LIKE 'models:/%'", true},
		{"tags.validated = 'true'", true},
		{"name ILIKE 'CHURN'", true},
	}
	for _, tt := range tests {
		if got := mustFilter(t, ModelVersions, tt.filter).Match(mv); got != tt.want {
			t.Errorf("%q = %v, want %v", tt.filter, got, tt.want)
		}
	}
}

// A Filter built by hand, or edited after parsing, has no (or a stale)
// pattern cache; Match must still be right.
func TestMatchHandBuilt(t *testing.T) {
	f := &Filter{Clauses: []Clause{
		{Entity: Param, Key: "optimizer", Op: Like, Str: "ad%"},
		{Entity: Metric, Key: "acc", Op: Ge, Num: 0.9},
	}}
	if !f.Match(runA) || f.Match(runB) {
		t.Fatal("hand-built filter")
	}
	g := mustFilter(t, Runs, "params.optimizer LIKE 'ad%'")
	g.Clauses[0].Str = "S%"
	if g.Match(runA) || !g.Match(runB) {
		t.Fatal("stale pattern cache used after editing Str")
	}
	g.Clauses[0].Op = ILike
	g.Clauses[0].Str = "s%"
	if !g.Match(runB) {
		t.Fatal("stale pattern cache used after editing Op")
	}
	var nilFilter *Filter
	if !nilFilter.Match(runA) {
		t.Fatal("nil filter does not match")
	}
	// A policy built in code: metrics.accuracy >= 0.9.
	policy := &Filter{Clauses: []Clause{{Entity: Metric, Key: "acc", Op: Ge, Num: 0.9}}}
	if got := policy.String(); got != "metrics.acc >= 0.9" {
		t.Fatalf("String() = %q", got)
	}
	// Comparators the grammar does not allow for strings still evaluate.
	h := &Filter{Clauses: []Clause{{Entity: Param, Key: "optimizer", Op: Gt, Str: "a"}}}
	if !h.Match(runA) || h.Match(runB) { // "adam" > "a"; "SGD" < "a"
		t.Fatal("string > comparison")
	}
	// An unknown dataset key matches nothing.
	d := &Filter{Clauses: []Clause{{Entity: Dataset, Key: "source", Op: Eq, Str: "x"}}}
	if d.Match(runA) {
		t.Fatal("unknown dataset key matched")
	}
}

func TestValue(t *testing.T) {
	if n, ok := StrValue(" 12.5 ").num(); !ok || n != 12.5 {
		t.Errorf("num of string = %v %v", n, ok)
	}
	if _, ok := StrValue("x").num(); ok {
		t.Error("num of non-numeric string")
	}
	if s := NumValue(1700000000000).str(); s != "1700000000000" {
		t.Errorf("str of number = %q", s)
	}
}

// TestMatchConcurrent runs Match from several goroutines; with -race it
// checks that a parsed Filter is read-only during evaluation.
func TestMatchConcurrent(t *testing.T) {
	f := mustFilter(t, Runs, "params.optimizer ILIKE 'AD%' AND metrics.acc > 0.9")
	done := make(chan bool)
	for range 4 {
		go func() {
			ok := true
			for range 1000 {
				ok = ok && f.Match(runA) && !f.Match(runB)
			}
			done <- ok
		}()
	}
	for range 4 {
		if !<-done {
			t.Error("wrong result under concurrency")
		}
	}
}

// TestMatchPromptTag: MLflow 3 clients add tags.`mlflow.prompt.is_prompt`
// != 'true' to registry searches; a model without the tag is not a prompt
// and matches, a prompt does not, and = 'true' finds prompts. Runs keep the
// rule that a missing tag matches nothing.
func TestMatchPromptTag(t *testing.T) {
	model := &testRow{tags: map[string]string{"owner": "growth"}, attrs: map[string]Value{"name": StrValue("churn")}}
	prompt := &testRow{tags: map[string]string{PromptTag: "true"}, attrs: map[string]Value{"name": StrValue("summarize")}}
	notPrompt := "tags.`mlflow.prompt.is_prompt` != 'true'"
	for _, kind := range []Kind{RegisteredModels, ModelVersions} {
		for _, tc := range []struct {
			filter string
			row    *testRow
			want   bool
		}{
			{notPrompt, model, true},
			{notPrompt, prompt, false},
			{notPrompt + " AND name = 'churn'", model, true},
			{"name LIKE 'c%' AND " + notPrompt, model, true},
			{"tags.`mlflow.prompt.is_prompt` = 'true'", prompt, true},
			{"tags.`mlflow.prompt.is_prompt` = 'true'", model, false},
			{"tags.other != 'true'", model, false},
		} {
			if got := mustFilter(t, kind, tc.filter).Match(tc.row); got != tc.want {
				t.Errorf("%v: %q on %v = %v, want %v", kind, tc.filter, tc.row.tags, got, tc.want)
			}
		}
	}
	if mustFilter(t, Runs, notPrompt).Match(model) {
		t.Error("runs: a missing tag matched !=")
	}
}

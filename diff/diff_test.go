package diff

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/manifest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const (
	idA = "3f2a1b2c3d4e5f60718293a4b5c6d7e8"
	idB = "9b1c2d3e4f5061728394a5b6c7d8e9f0"
)

func digest(c byte) string { return "sha256:" + strings.Repeat(string(c), 64) }

func metric(v float64) manifest.MetricSummary {
	return manifest.MetricSummary{Value: v, Step: 10, Timestamp: 1700000000000, Min: v, Max: v, Count: 1}
}

func baseRun(id, name string) *manifest.Run {
	return &manifest.Run{
		Header: manifest.Header{APIVersion: manifest.APIVersion, Kind: manifest.KindRun},
		ID:     id, ExperimentID: "0", Name: name, Status: manifest.StatusFinished,
		LifecycleStage: manifest.LifecycleActive, StartTime: 1700000000000,
	}
}

// runPair is the fixture most tests share: every kind of change, with
// NaN, Inf and values missing on one side.
func runPair() (*manifest.Run, *manifest.Run) {
	a := baseRun(idA, "baseline")
	a.Status = manifest.StatusRunning
	a.Source = &manifest.Source{Commit: strings.Repeat("a", 40)}
	a.Params = map[string]string{"lr": "0.1", "epochs": "10", "optimizer": "sgd", "dropped": "x", "same": "1", "note": "two\nlines\tand | pipe"}
	a.Tags = map[string]string{"team": "growth", "mlflow.user": "ada"}
	a.Metrics = map[string]manifest.MetricSummary{
		"accuracy": metric(0.9), "loss": metric(0.35), "nan_then_num": metric(math.NaN()),
		"num_then_nan": metric(1.5), "both_nan": metric(math.NaN()), "inf": metric(math.Inf(1)),
		"zero": metric(0), "removed": metric(7), "same": metric(3),
	}
	a.Artifacts = []manifest.Artifact{
		{Path: "model/model.pkl", Digest: digest('a'), Size: 1 << 20, Mode: "0644"},
		{Path: "model/MLmodel", Digest: digest('b'), Size: 300, Mode: "0644"},
		{Path: "plots/old.png", Digest: digest('c'), Size: 2048, Mode: "0644"},
	}
	b := baseRun(idB, "candidate")
	b.Source = &manifest.Source{Commit: strings.Repeat("b", 40), Dirty: true}
	b.Params = map[string]string{"lr": "0.05", "epochs": "10", "optimizer": "adam", "added": "", "same": "1", "note": "one line"}
	b.Tags = map[string]string{"team": "growth", "mlflow.user": "grace"}
	b.Metrics = map[string]manifest.MetricSummary{
		"accuracy": metric(0.93), "loss": metric(0.3), "nan_then_num": metric(2),
		"num_then_nan": metric(math.NaN()), "both_nan": metric(math.NaN()), "inf": metric(math.Inf(-1)),
		"zero": metric(0.25), "added": metric(-1e-9), "same": metric(3),
	}
	b.Artifacts = []manifest.Artifact{
		{Path: "model/model.pkl", Digest: digest('d'), Size: 1<<20 + 512, Mode: "0644"},
		{Path: "model/MLmodel", Digest: digest('b'), Size: 300, Mode: "0644"},
		{Path: "plots/new.png", Digest: digest('e'), Size: 4096, Mode: "0644"},
	}
	return a, b
}

func versionPair() (VersionInput, VersionInput) {
	ra, rb := runPair()
	va := &manifest.ModelVersion{
		Header: manifest.Header{APIVersion: manifest.APIVersion, Kind: manifest.KindModelVersion},
		Name:   "churn", Version: 3, Stage: "Production", Status: "READY", RunID: idA,
		Source: "runs:/" + idA + "/model", Tags: map[string]string{"validated": "yes"},
		Artifacts: ra.Artifacts[:2], Flavors: []string{"python_function", "sklearn"},
	}
	vb := &manifest.ModelVersion{
		Header: manifest.Header{APIVersion: manifest.APIVersion, Kind: manifest.KindModelVersion},
		Name:   "churn", Version: 4, Stage: "Staging", Status: "READY", RunID: idB,
		Source: "runs:/" + idB + "/model", Tags: map[string]string{"validated": "pending"},
		Artifacts: rb.Artifacts[:2], Flavors: []string{"python_function", "sklearn"},
	}
	return VersionInput{Version: va, Aliases: []string{"champion"}, Run: ra, Label: "churn@production"},
		VersionInput{Version: vb, Aliases: []string{"challenger"}, Run: rb, Label: "churn@v4"}
}

// bigRuns returns two runs with n params and m metrics; every tenth param
// and every third metric differ.
func bigRuns(n, m int) (*manifest.Run, *manifest.Run) {
	a, b := baseRun(idA, "big-a"), baseRun(idB, "big-b")
	a.Params, b.Params = make(map[string]string, n), make(map[string]string, n)
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("layer%04d.units", i)
		a.Params[k] = fmt.Sprint(i)
		if i%10 == 0 {
			b.Params[k] = fmt.Sprint(i * 2)
		} else {
			b.Params[k] = fmt.Sprint(i)
		}
	}
	a.Metrics, b.Metrics = make(map[string]manifest.MetricSummary, m), make(map[string]manifest.MetricSummary, m)
	for i := 0; i < m; i++ {
		k := fmt.Sprintf("val/metric%03d", i)
		a.Metrics[k] = metric(float64(i) / 7)
		if i%3 == 0 {
			b.Metrics[k] = metric(float64(i)/7 + 0.125)
		} else {
			b.Metrics[k] = metric(float64(i) / 7)
		}
	}
	return a, b
}

func changeSetInput() ChangeSetInput {
	ra, rb := runPair()
	same := baseRun("00112233445566778899aabbccddeeff", "untouched")
	added := baseRun("ffeeddccbbaa99887766554433221100", "fresh")
	gone := baseRun("0123456789abcdef0123456789abcdef", "deleted")
	rbSameID := *rb
	rbSameID.ID = idA
	va, vb := versionPair()
	v3new := *va.Version
	v3new.Stage = "Archived"
	v4old := *vb.Version
	v4new := *vb.Version
	v4new.Stage = "Production"
	v5 := *vb.Version
	v5.Version = 5
	v5.Stage = "None"
	return ChangeSetInput{
		From: "origin/mlgit", To: "mlgit-propose/churn-v4-production",
		FromCommit: strings.Repeat("1", 40), ToCommit: strings.Repeat("2", 40), MergeBase: true,
		Runs: []RunPair{
			{Old: ra, New: &rbSameID}, {Old: same, New: same}, {New: added}, {Old: gone},
		},
		Versions: []VersionPair{
			{Old: va.Version, New: &v3new}, {Old: &v4old, New: &v4new}, {New: &v5},
		},
	}
}

type goldenCase struct {
	name string
	d    Diff
}

func goldenCases() []goldenCase {
	a, b := runPair()
	va, vb := versionPair()
	ba, bb := bigRuns(1000, 100)
	vaNoRun, vbNoRun := va, vb
	vaNoRun.Run, vbNoRun.Run = nil, nil
	vaNoRun.Aliases, vbNoRun.Aliases = nil, nil
	return []goldenCase{
		{"runs", Runs(a, b, "", "", Options{})},
		{"runs_all", Runs(a, b, "baseline", "candidate", Options{All: true})},
		{"runs_same", Runs(a, a, "", "", Options{})},
		{"runs_missing_side", Runs(baseRun(idA, ""), b, "", "", Options{})},
		{"runs_big", Runs(ba, bb, "", "", Options{})},
		{"versions", Versions(va, vb, Options{})},
		{"versions_norun", Versions(vaNoRun, vbNoRun, Options{})},
		{"changeset", Changes(changeSetInput())},
		{"changeset_empty", Changes(ChangeSetInput{From: "mlgit~1", To: "mlgit"})},
	}
}

// TestGolden renders every case in every format and compares with
// testdata/<case>.<ext>; -update rewrites them.
func TestGolden(t *testing.T) {
	exts := map[Format]string{FormatTable: "txt", FormatJSON: "json", FormatMarkdown: "md"}
	for _, tc := range goldenCases() {
		for _, f := range Formats {
			file := filepath.Join("testdata", tc.name+"."+exts[f])
			t.Run(tc.name+"/"+string(f), func(t *testing.T) {
				var buf bytes.Buffer
				if err := Write(&buf, tc.d, f); err != nil {
					t.Fatal(err)
				}
				if *update {
					if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(file)
				if err != nil {
					t.Fatalf("%v (run go test ./diff -update to create it)", err)
				}
				if !bytes.Equal(buf.Bytes(), want) {
					t.Errorf("output differs from %s (run go test ./diff -update if intended):\n%s", file, buf.String())
				}
				if f == FormatJSON && !json.Valid(buf.Bytes()) {
					t.Errorf("invalid JSON")
				}
			})
		}
	}
}

func find[T any](t *testing.T, list []T, key func(T) string, k string) T {
	t.Helper()
	for _, x := range list {
		if key(x) == k {
			return x
		}
	}
	t.Fatalf("%q not in the diff", k)
	var zero T
	return zero
}

func TestRunsValues(t *testing.T) {
	a, b := runPair()
	d := Runs(a, b, "", "", Options{})
	pk := func(c StringChange) string { return c.Key }
	if c := find(t, d.Params, pk, "lr"); c.Change != Changed || *c.Old != "0.1" || *c.New != "0.05" {
		t.Errorf("lr: %+v", c)
	}
	if c := find(t, d.Params, pk, "dropped"); c.Change != Removed || c.New != nil {
		t.Errorf("dropped: %+v", c)
	}
	if c := find(t, d.Params, pk, "added"); c.Change != Added || c.Old != nil || *c.New != "" {
		t.Errorf("added: %+v", c)
	}
	for _, c := range d.Params {
		if c.Key == "same" || c.Key == "epochs" {
			t.Errorf("unchanged param %q kept without All", c.Key)
		}
	}
	mk := func(c MetricChange) string { return c.Key }
	acc := find(t, d.Metrics, mk, "accuracy")
	if math.Abs(float64(*acc.Delta)-0.03) > 1e-12 || math.Abs(float64(*acc.Percent)-3.333333333) > 1e-6 {
		t.Errorf("accuracy: delta %v percent %v", *acc.Delta, *acc.Percent)
	}
	if z := find(t, d.Metrics, mk, "zero"); z.Percent != nil || float64(*z.Delta) != 0.25 {
		t.Errorf("zero: percent must be absent when old is 0: %+v", z)
	}
	if n := find(t, d.Metrics, mk, "nan_then_num"); n.Percent != nil || !math.IsNaN(float64(*n.Delta)) {
		t.Errorf("nan_then_num: %+v", n)
	}
	if inf := find(t, d.Metrics, mk, "inf"); inf.Change != Changed || !math.IsInf(float64(*inf.Delta), -1) || inf.Percent != nil {
		t.Errorf("inf: %+v", inf)
	}
	for _, c := range d.Metrics {
		if c.Key == "both_nan" || c.Key == "same" {
			t.Errorf("unchanged metric %q reported as %s", c.Key, c.Change)
		}
	}
	ak := func(c ArtifactChange) string { return c.Path }
	if c := find(t, d.Artifacts, ak, "model/model.pkl"); c.Change != Changed || c.New.Size != 1<<20+512 {
		t.Errorf("model.pkl: %+v", c)
	}
	if len(d.Artifacts) != 3 {
		t.Errorf("artifacts: got %d entries, want 3 (MLmodel unchanged)", len(d.Artifacts))
	}
	fk := func(c FieldChange) string { return c.Field }
	if s := find(t, d.Fields, fk, "status"); s.Old != "RUNNING" || s.New != "FINISHED" {
		t.Errorf("status: %+v", s)
	}
	if d.Empty() {
		t.Error("Empty() = true")
	}
	if !Runs(a, a, "", "", Options{}).Empty() {
		t.Error("a run compared with itself is not empty")
	}
	all := Runs(a, b, "", "", Options{All: true})
	if c := find(t, all.Metrics, mk, "both_nan"); c.Change != Unchanged || float64(*c.Delta) != 0 {
		t.Errorf("both_nan with All: %+v", c)
	}
}

func TestJSONNonFinite(t *testing.T) {
	a, b := runPair()
	var buf bytes.Buffer
	if err := Write(&buf, Runs(a, b, "", "", Options{}), FormatJSON); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Kind    string `json:"kind"`
		Metrics []struct {
			Key   string `json:"key"`
			Old   any    `json:"old"`
			New   any    `json:"new"`
			Delta any    `json:"delta"`
		} `json:"metrics"`
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Kind != "runs" {
		t.Errorf("kind %q", got.Kind)
	}
	for _, m := range got.Metrics {
		switch m.Key {
		case "inf":
			if m.Old != "Infinity" || m.New != "-Infinity" || m.Delta != "-Infinity" {
				t.Errorf("inf: %+v", m)
			}
		case "added":
			if m.Old != nil || m.Delta != nil {
				t.Errorf("added: old and delta must be null: %+v", m)
			}
		}
	}
}

func TestVersionsValues(t *testing.T) {
	va, vb := versionPair()
	d := Versions(va, vb, Options{})
	fk := func(c FieldChange) string { return c.Field }
	if s := find(t, d.Fields, fk, "stage"); s.Old != "Production" || s.New != "Staging" {
		t.Errorf("stage: %+v", s)
	}
	if len(d.Aliases) != 2 {
		t.Errorf("aliases: %+v", d.Aliases)
	}
	if d.Run == nil || len(d.Run.Metrics) == 0 {
		t.Fatal("run comparison missing")
	}
	va.Run = nil
	if Versions(va, vb, Options{}).Run != nil {
		t.Error("run comparison without both runs")
	}
}

func TestChanges(t *testing.T) {
	c := Changes(changeSetInput())
	if len(c.RunsAdded) != 1 || len(c.RunsRemoved) != 1 || len(c.RunsChanged) != 1 {
		t.Fatalf("runs: %+v %+v %+v", c.RunsAdded, c.RunsChanged, c.RunsRemoved)
	}
	if r := c.RunsChanged[0]; r.OldStatus != "RUNNING" || r.Params != 5 {
		t.Errorf("changed run: %+v", r)
	}
	if len(c.VersionsAdded) != 1 || c.VersionsAdded[0].Version != 5 {
		t.Errorf("versions added: %+v", c.VersionsAdded)
	}
	if len(c.StageChanges) != 2 || c.StageChanges[0].Version != 3 || c.StageChanges[1].New != "Production" {
		t.Errorf("stage changes: %+v", c.StageChanges)
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"table": FormatTable, "JSON": FormatJSON, "md": FormatMarkdown, "markdown": FormatMarkdown} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseFormat("html"); err == nil {
		t.Error("ParseFormat(html) succeeded")
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1<<20 + 1<<19: "1.5 MiB", 5 << 40: "5.0 TiB"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}

// BenchmarkDiffRuns1000Params is the pure part of `mlgit diff` for two
// runs with 1,000 params and 100 metrics: compare and render the table.
func BenchmarkDiffRuns1000Params(b *testing.B) {
	ra, rb := bigRuns(1000, 100)
	for _, f := range Formats {
		b.Run(string(f), func(b *testing.B) {
			b.ReportAllocs()
			var buf bytes.Buffer
			for i := 0; i < b.N; i++ {
				buf.Reset()
				if err := Write(&buf, Runs(ra, rb, "", "", Options{All: true}), f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRunsCompare is the comparison alone, without rendering.
func BenchmarkRunsCompare(b *testing.B) {
	ra, rb := bigRuns(1000, 100)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Runs(ra, rb, "", "", Options{All: true})
	}
}

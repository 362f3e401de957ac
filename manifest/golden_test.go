package manifest

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the Go values in the tests")

// encoder is what every manifest type has.
type encoder interface{ Encode() []byte }

// goldenCase is one golden file and the Go value it must encode.
type goldenCase struct {
	file   string
	value  func() encoder
	decode func([]byte) (encoder, error)
}

const (
	goldenRunID   = "3f2a9c1e5b7d4f60a1b2c3d4e5f60718"
	goldenRunID2  = "9b1d0c2e3f4a5b6c7d8e9f0a1b2c3d4e"
	goldenExpID   = "4821937465019283746"
	goldenModelID = "m-7c3e1a9b5d2f4e6081a2b3c4d5e6f708"
	goldenCommit  = "1f0e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6"
	digestA       = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
	digestB       = "sha256:486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7"
	digestC       = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

func intPtr(i int) *int { return &i }

func goldenConfig() *Config {
	c := NewConfig()
	c.Stages = []string{"Canary", "Shadow"}
	c.Blobs.Remote = "s3://ml-artifacts/churn"
	c.Promotion = map[string]PromotionPolicy{
		"production": {From: []string{"Staging", "Canary"}, Require: "metrics.auc >= 0.85 and tags.validated = 'true'", Review: true},
		"staging":    {Require: "status = 'FINISHED'"},
		"archived":   {},
	}
	return c
}

func goldenExperiment() *Experiment {
	return &Experiment{
		Header:           Header{APIVersion, KindExperiment},
		ID:               goldenExpID,
		Name:             "churn/xgboost",
		LifecycleStage:   LifecycleActive,
		ArtifactLocation: "mlgit-artifacts:/experiments/" + goldenExpID,
		CreationTime:     1718000000000,
		LastUpdateTime:   1718003600000,
		Tags: map[string]string{
			"mlflow.note.content": "Gradient-boosted trees on the Q2 churn snapshot.\nBaseline: logistic regression (run 9b1d0c2e).",
			"team":                "growth",
		},
	}
}

func goldenRun() *Run {
	return &Run{
		Header:         Header{APIVersion, KindRun},
		ID:             goldenRunID,
		ExperimentID:   goldenExpID,
		Name:           "xgb-lr0.1",
		Status:         StatusFinished,
		LifecycleStage: LifecycleActive,
		User:           "ada",
		StartTime:      1718000000000,
		EndTime:        1718000360000,
		ArtifactURI:    "mlgit-artifacts:/runs/" + goldenRunID,
		Source: &Source{
			Commit:  goldenCommit,
			Branch:  "feature/xgb",
			Dirty:   true,
			Command: []string{"python", "train.py", "--lr", "0.1", "--note", "two words", "--flag=yes"},
			Exit:    intPtr(0),
		},
		ParentModel: "churn@v3",
		Params: map[string]string{
			"lr":             "0.1",
			"max_depth":      "6",
			"data/path":      "s3://data/churn/2024-06.parquet",
			"optimizer:name": "adam",
			"epoch_10":       "on",
			"epoch_2":        "null",
			"Seed":           "0042",
			"prompt":         "Classify the customer.\nAnswer yes or no.\n",
			"empty":          "",
		},
		Tags: map[string]string{
			"mlflow.runName":           "xgb-lr0.1",
			"mlflow.source.git.commit": goldenCommit,
			"mlflow.user":              "ada",
			"größe":                    "groß",
			"note":                     "value: with a colon # and a hash",
		},
		Metrics: map[string]MetricSummary{
			"loss":      {Value: 0.30000000000000004, Step: 99, Timestamp: 1718000350000, Min: 0.30000000000000004, Max: 2.5, Count: 100},
			"val/auc":   {Value: 0.871, Step: 9, Timestamp: 1718000355000, Min: 0.5, Max: 0.871, Count: 10},
			"grad_norm": {Value: math.Inf(1), Step: 99, Timestamp: 1718000350000, Min: 1e-300, Max: math.Inf(1), Count: 100},
			"log_lik":   {Value: math.Inf(-1), Step: 0, Timestamp: 1718000001000, Min: math.Inf(-1), Max: math.Inf(-1), Count: 1},
			"kl":        {Value: math.NaN(), Step: 99, Timestamp: 1718000350000, Min: -0.5, Max: 1234567, Count: 100},
			"all_nan":   {Value: math.NaN(), Step: 1, Timestamp: 1718000002000, Min: math.NaN(), Max: math.NaN(), Count: 2},
			"bias":      {Value: math.Copysign(0, -1), Step: 1, Timestamp: 1718000002000, Min: math.Copysign(0, -1), Max: 0, Count: 2},
		},
		MetricSegments: 3,
		Inputs: []Dataset{{
			Name:       "churn-2024-06",
			Digest:     "a1b2c3d4",
			SourceType: "s3",
			Source:     `{"uri": "s3://data/churn/2024-06.parquet"}`,
			Schema:     `{"mlflow_colspec": [{"type": "double", "name": "tenure"}]}`,
			Profile:    `{"num_rows": 120000}`,
			Context:    "training",
		}, {
			Name:   "churn-holdout",
			Digest: "e5f6a7b8",
		}},
		Outputs: []ModelOutput{
			{ModelID: "m-0a1b2c3d4e5f60718293a4b5c6d7e8f9", Step: 0},
			{ModelID: "m-0a1b2c3d4e5f60718293a4b5c6d7e8f9", Step: 100},
		},
		Artifacts: []Artifact{
			{Path: "MLmodel", Digest: digestA, Size: 412, Mode: "0644"},
			{Path: "model/model.xgb", Digest: digestB, Size: 1048576, Mode: "0644"},
			{Path: "model/requirements.txt", Digest: digestC, Size: 0, Mode: "0644"},
			{Path: "scripts/serve.sh", Digest: digestA, Size: 87, Mode: "0755"},
		},
	}
}

func goldenRegisteredModel() *RegisteredModel {
	return &RegisteredModel{
		Header:               Header{APIVersion, KindRegisteredModel},
		Name:                 "churn",
		Description:          "Predicts 30-day churn.\n\nOwner: growth team.",
		CreationTimestamp:    1718000400000,
		LastUpdatedTimestamp: 1718090000000,
		Tags:                 map[string]string{"domain": "retention", "pii": "false"},
		Aliases:              map[string]int64{"champion": 4, "challenger": 5, "v": 1},
		LatestVersion:        5,
	}
}

func goldenModelVersion() *ModelVersion {
	return &ModelVersion{
		Header:               Header{APIVersion, KindModelVersion},
		Name:                 "churn",
		Version:              5,
		Description:          "Retrained with the June snapshot.",
		Stage:                "Staging",
		Status:               "READY",
		Source:               "runs:/" + goldenRunID + "/model",
		RunID:                goldenRunID,
		ModelID:              goldenModelID,
		UserID:               "ada",
		CreationTimestamp:    1718090000000,
		LastUpdatedTimestamp: 1718090000000,
		Tags:                 map[string]string{"validated": "true"},
		Flavors:              []string{"python_function", "xgboost"},
		Signature:            `{"inputs": "[{\"type\": \"double\", \"name\": \"tenure\"}]", "outputs": "[{\"type\": \"long\"}]"}`,
		ModelSize:            1048988,
		Artifacts: []Artifact{
			{Path: "MLmodel", Digest: digestA, Size: 412, Mode: "0644"},
			{Path: "model.xgb", Digest: digestB, Size: 1048576, Mode: "0644"},
		},
	}
}

func goldenLoggedModel() *LoggedModel {
	return &LoggedModel{
		Header:               Header{APIVersion, KindLoggedModel},
		ID:                   goldenModelID,
		ExperimentID:         goldenExpID,
		Name:                 "xgb-churn",
		SourceRunID:          goldenRunID,
		ModelType:            "classifier",
		Status:               "READY",
		LifecycleStage:       LifecycleActive,
		CreationTimestamp:    1718000360000,
		LastUpdatedTimestamp: 1718000361000,
		ArtifactLocation:     "mlgit-artifacts:/logged-models/" + goldenModelID,
		Params:               map[string]string{"max_depth": "6"},
		Tags:                 map[string]string{"mlflow.source.run_id": goldenRunID},
		Metrics: map[string]MetricSummary{
			"val/auc": {Value: 0.871, Step: 9, Timestamp: 1718000355000, Min: 0.5, Max: 0.871, Count: 10},
		},
		Artifacts: []Artifact{
			{Path: "MLmodel", Digest: digestA, Size: 412, Mode: "0644"},
			{Path: "model.xgb", Digest: digestB, Size: 1048576, Mode: "0644"},
		},
	}
}

func goldenCases() []goldenCase {
	dc := func(b []byte) (encoder, error) { return DecodeConfig(b) }
	de := func(b []byte) (encoder, error) { return DecodeExperiment(b) }
	dr := func(b []byte) (encoder, error) { return DecodeRun(b) }
	dm := func(b []byte) (encoder, error) { return DecodeRegisteredModel(b) }
	dv := func(b []byte) (encoder, error) { return DecodeModelVersion(b) }
	dl := func(b []byte) (encoder, error) { return DecodeLoggedModel(b) }
	db := func(b []byte) (encoder, error) { return DecodeMetricBlob(b) }
	return []goldenCase{
		{"config.yaml", func() encoder { return goldenConfig() }, dc},
		{"config-minimal.yaml", func() encoder { return NewConfig() }, dc},
		{"experiment.yaml", func() encoder { return goldenExperiment() }, de},
		{"experiment-minimal.yaml", func() encoder {
			return &Experiment{Header: Header{APIVersion, KindExperiment}, ID: DefaultExperimentID, Name: DefaultExperimentName, LifecycleStage: LifecycleActive}
		}, de},
		{"run.yaml", func() encoder { return goldenRun() }, dr},
		{"run-minimal.yaml", func() encoder {
			return &Run{Header: Header{APIVersion, KindRun}, ID: goldenRunID2, ExperimentID: DefaultExperimentID, Status: StatusRunning, LifecycleStage: LifecycleActive, StartTime: 1718000000000}
		}, dr},
		{"registeredmodel.yaml", func() encoder { return goldenRegisteredModel() }, dm},
		{"registeredmodel-minimal.yaml", func() encoder {
			return &RegisteredModel{Header: Header{APIVersion, KindRegisteredModel}, Name: "churn", CreationTimestamp: 1718000400000, LastUpdatedTimestamp: 1718000400000}
		}, dm},
		{"modelversion.yaml", func() encoder { return goldenModelVersion() }, dv},
		{"modelversion-minimal.yaml", func() encoder {
			return &ModelVersion{Header: Header{APIVersion, KindModelVersion}, Name: "churn", Version: 1, Stage: "None", Status: "READY", CreationTimestamp: 1718000400000, LastUpdatedTimestamp: 1718000400000}
		}, dv},
		{"loggedmodel.yaml", func() encoder { return goldenLoggedModel() }, dl},
		{"loggedmodel-minimal.yaml", func() encoder {
			return &LoggedModel{Header: Header{APIVersion, KindLoggedModel}, ID: goldenModelID, ExperimentID: DefaultExperimentID, Name: "model", Status: "PENDING", LifecycleStage: LifecycleActive, CreationTimestamp: 1718000360000, LastUpdatedTimestamp: 1718000360000}
		}, dl},
		{"metricblob.yaml", func() encoder {
			return NewMetricBlob(goldenRunID2, 4, "sha256:7d865e959b2466918c9863afca942d0fb89d7c9ac0c99bafc3749504ded97730", 1187522, map[string]MetricBlobKey{
				"loss":    {Points: 150000, MinStep: 150000, MaxStep: 299999, Min: 0.04123, Max: 0.3125, Last: 0.04187},
				"val/auc": {Points: 1500, MinStep: 150099, MaxStep: 299999, Min: 0.91, Max: 0.9375, Last: 0.9375},
			})
		}, db},
	}
}

func goldenPath(name string) string { return filepath.Join("testdata", "golden", name) }

func readGolden(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(goldenPath(name))
	if err != nil {
		t.Fatalf("%v (run go test ./manifest -update to create it)", err)
	}
	return b
}

// TestGolden checks, for every golden file, that the Go value encodes to
// it, that it decodes and re-encodes byte for byte, and that Canonical
// and Validate accept it. With -update the files are rewritten from the Go
// values; review the diff as a change to the on-branch format.
func TestGolden(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.file, func(t *testing.T) {
			want := tc.value().Encode()
			if *update {
				if err := os.WriteFile(goldenPath(tc.file), want, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			golden := readGolden(t, tc.file)
			if !bytes.Equal(want, golden) {
				t.Errorf("Encode() differs from %s (run with -update if the change is intended):\n%s", tc.file, lineDiff(golden, want))
			}
			v, err := tc.decode(golden)
			if err != nil {
				t.Fatalf("decode %s: %v", tc.file, err)
			}
			if got := v.Encode(); !bytes.Equal(got, golden) {
				t.Errorf("decode+encode of %s is not identical:\n%s", tc.file, lineDiff(golden, got))
			}
			if ok, err := Canonical(golden); err != nil || !ok {
				t.Errorf("Canonical(%s) = %v, %v; want true, nil", tc.file, ok, err)
			}
			if err := Validate(golden); err != nil {
				t.Errorf("Validate(%s) = %v", tc.file, err)
			}
		})
	}
}

// TestGoldenSegment checks the example segment in the spec.
func TestGoldenSegment(t *testing.T) {
	points := []MetricPoint{
		{Key: "loss", Step: 0, Timestamp: 1718000001000, Value: 2.5},
		{Key: "loss", Step: 1, Timestamp: 1718000004000, Value: 0.30000000000000004},
		{Key: "val/auc", Step: 0, Timestamp: 1718000005000, Value: 0.5},
		{Key: "grad_norm", Step: 1, Timestamp: 1718000004000, Value: math.Inf(1)},
		{Key: "log_lik", Step: 0, Timestamp: 1718000001000, Value: math.Inf(-1)},
		{Key: "kl", Step: 1, Timestamp: 1718000004000, Value: math.NaN()},
		{Key: "tiny", Step: -1, Timestamp: 0, Value: 1e-300},
		{Key: "lr", Step: 2, Timestamp: 1718000007000, Value: 1234567},
	}
	want := EncodeSegment(points)
	if *update {
		if err := os.WriteFile(goldenPath("segment.tsv"), want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden := readGolden(t, "segment.tsv")
	if !bytes.Equal(want, golden) {
		t.Errorf("EncodeSegment differs from segment.tsv:\n%s", lineDiff(golden, want))
	}
	got := collect(t, golden)
	if len(got) != len(points) {
		t.Fatalf("parsed %d points, want %d", len(got), len(points))
	}
	for i := range points {
		if !samePoint(got[i], points[i]) {
			t.Errorf("point %d = %+v, want %+v", i, got[i], points[i])
		}
	}
}

// TestGoldenNotCanonical checks that valid but differently written
// variants of the goldens decode to the same value but are not canonical.
func TestGoldenNotCanonical(t *testing.T) {
	run := string(readGolden(t, "run.yaml"))
	minimal := string(readGolden(t, "run-minimal.yaml"))
	cfg := string(readGolden(t, "config.yaml"))
	replace := func(s, old, new string) string {
		t.Helper()
		if !strings.Contains(s, old) {
			t.Fatalf("golden has no %q", old)
		}
		return strings.Replace(s, old, new, 1)
	}
	cases := []struct{ name, in string }{
		{"reordered top-level keys", replace(minimal, "id: "+goldenRunID2+"\nexperimentId: \"0\"\n", "experimentId: \"0\"\nid: "+goldenRunID2+"\n")},
		{"header after body", strings.TrimPrefix(minimal, "apiVersion: mlgit/v1\n") + "apiVersion: mlgit/v1\n"},
		{"extra quotes", replace(run, "status: FINISHED", `status: "FINISHED"`)},
		{"single quotes", replace(run, "status: FINISHED", `status: 'FINISHED'`)},
		{"unquoted decimal id", replace(minimal, `experimentId: "0"`, `experimentId: 0`)},
		{"four-space indentation", strings.ReplaceAll(run, "\n  ", "\n    ")},
		{"sequence not indented", strings.ReplaceAll(run, "\n    - ", "\n  - ")},
		{"flow sequence", replace(cfg, "stages:\n  - Canary\n  - Shadow\n", "stages: [Canary, Shadow]\n")},
		{"map keys unsorted", replace(run, "  lr: \"0.1\"\n  max_depth: \"6\"\n", "  max_depth: \"6\"\n  lr: \"0.1\"\n")},
		{"map keys in natural order", replace(run, "  epoch_10: \"on\"\n  epoch_2: \"null\"\n", "  epoch_2: \"null\"\n  epoch_10: \"on\"\n")},
		{"NaN spelled .NaN", replace(run, "value: .nan", "value: .NaN")},
		{"Inf spelled +.inf", replace(run, "max: .inf", "max: +.inf")},
		{"float with trailing zero", replace(run, "max: 2.5", "max: 2.50")},
		{"integer as float", replace(run, "count: 100", "count: 1e2")},
		{"explicit empty optional", replace(minimal, "startTime: 1718000000000\n", "startTime: 1718000000000\nendTime: 0\n")},
		{"explicit null", replace(minimal, "startTime: 1718000000000\n", "startTime: 1718000000000\nsource: null\n")},
		{"document start marker", "---\n" + minimal},
		{"document end marker", minimal + "...\n"},
		{"comment", "# run\n" + minimal},
		{"trailing comment", replace(minimal, "status: RUNNING", "status: RUNNING # still going")},
		{"no final newline", strings.TrimSuffix(minimal, "\n")},
		{"two final newlines", minimal + "\n"},
		{"CRLF line ends", strings.ReplaceAll(minimal, "\n", "\r\n")},
		{"trailing space", replace(minimal, "status: RUNNING", "status: RUNNING ")},
		{"literal block kept", replace(run, "  prompt: |\n", "  prompt: |+\n")},
		{"bool spelled yes", replace(run, "dirty: true", "dirty: yes")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := Validate([]byte(tc.in)); err != nil {
				t.Fatalf("Validate: %v\n%s", err, tc.in)
			}
			ok, err := Canonical([]byte(tc.in))
			if err != nil || ok {
				t.Errorf("Canonical = %v, %v; want false, nil\n%s", ok, err, tc.in)
			}
		})
	}
}

// lineDiff shows the first differing line of two texts.
func lineDiff(want, got []byte) string {
	wl := strings.Split(string(want), "\n")
	gl := strings.Split(string(got), "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n  want: %q\n  got:  %q", i+1, w, g)
		}
	}
	return "(identical lines; lengths differ)"
}

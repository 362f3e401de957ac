package manifest

import (
	"errors"
	"strings"
	"testing"
)

// edit returns s with the first old replaced by new, failing if old is
// missing so that a golden change cannot silently void a test.
func edit(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("no %q in document:\n%s", old, s)
	}
	return strings.Replace(s, old, new, 1)
}

type decodeFunc func([]byte) error

var (
	decConfig          decodeFunc = func(b []byte) error { _, err := DecodeConfig(b); return err }
	decExperiment      decodeFunc = func(b []byte) error { _, err := DecodeExperiment(b); return err }
	decRun             decodeFunc = func(b []byte) error { _, err := DecodeRun(b); return err }
	decRegisteredModel decodeFunc = func(b []byte) error { _, err := DecodeRegisteredModel(b); return err }
	decModelVersion    decodeFunc = func(b []byte) error { _, err := DecodeModelVersion(b); return err }
	decLoggedModel     decodeFunc = func(b []byte) error { _, err := DecodeLoggedModel(b); return err }
)

type strictCase struct {
	name   string
	in     string
	decode decodeFunc
	want   error    // ErrSyntax or ErrInvalid
	say    []string // substrings the message must contain, the field first
}

func runStrict(t *testing.T, cases []strictCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.decode([]byte(tc.in))
			if err == nil {
				t.Fatalf("decoded without error:\n%s", tc.in)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("error %q is not %v", err, tc.want)
			}
			other := ErrInvalid
			if tc.want == ErrInvalid {
				other = ErrSyntax
			}
			if errors.Is(err, other) {
				t.Errorf("error %q is also %v", err, other)
			}
			for _, s := range tc.say {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			// Validate, which dispatches on kind, agrees when the kind is right.
			if k, perr := PeekKind([]byte(tc.in)); perr == nil && k != "" && !strings.Contains(tc.name, "wrong kind") {
				if verr := Validate([]byte(tc.in)); !errors.Is(verr, tc.want) {
					t.Errorf("Validate = %v, want %v", verr, tc.want)
				}
				if ok, cerr := Canonical([]byte(tc.in)); ok || !errors.Is(cerr, tc.want) {
					t.Errorf("Canonical = %v, %v; want false, %v", ok, cerr, tc.want)
				}
			}
		})
	}
}

func TestStrictSyntax(t *testing.T) {
	run := string(readGolden(t, "run.yaml"))
	minRun := string(readGolden(t, "run-minimal.yaml"))
	cfg := string(readGolden(t, "config.yaml"))
	model := string(readGolden(t, "registeredmodel.yaml"))
	version := string(readGolden(t, "modelversion-minimal.yaml"))
	exp := string(readGolden(t, "experiment.yaml"))
	S := ErrSyntax
	runStrict(t, []strictCase{
		{"unknown top-level field", minRun + "startedBy: ada\n", decRun, S, []string{"startedBy", "line 8"}},
		{"unknown field in source", edit(t, run, "  branch: feature/xgb\n", "  branch: feature/xgb\n  tag: v1\n"), decRun, S, []string{"source.tag", "field tag not found"}},
		{"unknown field in an artifact", edit(t, run, "    size: 87\n", "    size: 87\n    executable: true\n"), decRun, S, []string{"artifacts[3].executable"}},
		{"unknown field in a metric", edit(t, run, "    count: 10\n", "    count: 10\n    mean: 0.7\n"), decRun, S, []string{"metrics.val/auc.mean"}},
		{"unknown field in a dataset", edit(t, run, "    digest: e5f6a7b8\n", "    digest: e5f6a7b8\n    rows: 10\n"), decRun, S, []string{"inputs[1].rows"}},
		{"unknown field in blobs", edit(t, cfg, "  remote: s3://ml-artifacts/churn\n", "  remote: s3://ml-artifacts/churn\n  region: eu\n"), decConfig, S, []string{"blobs.region"}},
		{"unknown field in a policy", edit(t, cfg, "    review: true\n", "    review: true\n    approvers: 2\n"), decConfig, S, []string{"promotion.production.approvers"}},
		{"misspelled field", edit(t, exp, "lifecycleStage:", "lifecycle_stage:"), decExperiment, S, []string{"lifecycle_stage"}},
		{"duplicate top-level key", minRun + "status: FINISHED\n", decRun, S, []string{"status", "already defined"}},
		{"duplicate map key", edit(t, run, "  lr: \"0.1\"\n", "  lr: \"0.1\"\n  lr: \"0.2\"\n"), decRun, S, []string{"params.lr", "already defined"}},
		{"duplicate alias", edit(t, model, "  champion: 4\n", "  champion: 4\n  champion: 5\n"), decRegisteredModel, S, []string{"aliases.champion"}},
		{"wrong apiVersion", edit(t, minRun, "mlgit/v1", "mlgit/v2"), decRun, S, []string{"apiVersion", `"mlgit/v2"`}},
		{"missing apiVersion", strings.TrimPrefix(minRun, "apiVersion: mlgit/v1\n"), decRun, S, []string{"apiVersion", `""`}},
		{"wrong kind: Run as Experiment", minRun, decExperiment, S, []string{"kind", `"Run"`, `"Experiment"`}},
		{"wrong kind: lower case", edit(t, minRun, "kind: Run", "kind: run"), decRun, S, []string{"kind", `"run"`}},
		{"wrong kind: missing", edit(t, minRun, "kind: Run\n", ""), decRun, S, []string{"kind"}},
		{"two documents", minRun + "---\n" + minRun, decRun, S, []string{"more than one YAML document"}},
		{"trailing document marker", minRun + "---\n", decRun, S, []string{"more than one YAML document"}},
		{"empty input", "", decRun, S, []string{"empty document"}},
		{"only whitespace", "\n \n", decRun, S, []string{"empty document"}},
		{"only a comment", "# nothing\n", decRun, S, []string{"empty document"}},
		{"not a mapping", "- apiVersion: mlgit/v1\n", decRun, S, []string{"cannot unmarshal !!seq"}},
		{"bad YAML", minRun + "params: {lr: [\n", decRun, S, []string{"yaml:"}},
		{"tab indentation", minRun + "params:\n\tlr: x\n", decRun, S, []string{"yaml:"}},
		{"string for integer", edit(t, minRun, "startTime: 1718000000000", "startTime: yesterday"), decRun, S, []string{"startTime", "into int64"}},
		{"integer overflow", edit(t, minRun, "startTime: 1718000000000", "startTime: 9223372036854775808"), decRun, S, []string{"startTime"}},
		{"list for string", edit(t, minRun, `experimentId: "0"`, "experimentId: [0]"), decRun, S, []string{"experimentId", "!!seq"}},
		{"list for map", minRun + "params: [lr]\n", decRun, S, []string{"params", "!!seq"}},
		{"map for list", edit(t, run, "  command:\n", "  command: {a: b}\n  x:\n"), decRun, S, []string{"source.command"}},
		{"string for bool", edit(t, run, "dirty: true", "dirty: maybe"), decRun, S, []string{"source.dirty", "into bool"}},
		{"string for float", edit(t, run, "max: 2.5", "max: high"), decRun, S, []string{"metrics.loss.max", "into float64"}},
		{"string for metric count", edit(t, run, "count: 100\n", "count: many\n"), decRun, S, []string{"count", "into int64"}},
		{"string for size", edit(t, run, "size: 412", "size: 412B"), decRun, S, []string{"artifacts[0].size"}},
		{"string for alias version", edit(t, model, "champion: 4", "champion: four"), decRegisteredModel, S, []string{"aliases.champion"}},
		{"string for version", edit(t, version, "version: 1", "version: one"), decModelVersion, S, []string{"version", "into int64"}},
		{"string for exit code", edit(t, run, "exit: 0", "exit: ok"), decRun, S, []string{"source.exit", "into int"}},
		{"string for dataset", edit(t, run, "inputs:\n  - name: churn-2024-06\n", "inputs:\n  - churn\n  - name: churn-2024-06\n"), decRun, S, []string{"inputs[0]", "manifest.Dataset"}},
	})
}

func TestStrictInvalid(t *testing.T) {
	run := string(readGolden(t, "run.yaml"))
	minRun := string(readGolden(t, "run-minimal.yaml"))
	cfg := string(readGolden(t, "config.yaml"))
	exp := string(readGolden(t, "experiment.yaml"))
	model := string(readGolden(t, "registeredmodel.yaml"))
	version := string(readGolden(t, "modelversion.yaml"))
	logged := string(readGolden(t, "loggedmodel.yaml"))
	I := ErrInvalid
	long := func(n int) string { return strings.Repeat("x", n) }
	runStrict(t, []strictCase{
		// Run
		{"run id upper case", edit(t, minRun, "id: 9b1d0c2e3f4a5b6c7d8e9f0a1b2c3d4e", "id: 9B1D0C2E3F4A5B6C7D8E9F0A1B2C3D4E"), decRun, I, []string{"run id", "9B1D0C2E"}},
		{"run id short", edit(t, minRun, "id: 9b1d0c2e3f4a5b6c7d8e9f0a1b2c3d4e", "id: 9b1d0c2e"), decRun, I, []string{"run id"}},
		{"run id uuid with dashes", edit(t, minRun, "id: 9b1d0c2e3f4a5b6c7d8e9f0a1b2c3d4e", "id: 9b1d0c2e-3f4a-5b6c-7d8e-9f0a1b2c3d4e"), decRun, I, []string{"run id"}},
		{"run id missing", edit(t, minRun, "id: 9b1d0c2e3f4a5b6c7d8e9f0a1b2c3d4e\n", ""), decRun, I, []string{"run id", `""`}},
		{"experiment id not decimal", edit(t, minRun, `experimentId: "0"`, "experimentId: abc"), decRun, I, []string{"experiment id", `"abc"`}},
		{"experiment id negative", edit(t, minRun, `experimentId: "0"`, `experimentId: "-1"`), decRun, I, []string{"experiment id"}},
		{"experiment id too long", edit(t, minRun, `experimentId: "0"`, `experimentId: "12345678901234567890"`), decRun, I, []string{"experiment id"}},
		{"experiment id missing", edit(t, minRun, "experimentId: \"0\"\n", ""), decRun, I, []string{"experiment id"}},
		{"status unknown", edit(t, minRun, "status: RUNNING", "status: DONE"), decRun, I, []string{"status", `"DONE"`}},
		{"status lower case", edit(t, minRun, "status: RUNNING", "status: running"), decRun, I, []string{"status"}},
		{"status missing", edit(t, minRun, "status: RUNNING\n", ""), decRun, I, []string{"status"}},
		{"lifecycle unknown", edit(t, minRun, "lifecycleStage: active", "lifecycleStage: archived"), decRun, I, []string{"lifecycleStage", `"archived"`}},
		{"lifecycle missing", edit(t, minRun, "lifecycleStage: active\n", ""), decRun, I, []string{"lifecycleStage"}},
		{"source commit short", edit(t, run, "commit: 1f0e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6", "commit: 1f0e2d3"), decRun, I, []string{"source commit", "1f0e2d3"}},
		{"param key invalid", edit(t, run, "  lr: \"0.1\"", "  lr!: \"0.1\""), decRun, I, []string{"param key", "lr!"}},
		{"param key not normalized", edit(t, run, "  data/path:", "  data//path:"), decRun, I, []string{"param key", "data//path"}},
		{"param value too long", edit(t, run, "  empty: \"\"", "  empty: "+long(MaxParamValue+1)), decRun, I, []string{"param \"empty\"", "6001", "6000"}},
		{"tag key invalid", edit(t, run, "  mlflow.user: ada", "  mlflow.user/: ada"), decRun, I, []string{"tag key", "mlflow.user/"}},
		{"tag value too long", edit(t, run, "  mlflow.user: ada", "  mlflow.user: "+long(MaxTagValue+1)), decRun, I, []string{"tag \"mlflow.user\"", "8001", "8000"}},
		{"metric key invalid", edit(t, run, "  loss:\n", "  ../loss:\n"), decRun, I, []string{"metric key", "../loss"}},
		{"metric count zero", edit(t, run, "    count: 10\n", "    count: 0\n"), decRun, I, []string{"metric \"val/auc\"", "count"}},
		{"negative metricSegments", edit(t, run, "metricSegments: 3", "metricSegments: -1"), decRun, I, []string{"metricSegments"}},
		{"dataset without digest", edit(t, run, "    digest: e5f6a7b8\n", ""), decRun, I, []string{"dataset input", "digest"}},
		{"dataset without name", edit(t, run, "  - name: churn-holdout\n    digest", "  - digest"), decRun, I, []string{"dataset input", "name"}},
		{"artifacts unsorted", edit(t, run, "  - path: scripts/serve.sh", "  - path: a/serve.sh"), decRun, I, []string{"sorted by path", `"a/serve.sh"`}},
		{"artifacts duplicate", edit(t, run, "  - path: model/requirements.txt", "  - path: model/model.xgb"), decRun, I, []string{"sorted by path", "model/model.xgb"}},
		{"artifact digest upper case", edit(t, run, "digest: sha256:486ea462", "digest: sha256:486EA462"), decRun, I, []string{"artifact \"model/model.xgb\"", "digest"}},
		{"artifact digest md5", edit(t, run, "digest: sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "digest: md5:d41d8cd98f00b204e9800998ecf8427e"), decRun, I, []string{"artifact \"model/requirements.txt\"", "digest", "md5:"}},
		{"artifact digest missing", edit(t, run, "    digest: sha256:486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7\n    size: 1048576", "    size: 1048576"), decRun, I, []string{"digest"}},
		{"artifact mode three digits", edit(t, run, "mode: \"0755\"", "mode: \"755\""), decRun, I, []string{"artifact \"scripts/serve.sh\"", "mode", `"755"`}},
		{"artifact mode not octal", edit(t, run, "mode: \"0755\"", "mode: \"0789\""), decRun, I, []string{"mode", `"0789"`}},
		{"artifact mode as YAML int", edit(t, run, "mode: \"0755\"", "mode: 0o755"), decRun, I, []string{"mode", `"0o755"`}},
		{"artifact negative size", edit(t, run, "size: 87", "size: -87"), decRun, I, []string{"artifact \"scripts/serve.sh\"", "negative size"}},
		{"artifact path escapes", edit(t, run, "path: scripts/serve.sh", "path: ../serve.sh"), decRun, I, []string{"artifact path", "../serve.sh"}},
		{"artifact path absolute", edit(t, run, "path: MLmodel", "path: /MLmodel"), decRun, I, []string{"artifact path", "/MLmodel"}},
		// Experiment
		{"experiment id", edit(t, exp, `id: "4821937465019283746"`, "id: exp-1"), decExperiment, I, []string{"experiment id", "exp-1"}},
		{"experiment name empty", edit(t, exp, "name: churn/xgboost", `name: " "`), decExperiment, I, []string{"experiment name"}},
		{"experiment name control", edit(t, exp, "name: churn/xgboost", `name: "a\tb"`), decExperiment, I, []string{"experiment name"}},
		{"experiment lifecycle", edit(t, exp, "lifecycleStage: active", "lifecycleStage: Active"), decExperiment, I, []string{"lifecycleStage", `"Active"`}},
		{"experiment tag key", edit(t, exp, "  team: growth", "  team=x: growth"), decExperiment, I, []string{"experiment tag key", "team=x"}},
		{"experiment tag value", edit(t, exp, "  team: growth", "  team: "+long(MaxExperimentTagValue+1)), decExperiment, I, []string{"experiment tag \"team\"", "5001", "5000"}},
		// RegisteredModel
		{"model name empty", edit(t, model, "name: churn", `name: ""`), decRegisteredModel, I, []string{"model name"}},
		{"model name newline", edit(t, model, "name: churn", `name: "churn\n"`), decRegisteredModel, I, []string{"model name"}},
		{"alias latest", edit(t, model, "  champion: 4", "  latest: 4"), decRegisteredModel, I, []string{"alias \"latest\"", "reserved"}},
		{"alias version-like", edit(t, model, "  champion: 4", "  V4: 4"), decRegisteredModel, I, []string{"alias \"V4\"", "reserved"}},
		{"alias with dot", edit(t, model, "  champion: 4", "  champ.ion: 4"), decRegisteredModel, I, []string{"alias \"champ.ion\""}},
		{"alias beyond latest version", edit(t, model, "  champion: 4", "  champion: 6"), decRegisteredModel, I, []string{"alias \"champion\"", "version 6"}},
		{"alias version zero", edit(t, model, "  champion: 4", "  champion: 0"), decRegisteredModel, I, []string{"alias \"champion\"", "version 0"}},
		{"model tag key", edit(t, model, "  pii: \"false\"", "  pii?: \"false\""), decRegisteredModel, I, []string{"model tag key", "pii?"}},
		{"model tag value", edit(t, model, "  pii: \"false\"", "  pii: "+long(MaxRegistryTagValue+1)), decRegisteredModel, I, []string{"model tag \"pii\"", "5001"}},
		{"negative latestVersion", edit(t, string(readGolden(t, "registeredmodel-minimal.yaml")), "latestVersion: 0", "latestVersion: -1"), decRegisteredModel, I, []string{"latestVersion"}},
		// ModelVersion
		{"version zero", edit(t, version, "version: 5", "version: 0"), decModelVersion, I, []string{"version 0"}},
		{"version stage empty", edit(t, version, "stage: Staging\n", ""), decModelVersion, I, []string{"stage"}},
		{"version run id", edit(t, version, "runId: 3f2a9c1e5b7d4f60a1b2c3d4e5f60718", "runId: 3f2a"), decModelVersion, I, []string{"run id", `"3f2a"`}},
		{"version model name", edit(t, version, "name: churn", `name: "\u0007"`), decModelVersion, I, []string{"model name"}},
		{"version tag key", edit(t, version, "  validated:", "  /validated:"), decModelVersion, I, []string{"model version tag key"}},
		{"version artifacts unsorted", edit(t, version, "  - path: model.xgb", "  - path: A.xgb"), decModelVersion, I, []string{"sorted by path"}},
		// LoggedModel
		{"logged model id", edit(t, logged, "id: m-7c3e1a9b5d2f4e6081a2b3c4d5e6f708", "id: 7c3e1a9b5d2f4e6081a2b3c4d5e6f708"), decLoggedModel, I, []string{"logged model id"}},
		{"logged model experiment id", edit(t, logged, `experimentId: "4821937465019283746"`, "experimentId: x"), decLoggedModel, I, []string{"experiment id"}},
		{"logged model source run id", edit(t, logged, "sourceRunId: 3f2a9c1e5b7d4f60a1b2c3d4e5f60718", "sourceRunId: nope"), decLoggedModel, I, []string{"source run id"}},
		{"logged model lifecycle", edit(t, logged, "lifecycleStage: active", "lifecycleStage: gone"), decLoggedModel, I, []string{"lifecycleStage", `"gone"`}},
		{"logged model param key", edit(t, logged, "  max_depth:", "  max depth!:"), decLoggedModel, I, []string{"param key"}},
		{"logged model metric key", edit(t, logged, "  val/auc:\n", "  val/auc/:\n"), decLoggedModel, I, []string{"metric key"}},
		{"logged model metric count", edit(t, logged, "    count: 10", "    count: 0"), decLoggedModel, I, []string{"count"}},
		{"logged model tag key", edit(t, logged, "  mlflow.source.run_id:", "  'a\\b':"), decLoggedModel, I, []string{"tag key"}},
		{"logged model artifact mode", edit(t, logged, "mode: \"0644\"", "mode: \"0644 \""), decLoggedModel, I, []string{"mode"}},
		// Config
		{"stage starts with digit", edit(t, cfg, "  - Canary", "  - 1st"), decConfig, I, []string{"stage \"1st\""}},
		{"stage with space", edit(t, cfg, "  - Canary", "  - Blue Green"), decConfig, I, []string{"stage \"Blue Green\""}},
		{"stage declared twice", edit(t, cfg, "  - Shadow", "  - Canary"), decConfig, I, []string{"stage \"Canary\"", "twice"}},
		{"promotion stage not lower case", edit(t, cfg, "  production:", "  Production:"), decConfig, I, []string{"promotion", "\"Production\"", "lower case"}},
		{"promotion stage invalid", edit(t, cfg, "  staging:", "  stag ing:"), decConfig, I, []string{"promotion", "stage \"stag ing\""}},
		{"promotion from invalid", edit(t, cfg, "      - Canary", "      - \"\""), decConfig, I, []string{"promotion production", "from", "stage name is empty"}},
	})
}

// TestValidateHeader checks that Validate on a value built in Go insists on
// the header, since Encode writes whatever the value holds.
func TestValidateHeader(t *testing.T) {
	bad := []struct {
		name string
		v    interface{ Validate() error }
	}{
		{"config without header", &Config{}},
		{"experiment with run kind", func() *Experiment { e := goldenExperiment(); e.Kind = KindRun; return e }()},
		{"run with old version", func() *Run { r := goldenRun(); r.APIVersion = "mlgit/v0"; return r }()},
		{"model without kind", func() *RegisteredModel { m := goldenRegisteredModel(); m.Kind = ""; return m }()},
		{"version with model kind", func() *ModelVersion { v := goldenModelVersion(); v.Kind = KindRegisteredModel; return v }()},
		{"logged model without header", func() *LoggedModel { m := goldenLoggedModel(); m.Header = Header{}; return m }()},
	}
	for _, tc := range bad {
		if err := tc.v.Validate(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "header") {
			t.Errorf("%s: Validate = %v, want ErrInvalid naming the header", tc.name, err)
		}
	}
	for _, v := range []interface{ Validate() error }{goldenConfig(), NewConfig(), goldenExperiment(), goldenRun(), goldenRegisteredModel(), goldenModelVersion(), goldenLoggedModel()} {
		if err := v.Validate(); err != nil {
			t.Errorf("%T.Validate() = %v", v, err)
		}
	}
}

func TestPeekKindAndDispatch(t *testing.T) {
	for _, tc := range goldenCases() {
		data := readGolden(t, tc.file)
		kind, err := PeekKind(data)
		if err != nil {
			t.Fatalf("PeekKind(%s): %v", tc.file, err)
		}
		if !strings.EqualFold(kind+".yaml", strings.Replace(tc.file, "-minimal", "", 1)) {
			t.Errorf("PeekKind(%s) = %q", tc.file, kind)
		}
	}
	for _, in := range []string{"apiVersion: mlgit/v1\nkind: Pipeline\n", "apiVersion: mlgit/v1\n"} {
		if err := Validate([]byte(in)); !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), "unknown kind") {
			t.Errorf("Validate(%q) = %v, want ErrSyntax unknown kind", in, err)
		}
		if ok, err := Canonical([]byte(in)); ok || !errors.Is(err, ErrSyntax) {
			t.Errorf("Canonical(%q) = %v, %v, want false, ErrSyntax", in, ok, err)
		}
	}
	for _, in := range []string{"apiVersion: v1\nkind: Run\n", "kind: Run\n", "a: [\n"} {
		if _, err := PeekKind([]byte(in)); !errors.Is(err, ErrSyntax) {
			t.Errorf("PeekKind(%q) = %v, want ErrSyntax", in, err)
		}
	}
}

package mlflowimport

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The stores in testdata/mlflow were written by the real MLflow client
// (2.17.2 and 3.9.0rc0) under /srv/mlflowN/mlruns and copied: what they
// hold is listed in testdata/mlflow/README.md.
var fixtures = []struct {
	dir     string
	version int
}{
	{"../testdata/mlflow/mlflow-2.17.2-mlruns", 2},
	{"../testdata/mlflow/mlflow-3.9.0rc0-mlruns", 3},
}

func byName(s *Store, name string) *Experiment {
	for _, e := range s.Experiments {
		if e.Name == name {
			return e
		}
	}
	return nil
}

func runNamed(e *Experiment, name string) *Run {
	for _, r := range e.Runs {
		if r.Name == name {
			return r
		}
	}
	return nil
}

func TestReadFileStore(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(filepath.Base(fx.dir), func(t *testing.T) {
			s, err := ReadFileStore(fx.dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Skipped) > 0 {
				t.Errorf("skipped: %+v", s.Skipped)
			}
			// Experiments: Default (0), churn (tag team=growth),
			// vision/resnet, archived-exp (deleted, under .trash).
			if len(s.Experiments) != 4 {
				t.Fatalf("%d experiments", len(s.Experiments))
			}
			def, churn, vision, archived := byName(s, "Default"), byName(s, "churn"), byName(s, "vision/resnet"), byName(s, "archived-exp")
			if def == nil || def.ID != "0" || churn == nil || vision == nil || archived == nil {
				t.Fatalf("experiments: %+v", s.Experiments)
			}
			if churn.Tags["team"] != "growth" || churn.Lifecycle != "active" || archived.Lifecycle != "deleted" {
				t.Errorf("churn %+v, archived %+v", churn, archived)
			}
			// churn: three lr-* runs, each with a nested child, crashed,
			// to-delete: 8 runs.
			if len(churn.Runs) != 8 {
				t.Errorf("churn has %d runs", len(churn.Runs))
			}
			lr := runNamed(churn, "lr-1.0")
			if lr == nil {
				t.Fatal("no run lr-1.0")
			}
			if lr.Status != "FINISHED" || lr.Lifecycle != "active" || lr.User != "root" || lr.Start == 0 || lr.End < lr.Start {
				t.Errorf("lr-1.0: %+v", lr)
			}
			if lr.Params["lr"] != "1.0" || lr.Params["penalty"] == "" || lr.Params["max_iter"] == "" {
				t.Errorf("params %v", lr.Params)
			}
			if lr.Tags["stage"] != "sweep" || lr.Tags["unicode"] != "grüße ✓" || lr.Tags["mlflow.runName"] != "lr-1.0" {
				t.Errorf("tags %v", lr.Tags)
			}
			if strings.Join(lr.MetricKeys, ",") != "acc,loss,nan_metric" {
				t.Errorf("metric keys %v", lr.MetricKeys)
			}
			m, err := s.Metrics(lr.MetricsDir(), lr.MetricKeys)
			if err != nil {
				t.Fatal(err)
			}
			// MLflow 3's client logs a run's metrics again when it links
			// a logged model: one more point each, kept as written.
			extra := fx.version - 2
			if len(m["loss"]) != 50+extra || m["loss"][0].Step != 0 || m["loss"][49].Step != 49 || m["loss"][0].Timestamp == 0 {
				t.Errorf("loss: %d points", len(m["loss"]))
			}
			if len(m["nan_metric"]) != 1+extra || !math.IsNaN(m["nan_metric"][0].Value) {
				t.Errorf("nan_metric %v", m["nan_metric"])
			}
			// Artifacts: the recorded /srv/... path does not exist here;
			// they are found in the store.
			if !strings.HasPrefix(lr.ArtifactURI, "file:///srv/mlflow") {
				t.Errorf("artifact uri %q", lr.ArtifactURI)
			}
			if _, err := os.Stat(filepath.Join(lr.ArtifactDir, "outputs", "report.txt")); err != nil {
				t.Errorf("artifacts of lr-1.0 at %q: %v", lr.ArtifactDir, err)
			}
			if fx.version == 2 {
				if _, err := os.Stat(filepath.Join(lr.ArtifactDir, "model", "MLmodel")); err != nil {
					t.Errorf("model of lr-1.0: %v", err)
				}
			}
			// Nested runs name their parent; crashed FAILED; to-delete
			// deleted.
			children := 0
			for _, r := range churn.Runs {
				if p := r.ParentRunID(); p != "" {
					children++
					if runByID(churn, p) == nil {
						t.Errorf("run %s: parent %s not in churn", r.Name, p)
					}
				}
			}
			if children != 3 {
				t.Errorf("%d child runs", children)
			}
			if r := runNamed(churn, "crashed"); r == nil || r.Status != "FAILED" {
				t.Errorf("crashed: %+v", r)
			}
			if r := runNamed(churn, "to-delete"); r == nil || r.Lifecycle != "deleted" {
				t.Errorf("to-delete: %+v", r)
			}
			if len(vision.Runs) != 1 || len(vision.Runs[0].Params) != 1 || len(vision.Runs[0].MetricKeys) != 1 {
				t.Errorf("vision/resnet runs: %+v", vision.Runs)
			} else if _, err := os.Stat(filepath.Join(vision.Runs[0].ArtifactDir, "notes", "notes.txt")); err != nil {
				t.Errorf("notes: %v", err)
			}
			// MLflow 3 logged models: one per lr run, linked to it.
			if fx.version == 3 {
				if len(churn.LoggedModels) != 3 {
					t.Fatalf("%d logged models", len(churn.LoggedModels))
				}
				for _, lm := range churn.LoggedModels {
					if runByID(churn, lm.SourceRunID) == nil || lm.Status != "LOGGED_MODEL_READY" || lm.Params["lr"] == "" {
						t.Errorf("logged model %+v", lm)
					}
					if _, err := os.Stat(filepath.Join(lm.ArtifactDir, "MLmodel")); err != nil {
						t.Errorf("logged model %s artifacts: %v", lm.ID, err)
					}
				}
				if len(lr.OutputModels) != 1 || !strings.HasPrefix(lr.OutputModels[0], "m-") {
					t.Errorf("lr-1.0 outputs %v", lr.OutputModels)
				}
			}
			// Registry: churn-model (description, owner=growth), versions
			// 1-3 from the lr runs; v1 Staging, v2 Archived, v3
			// Production; champion → 3, previous → 2; empty-model.
			if len(s.Models) != 2 || s.Models[0].Name != "churn-model" || s.Models[1].Name != "empty-model" || len(s.Models[1].Versions) != 0 {
				t.Fatalf("models %+v", s.Models)
			}
			cm := s.Models[0]
			if cm.Description != "Churn classifier" || cm.Tags["owner"] != "growth" || cm.Aliases["champion"] != 3 || cm.Aliases["previous"] != 2 || len(cm.Aliases) != 2 {
				t.Errorf("churn-model %+v", cm)
			}
			stages := []string{}
			for _, v := range cm.Versions {
				stages = append(stages, v.Stage)
				if v.Description == "" || v.Tags["validated"] == "" || v.Status != "READY" || runByID(churn, v.RunID) == nil {
					t.Errorf("version %+v", v)
				}
				if fx.version == 2 && !strings.HasPrefix(v.Source, "runs:/"+v.RunID+"/") {
					t.Errorf("v%d source %q", v.Version, v.Source)
				}
				if fx.version == 3 && !strings.HasPrefix(v.Source, "models:/m-") {
					t.Errorf("v%d source %q", v.Version, v.Source)
				}
			}
			if strings.Join(stages, ",") != "Staging,Archived,Production" {
				t.Errorf("stages %v", stages)
			}
		})
	}
}

func runByID(e *Experiment, id string) *Run {
	for _, r := range e.Runs {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// TestReadFileStoreBadInput: a folder that is not a store is an error; a
// corrupted meta.yaml skips its item, named, and the rest is read.
func TestReadFileStoreBadInput(t *testing.T) {
	if _, err := ReadFileStore(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not an MLflow file store") {
		t.Errorf("empty folder: %v", err)
	}
	if _, err := ReadFileStore(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Error("missing folder: no error")
	}
	dir := t.TempDir()
	copyTree(t, fixtures[0].dir, dir)
	s0, _ := ReadFileStore(dir)
	victim := runNamed(byName(s0, "churn"), "crashed")
	meta := filepath.Join(dir, victim.ExperimentID, victim.ID, "meta.yaml")
	if err := os.WriteFile(meta, []byte("run_id: [unclosed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := ReadFileStore("file://" + dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Skipped) != 1 || !strings.Contains(s.Skipped[0].Item, victim.ID) || !strings.Contains(s.Skipped[0].Reason, "does not decode") {
		t.Errorf("skipped %+v", s.Skipped)
	}
	if n := len(byName(s, "churn").Runs); n != 7 {
		t.Errorf("%d runs read, want the 7 others", n)
	}
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// FuzzMetricFile: any metric file reads without panicking; what it returns
// has one point per non-blank line.
func FuzzMetricFile(f *testing.F) {
	f.Add([]byte("1796546158065 0.52 0\n1796546158065 nan 1 b7a03b7dfd9e4ce2a570bfbc0ae0d902\n"))
	f.Add([]byte("1 -inf\n\n2 1e308 9223372036854775807\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "m")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		pts, err := readMetricFile(p)
		if err != nil {
			return
		}
		lines := 0
		for _, l := range strings.Split(string(data), "\n") {
			if strings.TrimSpace(l) != "" {
				lines++
			}
		}
		if len(pts) != lines {
			t.Fatalf("%d points from %d lines", len(pts), lines)
		}
	})
}
